using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

// Batch norm over an (R, C) matrix x, statistics per column c over the R rows (docs/conv.md; the semantics of
// Kernels/Reference). R = rows (N·OH·OW for a conv activation), C = channels, P = ⌈R / chunk⌉ row chunks.
// Column sums are deterministic two-stage reductions, no atomics:
//   1. a partials kernel, one thread per (chunk k, column c), idx = k·C + c, walks its chunk's rows in order, so
//      neighbouring threads read neighbouring addresses of x;
//   2. ColumnTotalKernel, one group per column, sums that column's P partials (a strided loop, then a fixed-shape
//      tree in shared memory).
// Statistics are two-pass (mean first, then Σ (x − mean)²: no cancellation), the variance biased (÷ R).
// Float throughout: chunks of ≤ 64 rows then a tree keep the sum's error near (64 + log₂ P)·ε, not R·ε.
// Correctness: Tests/Kernels/Gpu/BatchNormKernelTests.cs (against Kernels/Reference).

/// <summary>Sizes of one batch-norm call: x is (Rows, C), cut into chunks of Chunk rows.</summary>
public struct BatchNormArgs
{
    /// <summary>x's rows R, its columns C, and the rows per chunk of the partial sums.</summary>
    public int Rows, C, Chunk;
    /// <summary>The ε added to the variance.</summary>
    public float Eps;
    /// <summary>Backward: 1 to compute dGamma, dBeta (ints, as ILGPU passes them).</summary>
    public int DoGamma, DoBeta;   // 0/1 (backward)

    /// <summary>Partial sums per column: ⌈Rows / Chunk⌉.</summary>
    public readonly int Chunks => (int)(((long)Rows + Chunk - 1) / Chunk);
}

/// <summary>The batch-norm kernels (see the header of this file).</summary>
public static class BatchNormKernels
{
    static float InvStd(float var, float eps) => 1f / XMath.Sqrt(var + eps);

    /// <summary>partials[k·C + c] = Σ_{r in chunk k} x[r, c].</summary>
    public static void SumPartialsKernel(Index1D idx, ArrayView<float> x, ArrayView<float> partials, BatchNormArgs a)
    {
        int k = idx / a.C, c = idx - k * a.C;
        int end = XMath.Min(a.Rows, (k + 1) * a.Chunk);
        float s = 0f;
        for (int r = k * a.Chunk; r < end; r++) s += x[r * a.C + c];
        partials[idx] = s;
    }

    /// <summary>partials[k·C + c] = Σ_{r in chunk k} (x[r, c] − mean[c])².</summary>
    public static void SquaredDeviationPartialsKernel(Index1D idx, ArrayView<float> x, ArrayView<float> mean,
        ArrayView<float> partials, BatchNormArgs a)
    {
        int k = idx / a.C, c = idx - k * a.C;
        int end = XMath.Min(a.Rows, (k + 1) * a.Chunk);
        float m = mean[c], s = 0f;
        for (int r = k * a.Chunk; r < end; r++)
        {
            float d = x[r * a.C + c] - m;
            s += d * d;
        }
        partials[idx] = s;
    }

    /// <summary>
    /// partials[k·C + c] = Σ dy, partials[P·C + k·C + c] = Σ dy·(x − mean), over the rows of chunk k.
    /// </summary>
    public static void BackwardPartialsKernel(Index1D idx, ArrayView<float> x, ArrayView<float> dy,
        ArrayView<float> mean, ArrayView<float> partials, BatchNormArgs a)
    {
        int k = idx / a.C, c = idx - k * a.C;
        int end = XMath.Min(a.Rows, (k + 1) * a.Chunk);
        float m = mean[c], sdy = 0f, sdyx = 0f;
        for (int r = k * a.Chunk; r < end; r++)
        {
            int i = r * a.C + c;
            float g = dy[i];
            sdy += g;
            sdyx += g * (x[i] - m);
        }
        partials[idx] = sdy;
        partials[a.Chunks * a.C + idx] = sdyx;
    }

    /// <summary>Largest group of <see cref="ColumnTotalKernel"/> (its shared array is this long).</summary>
    public const int MaxGroup = 256;

