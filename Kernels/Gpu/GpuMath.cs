using ILGPU.Algorithms;

namespace InfoVae.Kernels.Gpu;

/// <summary>
/// Scalar float helpers shared by the kernels, and the one statement of the kernels' math mode. Only XMath and plain
/// arithmetic: BCL vector types and Vector128-based BCL code do not compile inside ILGPU kernels (ILGPU #1537).
///
/// Math mode: ILGPU's default (the context is built without MathMode.Fast), so on a GPU (PTX, checked instruction by
/// instruction in Tests/Kernels/Gpu/PtxCompileTests.cs):
/// - +, −, ×, ÷ and √ are IEEE round-to-nearest (add/sub/mul/div.rn.f32, sqrt.rn.f32), no flush of denormals to
///   zero (no .ftz); ptxas may still fuse a·b + c into one fma, which rounds once instead of twice;
/// - XMath.Exp is ex2.approx.f32(x·log₂e) and XMath.Log is lg2.approx.f32(x)·ln 2 (ILGPU.Algorithms' PTXMath);
///   XMath.Sin and Cos are sin/cos.approx.f32; XMath.Max is max.f32, which returns the other operand for a NaN;
/// - Tanh is <see cref="Tanh"/> below (from Exp), not XMath.Tanh, which is tanh.approx.f32 (relative error 2⁻¹¹).
/// On ILGPU's CPU accelerator the same kernels run XMath's software functions (near-correctly rounded), so the tests
/// there cannot see these errors: <see cref="GpuTolerances"/> states them, for the doctor's comparisons on a GPU.
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

    /// <summary>
    /// tanh(x) from Exp: odd series x − x³/3 + 2x⁵/15 − 17x⁷/315 + 62x⁹/2835 for |x| &lt; 1/8 (remainder below 1e-11
    /// relative), else sign(x)·(1 − 2/(e^{2|x|} + 1)), which loses at most ~8 of the 2⁻²⁴ roundings to cancellation
    /// at |x| = 1/8 and saturates to ±1 without overflow (e^{2|x|} = ∞ gives 2/∞ = 0). NaN stays NaN.
    /// </summary>
    public static float Tanh(float x)
    {
        float a = XMath.Abs(x);
        if (a < 0.125f)
        {
            float x2 = x * x;
            return x * (1f - x2 * (1f / 3f - x2 * (2f / 15f - x2 * (17f / 315f - x2 * (62f / 2835f)))));
        }
        float t = 1f - 2f / (XMath.Exp(2f * a) + 1f);
        return x < 0f ? -t : t;
    }

    public static int CeilDiv(int a, int b) => (a + b - 1) / b;
}

/// <summary>
/// How far a float32 result of the GPU kernels may lie from the correctly rounded value under the math mode that
/// <see cref="GpuMath"/> states, per op: relative error unless the name ends in Abs. The SIMD CPU backend is itself
/// within a few ulp (TensorPrimitives), so a GPU-against-CPU comparison (the doctor) may use these plus
/// <see cref="CpuSide"/>. Bounds from the PTX ISA's figures for the .approx instructions plus the roundings around
/// them; for |x| ≤ 16 where an argument's size matters (the model's logvar, logits and kernel exponents).
/// </summary>
public static class GpuTolerances
{
    /// <summary>2⁻²⁴: half an ulp at 1, the error of one IEEE-rounded float operation.</summary>
    public const double Rounding = 1.0 / (1 << 24);

    /// <summary>What the CPU reference (TensorPrimitives, our SIMD kernels) may add on its side: 8 ulp.</summary>
    public const double CpuSide = 16 * Rounding;

    /// <summary>
    /// +, −, ×, ÷, √: one rounding (an fma fused by ptxas rounds once, so it is closer, not farther).
    /// </summary>
    public const double Arithmetic = Rounding;

    /// <summary>
    /// exp(x) = ex2.approx(x·log₂e): ex2.approx.f32 is within 2 ulp (2⁻²²), and rounding x·log₂e costs |x|·2⁻²⁴
    /// relative more; at |x| ≤ 16 that is 2⁻²² + 2⁻²⁰ ≈ 1.2e-6.
    /// </summary>
    public const double Exp = 1.5e-6;

    /// <summary>
    /// log(x) = lg2.approx(x)·ln 2: lg2.approx.f32 has absolute error 2⁻²²·⁶; with the product's rounding ≤ 1.5e-7
    /// absolute.
    /// </summary>
    public const double LogAbs = 1.5e-7;

    /// <summary>
    /// log1p(e) (<see cref="GpuMath.Log1p"/>): exact series below 1/32; above, lg2.approx's absolute error over
    /// log(1 + e) ≥ 0.0308, so ≤ 1.5e-7 / 0.0308 ≈ 5e-6 relative.
    /// </summary>
    public const double Log1p = 5e-6;

    /// <summary>
    /// softplus and the BCE-with-logits loss (log1p of an exp, plus a linear part): ≤ <see cref="Log1p"/> + <see
    /// cref="Exp"/>.
    /// </summary>
    public const double Softplus = 7e-6;

    /// <summary>σ(x) = 1/(1 + e^{−x}): the exp's error, damped by 1 − σ.</summary>
    public const double Sigmoid = Exp;

    /// <summary>
    /// <see cref="GpuMath.Tanh"/>: the exp's error, amplified up to 8× by the cancellation at |x| = 1/8.
    /// </summary>
    public const double Tanh = 1e-5;

    /// <summary>
    /// sin.approx/cos.approx.f32: absolute error 2⁻²⁰·⁵ on [−100π, 100π] (Box–Muller's angle is in [0, 2π)).
    /// </summary>
    public const double SinCosAbs = 7e-7;

    /// <summary>
    /// Philox normals (Box–Muller, r = √(−2 log u) ≤ 5.8): r·<see cref="SinCosAbs"/> plus log1p's error in r; absolute.
    /// The uniforms are bit-identical to the CPU's.
    /// </summary>
    public const double NormalAbs = 1e-5;

    /// <summary>
    /// Sums of n float terms (GEMM, reductions, MMD², batch-norm statistics): a different order of additions than the
    /// CPU's, so up to (log₂ n + chunk) roundings of Σ|terms|; per term of the longest chain, relative to Σ|terms|.
    /// </summary>
    public const double SumPerChainTerm = Rounding;
}
