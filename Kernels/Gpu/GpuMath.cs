using ILGPU.Algorithms;

namespace InfoVae.Kernels.Gpu;

/// <summary>
/// Scalar float helpers shared by the kernels. Only XMath and plain arithmetic: BCL vector types and
/// Vector128-based BCL code do not compile inside ILGPU kernels (ILGPU #1537).
/// </summary>
public static class GpuMath
{
    public static float Sigmoid(float x) => 1f / (1f + XMath.Exp(-x));

    /// <summary>
    /// log(1 + e) for e > −1 without losing a small e (XMath has no Log1p). In PTX, XMath.Log is lg2.approx.f32,
    /// whose absolute error (~1e-7) would swamp log(1 + e) ≈ e, so |e| below 1/32 takes the series (6 terms: the
    /// remainder is below 1e-10 relative). Above it, u = 1 + e rounds and log(u)·e/(u − 1) cancels that rounding
    /// (Goldberg, "What every computer scientist should know about floating-point arithmetic", theorem 4).
    /// </summary>
    public static float Log1p(float e)
    {
        if (XMath.Abs(e) < 0.03125f)
            return e * (1f - e * (0.5f - e * (1f / 3f - e * (0.25f - e * (0.2f - e * (1f / 6f))))));
        float u = 1f + e;
        return XMath.Log(u) * e / (u - 1f);
    }

    /// <summary>softplus(x) = max(x, 0) + log1p(exp(−|x|)): never exponentiates a positive number.</summary>
    public static float Softplus(float x) => XMath.Max(x, 0f) + Log1p(XMath.Exp(-XMath.Abs(x)));

    public static int CeilDiv(int a, int b) => (a + b - 1) / b;
}