    /// <summary>
    /// Group j = s·C + c: totals[j] = scale · Σ_k partials[s·P·C + k·C + c] (slot s of P·C partials). Each thread sums
    /// a strided slice of the P partials, then a tree of fixed shape (group size, a power of two) halves them.
    /// </summary>
    public static void ColumnTotalKernel(ArrayView<float> partials, ArrayView<float> totals, int chunks, int columns,
        float scale)
    {
        var sh = SharedMemory.Allocate<float>(MaxGroup);
        int j = Grid.IdxX, t = Group.IdxX, g = Group.DimX;
        int s = j / columns, c = j - s * columns;
        int start = s * chunks * columns + c;
        float acc = 0f;
        for (int k = t; k < chunks; k += g) acc += partials[start + k * columns];
        sh[t] = acc;
        Group.Barrier();
        for (int half = g / 2; half > 0; half /= 2)
        {
            if (t < half) sh[t] += sh[t + half];
            Group.Barrier();
        }
        if (t == 0) totals[j] = sh[0] * scale;
    }

    /// <summary>y = (x − mean)·gamma / sqrt(var + eps) + beta, one thread per element of (R, C).</summary>
    public static void ApplyKernel(Index1D idx, ArrayView<float> x, ArrayView<float> mean, ArrayView<float> var,
        ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> y, BatchNormArgs a)
    {
        int c = idx % a.C;
        y[idx] = (x[idx] - mean[c]) * (gamma[c] * InvStd(var[c], a.Eps)) + beta[c];
    }

    /// <summary>
    /// Per column, from sums = (Σ dy, Σ dy·(x − mean)): dBeta += Σ dy, dGamma += Σ dy·xhat; then sums is overwritten
    /// with the two means the dx kernel needs, mean_r(dy) and mean_r(dy·xhat).
    /// </summary>
    public static void BackwardFinishKernel(Index1D c, ArrayView<float> var, ArrayView<float> sums,
        ArrayView<float> dGamma, ArrayView<float> dBeta, BatchNormArgs a)
    {
        float sdy = sums[c], sdyxhat = sums[a.C + c] * InvStd(var[c], a.Eps);
        if (a.DoBeta != 0) dBeta[c] += sdy;
        if (a.DoGamma != 0) dGamma[c] += sdyxhat;
        float invRows = 1f / a.Rows;
        sums[c] = sdy * invRows;
        sums[a.C + c] = sdyxhat * invRows;
    }

    /// <summary>
    /// dx += gamma/sqrt(var + eps) · (dy − mean_r(dy) − xhat·mean_r(dy·xhat)); means = BackwardFinishKernel's output.
    /// </summary>
    public static void BackwardDxKernel(Index1D idx, ArrayView<float> x, ArrayView<float> dy, ArrayView<float> mean,
        ArrayView<float> var,
        ArrayView<float> gamma, ArrayView<float> means, ArrayView<float> dx, BatchNormArgs a)
    {
        int c = idx % a.C;
        float inv = InvStd(var[c], a.Eps);
        float xhat = (x[idx] - mean[c]) * inv;
        dx[idx] += gamma[c] * inv * (dy[idx] - means[c] - xhat * means[a.C + c]);
    }

    /// <summary>
    /// PyTorch's running statistics: rm = (1 − m)·rm + m·mean, rv = (1 − m)·rv + m·var·unbias (unbias = R/(R − 1)).
    /// </summary>
    public static void UpdateRunningKernel(Index1D c, ArrayView<float> mean, ArrayView<float> var,
        ArrayView<float> runningMean,
        ArrayView<float> runningVar, float momentum, float unbias)
    {
        runningMean[c] = (1f - momentum) * runningMean[c] + momentum * mean[c];
        runningVar[c] = (1f - momentum) * runningVar[c] + momentum * var[c] * unbias;
    }
}

public sealed partial class GpuKernels
{
    /// <summary>Rows per chunk of the batch-norm column sums (fixed, so results do not depend on the device).</summary>
    public const int BatchNormChunk = 64;

    /// <summary>Floats of scratch the batch-norm calls need for (rows, c): 2·P·C partials and 2·C sums.</summary>
    public static int BatchNormScratchLength(int rows, int c, int chunk = BatchNormChunk) =>
        Sizes.Checked(2 * (((long)rows + chunk - 1) / chunk) * c + 2L * c, "the batch-norm scratch");

    static BatchNormArgs BnArgs(int rows, int c, int chunk, float eps = 0f) =>
        chunk < 1 ? throw new ArgumentOutOfRangeException(nameof(chunk), chunk, "chunk must be positive")
                  : new BatchNormArgs { Rows = rows, C = c, Chunk = chunk, Eps = eps };

