using InfoVae.Kernels.Gpu;

namespace InfoVae.Model.Doctor;

/// <summary>
/// How far a device's float32 result may be from the SIMD CPU backend's: element i passes when
/// |got − expected| ≤ atol + Rel·|expected|, with atol = Scale·max_j |expected_j| + Floor (the output's own scale, so
/// that sums and products with cancellation are judged against the size of what they add up). NaN and ±∞ must match
/// exactly. <see cref="Exact"/> asks for the same bits (the CPU backend against a second run of itself).
/// </summary>
public readonly record struct Tolerance(double Rel, double Scale, double Floor = 0)
{
    public static readonly Tolerance Exact = new(0, 0);
}

/// <summary>
/// The doctor's tolerances, per kind of op, in one place. They follow from the kernels' math mode: ILGPU's default
/// <c>MathMode</c>, under which PTX turns XMath.Exp/Log/Tanh/Sin/Cos into the hardware's <c>.approx</c> instructions
/// (ex2/lg2 about 2 ulp plus the argument reduction's |x|·2⁻²⁴, sin/cos 2⁻²¹ absolute on [−π, π]), while adds,
/// multiplies, divisions and square roots stay IEEE round-to-nearest. Sums and products differ from the CPU's only in
/// their order of additions (tiles, tree reductions), which moves a K-term float32 sum by about 2⁻²⁴·√K of its scale;
/// the tolerances below leave a margin of 10-50× over that, and a wrong or lost term (a race, a missing tile) is
/// larger than the scale term by orders of magnitude. Where the GPU kernels state a per-op bound
/// (<see cref="GpuTolerances"/>), the tolerance here is built from it plus the CPU side's few ulp.
/// </summary>
public static class Tolerances
{
    /// <summary>Copies, fills, gathers, transposes, ReLU: nothing is rounded.</summary>
    public static readonly Tolerance Copy = Tolerance.Exact;

    /// <summary>One or two IEEE operations per element (add, multiply, divide, a fused multiply-add): a few ulp.
    /// </summary>
    public static readonly Tolerance Arithmetic = new(GpuTolerances.Arithmetic + GpuTolerances.CpuSide, 1e-7);

    /// <summary>
    /// A moving average x + c·(y − x) (Adam's moments, batch norm's running statistics): it may cancel to far below
    /// its operands, and a fused multiply-add on one side changes the last bits of those, so the scale counts too.
    /// </summary>
    public static readonly Tolerance MovingAverage = new(1e-6, 1e-6);

    /// <summary>exp, log, tanh, sigmoid, softplus and what is built on them (BCE, KL; Adam's update): .approx on PTX,
    /// the worst single one (tanh) twice over for the ops that chain two.</summary>
    public static readonly Tolerance Transcendental = new(2 * GpuTolerances.Tanh, 2e-6);

    /// <summary>Philox normals (Box-Muller: log, sin, cos): the .approx sin/cos error is absolute, scaled by up to
    /// √(−2 ln u) ≈ 5.</summary>
    public static readonly Tolerance RandomDraws = new(2e-5, GpuTolerances.NormalAbs);

    /// <summary>A sum or dot product of <paramref name="terms"/> terms in another order (GEMM K, a column sum's rows).
    /// </summary>
    public static Tolerance Reduction(int terms) => new(1e-5, 4e-6 * Math.Sqrt(Math.Max(terms, 16)));

    /// <summary>The MMD² gradient: two levels of reduction over n² kernel values with exp or division per pair.
    /// </summary>
    public static Tolerance MmdGradient(int n) => new(1e-4, 1e-5 * Math.Sqrt(Math.Max(n, 16)));

    /// <summary>
    /// The MMD² value: a difference of means of kernel values, each a sum over the scales of terms up to 1, so it
    /// cancels (10⁻³ from terms near the number of scales); its error is absolute, a few ulp of the terms.
    /// </summary>
    public static Tolerance MmdValue(int scales) => new(1e-3, 0, 2e-6 * scales);

    /// <summary>
    /// A whole training step's loss terms and gradients: dozens of ops, each within the tolerances above, compounding
    /// through the backward pass (the end-to-end tests on ILGPU's CPU accelerator hold 1e-4).
    /// </summary>
    public static readonly Tolerance TrainingStep = new(1e-3, 2e-4);

    /// <summary>The MMD² term of a step: a small difference of large means (10⁻³ of terms near 1).</summary>
    public static readonly Tolerance StepMmd = new(1e-2, 0, 2e-5);
}
