using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

/// <summary>
/// The check behind the engine's anomaly mode: is any element NaN or ±∞? One thread per element; every thread that
/// finds one writes the same 1 into flag[0], a benign race that needs no atomics. The flag is a float, so that it can
/// be read back with the loss terms in one copy. CPU twin: TensorPrimitives.IsFiniteAll.
/// </summary>
public static class FiniteKernels
{
    /// <summary>flag[0] = 1 when x[i] is NaN or ±∞.</summary>
    public static void FlagNonFiniteKernel(Index1D i, ArrayView<float> x, ArrayView<float> flag)
    {
        float v = x[i];
        if (XMath.IsNaN(v) || XMath.IsInfinity(v)) flag[0] = 1f;
    }
}

public sealed partial class GpuKernels
{
    /// <summary>
    /// Sets flag[0] to 1 if some element of x is not finite, else leaves it as it is (the caller zeroes it first).
    /// </summary>
    public void FlagNonFinite(ArrayView<float> x, ArrayView<float> flag)
    {
        if (x.Length == 0) return;
        Auto<ArrayView<float>, ArrayView<float>>(FiniteKernels.FlagNonFiniteKernel)(Stream, Threads(x), x, flag);
    }
}