    void ColumnTotals(ArrayView<float> partials, int chunks, int columns, int slots, ArrayView<float> totals,
        float scale) =>
        Grouped<ArrayView<float>, ArrayView<float>, int, int, float>(BatchNormKernels.ColumnTotalKernel)(
            Stream, new KernelConfig(Threads(slots, columns), Math.Min(ReduceGroup, BatchNormKernels.MaxGroup)),
                partials, totals, chunks, columns, scale);

    /// <summary>
    /// x (rows, c) → batch mean and biased variance per column; scratch: <see cref="BatchNormScratchLength"/> floats.
    /// </summary>
    public void BatchNormStats(ArrayView<float> x, int rows, int c, ArrayView<float> mean, ArrayView<float> var,
        ArrayView<float> scratch, int chunk = BatchNormChunk)
    {
        if (c == 0) return;
        if (rows == 0) throw new ArgumentException("batch norm statistics of zero rows");
        var a = BnArgs(rows, c, chunk);
        int n = Threads(a.Chunks, c);
        var partials = scratch.SubView(0, n);
        Auto<ArrayView<float>, ArrayView<float>, BatchNormArgs>(BatchNormKernels.SumPartialsKernel)(Stream, n, x,
            partials, a);
        ColumnTotals(partials, a.Chunks, c, 1, mean, 1f / rows);
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>,
            BatchNormArgs>(BatchNormKernels.SquaredDeviationPartialsKernel)(Stream, n, x, mean, partials, a);
        ColumnTotals(partials, a.Chunks, c, 1, var, 1f / rows);
    }

    /// <summary>y = (x − mean)·gamma / sqrt(var + eps) + beta for x, y (rows, c).</summary>
    public void BatchNormApply(ArrayView<float> x, int rows, int c, ArrayView<float> mean, ArrayView<float> var,
        float eps,
        ArrayView<float> gamma, ArrayView<float> beta, ArrayView<float> y)
    {
        if (Threads(rows, c) == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            BatchNormArgs>(BatchNormKernels.ApplyKernel)(
            Stream, Threads(rows, c), x, mean, var, gamma, beta, y, BnArgs(rows, c, BatchNormChunk, eps));
    }

    /// <summary>
    /// Training-mode backward, all accumulating (+=); an empty dx, dGamma or dBeta is skipped. mean and var are the
    /// batch statistics the forward used; scratch: <see cref="BatchNormScratchLength"/> floats.
    /// </summary>
    public void BatchNormBackward(ArrayView<float> x, int rows, int c, ArrayView<float> mean, ArrayView<float> var,
        float eps,
        ArrayView<float> gamma, ArrayView<float> dy, ArrayView<float> dx, ArrayView<float> dGamma,
            ArrayView<float> dBeta,
        ArrayView<float> scratch, int chunk = BatchNormChunk)
    {
        if (Threads(rows, c) == 0 || (dx.Length == 0 && dGamma.Length == 0 && dBeta.Length == 0)) return;
        var a = BnArgs(rows, c, chunk, eps);
        a.DoGamma = dGamma.Length > 0 ? 1 : 0;
        a.DoBeta = dBeta.Length > 0 ? 1 : 0;
        int n = Threads(a.Chunks, c);
        var partials = scratch.SubView(0, 2 * n);
        var sums = scratch.SubView(2 * n, 2 * c);
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            BatchNormArgs>(BatchNormKernels.BackwardPartialsKernel)(
            Stream, n, x, dy, mean, partials, a);
        ColumnTotals(partials, a.Chunks, c, 2, sums, 1f);
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            BatchNormArgs>(BatchNormKernels.BackwardFinishKernel)(
            Stream, c, var, sums, dGamma, dBeta, a);
        if (dx.Length > 0)
            Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>, ArrayView<float>, BatchNormArgs>(
                BatchNormKernels.BackwardDxKernel)(Stream, Threads(rows, c), x, dy, mean, var, gamma, sums, dx, a);
    }

    /// <summary>
    /// Running statistics after a training batch of <paramref name="rows"/> rows (PyTorch's rule, unbiased variance).
    /// </summary>
    public void BatchNormUpdateRunning(ArrayView<float> mean, ArrayView<float> var, int rows, float momentum,
        ArrayView<float> runningMean, ArrayView<float> runningVar)
    {
        int c = Threads(mean);
        if (c == 0) return;
        float unbias = rows > 1 ? (float)(rows / (rows - 1.0)) : float.PositiveInfinity;
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float,
            float>(BatchNormKernels.UpdateRunningKernel)(
            Stream, c, mean, var, runningMean, runningVar, momentum, unbias);
    }
}
