using ILGPU;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

/// <summary>
/// Sums along one axis of a row-major block seen as (outer, axis, inner), and the broadcast that is its backward.
/// x: outer·axis·inner elements, y: outer·inner. Deterministic: every sum has a fixed shape (a thread's loop or a
/// fixed-size tree in shared memory), never an atomic. Semantics mirror Kernels/Cpu/Reduce.
/// </summary>
public static class ReduceKernels
{
    /// <summary>Largest group of <see cref="SumRowsKernel"/> (its shared array is this long).</summary>
    public const int MaxGroup = 256;

    /// <summary>inner > 1: one thread per output (o, i) walks the axis; neighbouring threads read neighbouring addresses.</summary>
    public static void SumStridedKernel(Index1D idx, ArrayView<float> x, ArrayView<float> y, int axis, int inner, float scale, int accumulate)
    {
        int o = idx / inner, i = idx - o * inner;
        float s = 0f;
        for (int a = 0; a < axis; a++) s += x[(o * axis + a) * inner + i];
        s *= scale;
        y[idx] = accumulate != 0 ? y[idx] + s : s;
    }

    /// <summary>
    /// inner == 1: one group per row o (Grid.IdxX). Each thread sums a strided slice of the row, then a tree of
    /// fixed shape (group size, a power of two) halves the partials in shared memory.
    /// </summary>
    public static void SumRowsKernel(ArrayView<float> x, ArrayView<float> y, int axis, float scale, int accumulate)
    {
        var partial = SharedMemory.Allocate<float>(MaxGroup);
        int o = Grid.IdxX, t = Group.IdxX, g = Group.DimX;
        float s = 0f;
        for (int a = t; a < axis; a += g) s += x[o * axis + a];
        partial[t] = s;
        Group.Barrier();
        for (int half = g / 2; half > 0; half /= 2)
        {
            if (t < half) partial[t] += partial[t + half];
            Group.Barrier();
        }
        if (t == 0)
        {
            float r = partial[0] * scale;
            y[o] = accumulate != 0 ? y[o] + r : r;
        }
    }

    /// <summary>dx[o, a, i] += scale · dy[o, i], one thread per element of dx.</summary>
    public static void BroadcastAxisKernel(Index1D idx, ArrayView<float> dy, ArrayView<float> dx, int axis, int inner, float scale)
    {
        int o = idx / (axis * inner), i = idx % inner;
        dx[idx] += scale * dy[o * inner + i];
    }
}

public sealed partial class GpuKernels
{
    /// <summary>y (=|+=) scale · Σ_a x[o, a, i].</summary>
    public void SumAxis(ArrayView<float> x, int outer, int axis, int inner, ArrayView<float> y, float scale, bool accumulate)
    {
        if (Threads(outer, inner) == 0) return;
        if (inner == 1)
            Grouped<ArrayView<float>, ArrayView<float>, int, float, int>(ReduceKernels.SumRowsKernel)(
                Stream, new KernelConfig(outer, ReduceGroup), x, y, axis, scale, accumulate ? 1 : 0);
        else
            Auto<ArrayView<float>, ArrayView<float>, int, int, float, int>(ReduceKernels.SumStridedKernel)(
                Stream, Threads(outer, inner), x, y, axis, inner, scale, accumulate ? 1 : 0);
    }

    /// <summary>dx[o, a, i] += scale · dy[o, i].</summary>
    public void BroadcastAxis(ArrayView<float> dy, int outer, int axis, int inner, ArrayView<float> dx, float scale)
    {
        int n = Threads(outer, axis, inner);
        if (n == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, int, int, float>(ReduceKernels.BroadcastAxisKernel)(Stream, n, dy, dx, axis, inner, scale);
    }
}
