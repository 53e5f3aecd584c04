using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

/// <summary>
/// Sums along one axis of a row-major block seen as (outer, axis, inner), and the broadcast that is its backward.
/// x: outer·axis·inner elements, y: outer·inner. Semantics mirror Kernels/Cpu/Reduce.
/// Deterministic and two-stage, never an atomic: the axis is cut into chunks of a fixed length (constants here, so
/// the order of additions depends on the sizes and the group size only, and repeats bit for bit):
///   1. inner = 1 (row sums, the full sum): one group per (row, chunk of <see cref="RowChunk"/> elements), each thread
/// a strided slice, then a fixed tree in shared memory; inner &gt; 1 (column sums, a bias gradient): one thread per
///      (row, chunk of <see cref="ColumnChunk"/> rows, column), neighbouring threads on neighbouring addresses;
///   2. when the axis took more than one chunk, <see cref="SumPartialsKernel"/>: one group per output sums its
///      chunks' partials (a strided loop, then the tree). One chunk: stage 1 writes the output itself.
/// So a full sum of 200,704 floats (the BCE of a batch of 256) runs on 49 groups, not one, and a conv bias gradient
/// over 50,176 rows gives each thread 256 rows, not all of them.
/// </summary>
public static class ReduceKernels
{
    /// <summary>Largest group of the grouped sums (their shared array is this long).</summary>
    public const int MaxGroup = 256;

    /// <summary>Elements of a row one group sums in stage 1 (16 per thread at 256 threads).</summary>
    public const int RowChunk = 4096;

    /// <summary>Rows one thread sums in stage 1 of a column sum.</summary>
    public const int ColumnChunk = 256;

    /// <summary>
    /// inner = 1, stage 1: group Grid.IdxX = o·chunks + c sums x[o, c·chunkLength ..] (at most chunkLength elements of
    /// row o) into y[Grid.IdxX], as y (=|+=) scale·Σ (the final stage: chunks = 1) or as a raw partial (scale 1).
    /// </summary>
    public static void SumRowChunksKernel(ArrayView<float> x, ArrayView<float> y, int axis, int chunkLength, int chunks,
        float scale, int accumulate)
    {
        var sh = SharedMemory.Allocate<float>(MaxGroup);
        int j = Grid.IdxX, o = j / chunks, c = j - o * chunks;
        int t = Group.IdxX, g = Group.DimX;
        int start = c * chunkLength, end = XMath.Min(axis, start + chunkLength);
        float s = 0f;
        for (int a = start + t; a < end; a += g) s += x[o * axis + a];
        float r = Tree(s, sh);
        if (t == 0) y[j] = accumulate != 0 ? y[j] + r * scale : r * scale;
    }

    /// <summary>
    /// inner &gt; 1, stage 1: thread idx = (o·chunks + c)·inner + i sums x[o, a, i] over the rows a of chunk c into
    /// y[idx], as y (=|+=) scale·Σ when chunks = 1 (then idx is the output's index), else as a raw partial.
    /// </summary>
    public static void SumColumnChunksKernel(Index1D idx, ArrayView<float> x, ArrayView<float> y, int axis, int inner,
        int chunks, float scale, int accumulate)
    {
        int oc = idx / inner, i = idx - oc * inner;
        int o = oc / chunks, c = oc - o * chunks;
        int start = c * ColumnChunk, end = XMath.Min(axis, start + ColumnChunk);
        float s = 0f;
        for (int a = start; a < end; a++) s += x[(o * axis + a) * inner + i];
        y[idx] = accumulate != 0 ? y[idx] + s * scale : s * scale;
    }

    /// <summary>
    /// Stage 2: group j = o·inner + i: y[j] (=|+=) scale · Σ_c partials[(o·chunks + c)·inner + i], each thread a
    /// strided
    /// slice of the chunks, then the fixed tree.
    /// </summary>
    public static void SumPartialsKernel(ArrayView<float> partials, ArrayView<float> y, int chunks, int inner,
        float scale, int accumulate)
    {
        var sh = SharedMemory.Allocate<float>(MaxGroup);
        int j = Grid.IdxX, o = j / inner, i = j - o * inner;
        int t = Group.IdxX, g = Group.DimX;
        float s = 0f;
        for (int c = t; c < chunks; c += g) s += partials[(o * chunks + c) * inner + i];
        float r = Tree(s, sh);
        if (t == 0) y[j] = accumulate != 0 ? y[j] + r * scale : r * scale;
    }

