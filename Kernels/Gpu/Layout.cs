using ILGPU;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

/// <summary>Fills, row copies between strided views, and the 2-D transpose. One thread per element written.</summary>
public static class LayoutKernels
{
    /// <summary>y[i] = value.</summary>
    public static void FillKernel(Index1D i, ArrayView<float> y, float value) => y[i] = value;

    /// <summary>dst[r·dstStride + c] (=|+=) src[r·srcStride + c] for a (rows, cols) window; idx = r·cols + c.</summary>
    public static void CopyRowsKernel(Index1D idx, ArrayView<float> src, int srcStride, ArrayView<float> dst,
        int dstStride, int cols, int accumulate)
    {
        int r = idx / cols, c = idx - r * cols;
        float v = src[r * srcStride + c];
        int d = r * dstStride + c;
        dst[d] = accumulate != 0 ? dst[d] + v : v;
    }

    /// <summary>batch[r, c] = data[rows[r], c] for a (rows.Length, rowLength) batch; idx = r·rowLength + c.</summary>
    public static void GatherRowsKernel(Index1D idx, ArrayView<float> data, ArrayView<int> rows, ArrayView<float> batch,
        int rowLength)
    {
        int r = idx / rowLength, c = idx - r * rowLength;
        batch[idx] = data[rows[r] * rowLength + c];
    }

    /// <summary>
    /// output[i] = the one element of the i-th of a, b, c, d (i &lt; 4): one launch gathers a step's loss scalars.
    /// </summary>
    public static void GatherScalarsKernel(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c,
        ArrayView<float> d, ArrayView<float> output) =>
        output[i] = i == 0 ? a[0] : i == 1 ? b[0] : i == 2 ? c[0] : d[0];

    /// <summary>
    /// y (=|+=) xᵀ for x (rows, cols), y (cols, rows); one thread per element of y, so writes are coalesced.
    /// </summary>
    public static void TransposeKernel(Index1D idx, ArrayView<float> x, ArrayView<float> y, int rows, int cols,
        int accumulate)
    {
        int j = idx / rows, i = idx - j * rows;
        float v = x[i * cols + j];
        y[idx] = accumulate != 0 ? y[idx] + v : v;
    }
}

public sealed partial class GpuKernels
{
    /// <summary>y = value over y's length.</summary>
    public void Fill(ArrayView<float> y, float value)
    {
        if (y.Length == 0) return;
        Auto<ArrayView<float>, float>(LayoutKernels.FillKernel)(Stream, Threads(y), y, value);
    }

    /// <summary>
    /// (rows, cols) windows with their own row strides; src and dst start at the windows' first element. A source
    /// stride of 0 repeats one row into every destination row (a bias broadcast).
    /// </summary>
    public void CopyRows(ArrayView<float> src, int srcStride, ArrayView<float> dst, int dstStride, int rows, int cols,
        bool accumulate)
    {
        int n = Threads(rows, cols);
        if (n == 0) return;
        Auto<ArrayView<float>, int, ArrayView<float>, int, int, int>(LayoutKernels.CopyRowsKernel)(
            Stream, n, src, srcStride, dst, dstStride, cols, accumulate ? 1 : 0);
    }

    /// <summary>
    /// batch (rows.Length, rowLength) = the rows of data (N, rowLength) that <paramref name="rows"/> names, in order.
    /// </summary>
    public void GatherRows(ArrayView<float> data, ArrayView<int> rows, ArrayView<float> batch, int rowLength)
    {
        int n = (int)rows.Length * rowLength;
        if (n == 0) return;
        Auto<ArrayView<float>, ArrayView<int>, ArrayView<float>, int>(LayoutKernels.GatherRowsKernel)(
            Stream, n, data, rows, batch, rowLength);
    }

    /// <summary>
    /// output[i] = scalars a, b, c, d in that order, the first <paramref name="count"/> (1 to 4) of them.
    /// </summary>
    public void GatherScalars(int count, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d,
        ArrayView<float> output)
    {
        if (count is < 1 or > 4) throw new ArgumentOutOfRangeException(nameof(count), count, "1 to 4 scalars a launch");
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(
            LayoutKernels.GatherScalarsKernel)(Stream, count, a, b, c, d, output);
    }

    /// <summary>y (cols, rows) (=|+=) xᵀ for x (rows, cols).</summary>
    public void Transpose(ArrayView<float> x, int rows, int cols, ArrayView<float> y, bool accumulate)
    {
        int n = Threads(rows, cols);
        if (n == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, int, int, int>(LayoutKernels.TransposeKernel)(Stream, n, x, y, rows,
            cols, accumulate ? 1 : 0);
    }
}
