using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

/// <summary>
/// Philox4x32-10 draws with the counter layout of Kernels/Cpu/Philox: element i of a draw is word i % 4 of block
/// (counter + i / 4) under the key. One thread per block of four elements, calling the CPU's own Philox.Block, so
/// uniforms are bit-identical to the CPU's. Normals use the same Box-Muller pairing, (0, 1) and (2, 3), computed in
/// float here (the CPU computes them in double), so they agree to float rounding.
/// </summary>
public static class PhiloxKernels
{
    const float Unit = 1f / (1 << 24);

    static (uint, uint, uint, uint) Block(ulong key, ulong counter) =>
        Cpu.Philox.Block((uint)counter, (uint)(counter >> 32), 0, 0, (uint)key, (uint)(key >> 32));

    /// <summary>24 random bits to [0, 1): exact in float, so the same value as the CPU's double version.</summary>
    static float ToUnit(uint u) => (int)(u >> 8) * Unit;   // via int: a uint converts through float64 in PTX

    public static void UniformKernel(Index1D blk, ArrayView<float> y, ulong key, ulong counter)
    {
        var (a, b, c, d) = Block(key, counter + (ulong)(long)blk.X);
        int i = blk * 4, n = y.IntLength;
        y[i] = ToUnit(a);
        if (i + 1 < n) y[i + 1] = ToUnit(b);
        if (i + 2 < n) y[i + 2] = ToUnit(c);
        if (i + 3 < n) y[i + 3] = ToUnit(d);
    }

    public static void NormalKernel(Index1D blk, ArrayView<float> y, ulong key, ulong counter)
    {
        var (a, b, c, d) = Block(key, counter + (ulong)(long)blk.X);
        int i = blk * 4, n = y.IntLength;
        BoxMuller(a, b, out float z0, out float z1);
        BoxMuller(c, d, out float z2, out float z3);
        y[i] = z0;
        if (i + 1 < n) y[i + 1] = z1;
        if (i + 2 < n) y[i + 2] = z2;
        if (i + 3 < n) y[i + 3] = z3;
    }

    static void BoxMuller(uint a, uint b, out float z0, out float z1)
    {
        // u1 in (0, 1]: log never sees 0. u1 − 1 is exact (a multiple of 2⁻²⁴), and Log1p keeps log(u1) accurate
        // near u1 = 1, where XMath.Log in PTX (lg2.approx) would not.
        float u1 = ToUnit(a) + Unit;
        float r = XMath.Sqrt(-2f * GpuMath.Log1p(u1 - 1f)), theta = 2f * XMath.PI * ToUnit(b);
        z0 = r * XMath.Cos(theta);
        z1 = r * XMath.Sin(theta);
    }
}

public sealed partial class GpuKernels
{
    public void Uniform(ArrayView<float> y, ulong key, ulong counter)
    {
        if (y.Length == 0) return;
        int threads = Sizes.Checked((y.Length + 3) / 4, "a Philox launch");
        Auto<ArrayView<float>, ulong, ulong>(PhiloxKernels.UniformKernel)(Stream, threads, y, key, counter);
    }

    public void Normal(ArrayView<float> y, ulong key, ulong counter)
    {
        if (y.Length == 0) return;
        int threads = Sizes.Checked((y.Length + 3) / 4, "a Philox launch");
        Auto<ArrayView<float>, ulong, ulong>(PhiloxKernels.NormalKernel)(Stream, threads, y, key, counter);
    }
}