    /// <summary>
    /// Σ of every thread's value by halving in shared memory (group size a power of two); valid in thread 0.
    /// </summary>
    static float Tree(float v, ArrayView<float> sh)
    {
        int t = Group.IdxX;
        sh[t] = v;
        Group.Barrier();
        for (int half = Group.DimX / 2; half > 0; half /= 2)
        {
            if (t < half) sh[t] += sh[t + half];
            Group.Barrier();
        }
        return sh[0];
    }

    /// <summary>dx[o, a, i] += scale · dy[o, i], one thread per element of dx.</summary>
    public static void BroadcastAxisKernel(Index1D idx, ArrayView<float> dy, ArrayView<float> dx, int axis, int inner,
        float scale)
    {
        int o = idx / (axis * inner), i = idx % inner;
        dx[idx] += scale * dy[o * inner + i];
    }
}

public sealed partial class GpuKernels
{
    static int SumChunks(int axis, int inner) =>
        GpuMath.CeilDiv(Math.Max(axis, 1), inner == 1 ? ReduceKernels.RowChunk : ReduceKernels.ColumnChunk);

    /// <summary>
    /// Scratch floats <see cref="SumAxis"/> needs: outer · chunks · inner partials, or 0 when one chunk covers the
    /// axis.
    /// </summary>
    public static int SumScratchLength(int outer, int axis, int inner)
    {
        int chunks = SumChunks(axis, inner);
        return chunks == 1 ? 0 : Sizes.Product("a sum's chunk partials", outer, chunks, inner);
    }

    /// <summary>
    /// y (=|+=) scale · Σ_a x[o, a, i]; scratch holds <see cref="SumScratchLength"/> floats (may be empty when that is
    /// 0).
    /// </summary>
    public void SumAxis(ArrayView<float> x, int outer, int axis, int inner, ArrayView<float> y, float scale,
        bool accumulate, ArrayView<float> scratch)
    {
        if (Threads(outer, inner) == 0) return;
        int chunks = SumChunks(axis, inner), acc = accumulate ? 1 : 0;
        bool oneStage = chunks == 1;
        if (!oneStage && scratch.Length < (long)outer * chunks * inner)
            throw new ArgumentException($"a sum over {axis} needs {outer * chunks * inner} scratch floats, " +
                $"not {scratch.Length}");
        var stage1 = oneStage ? y : scratch;
        float s1 = oneStage ? scale : 1f;
        int a1 = oneStage ? acc : 0;
        if (inner == 1)
            Grouped<ArrayView<float>, ArrayView<float>, int, int, int, float, int>(ReduceKernels.SumRowChunksKernel)(
                Stream, new KernelConfig(Threads(outer, chunks), ReduceGroup), x, stage1, axis, ReduceKernels.RowChunk,
                    chunks,
                s1, a1);
        else
            Auto<ArrayView<float>, ArrayView<float>, int, int, int, float, int>(ReduceKernels.SumColumnChunksKernel)(
                Stream, Threads(outer, chunks, inner), x, stage1, axis, inner, chunks, s1, a1);
        if (!oneStage)
            Grouped<ArrayView<float>, ArrayView<float>, int, int, float, int>(ReduceKernels.SumPartialsKernel)(
                Stream, new KernelConfig(Threads(outer, inner), ReduceGroup), scratch, y, chunks, inner, scale, acc);
    }

    /// <summary>dx[o, a, i] += scale · dy[o, i].</summary>
    public void BroadcastAxis(ArrayView<float> dy, int outer, int axis, int inner, ArrayView<float> dx, float scale)
    {
        int n = Threads(outer, axis, inner);
        if (n == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, int, int, float>(ReduceKernels.BroadcastAxisKernel)(Stream, n, dy, dx,
            axis, inner, scale);
    }
}
