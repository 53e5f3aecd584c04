namespace InfoVae.Kernels.Reference;

// NumPy broadcasting from shapes, with no strides: shapes are right-aligned, and an axis of size 1 (or a missing
// leading axis) repeats its one element. Tested against: Kernels/Cpu/Broadcast.cs and CpuBackend.Binary
// (Tests/Kernels/BroadcastKernelTests.cs).
public static partial class Reference
{
    /// <summary>
    /// The broadcast shape of a and b (NumPy rules); throws if an axis differs and neither size is 1.
    /// </summary>
    public static int[] BroadcastShape(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var c = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)];
            int db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
            if (da != db && da != 1 && db != 1) throw new ArgumentException("shapes do not broadcast");
            c[i] = da == 1 ? db : da;
        }
        return c;
    }

    /// <summary>
    /// destination[idx] = op(a[idx within a's shape], b[idx within b's shape]) over the broadcast shape, row-major.
    /// </summary>
    public static void BroadcastBinary(ReadOnlySpan<double> a, int[] aShape, ReadOnlySpan<double> b, int[] bShape,
        Func<double, double, double> op, Span<double> destination)
    {
        var shape = BroadcastShape(aShape, bShape);
        var idx = new int[shape.Length];
        for (int k = 0; k < Count(shape); k++)
        {
            Unravel(k, shape, idx);
            destination[k] = op(a[Offset(idx, aShape)], b[Offset(idx, bShape)]);
        }
    }

    /// <summary>
    /// destination (shape <paramref name="shape"/>) = g (the broadcast shape) summed over the axes that shape repeats.
    /// </summary>
    public static void SumToShape(ReadOnlySpan<double> g, int[] gShape, int[] shape, Span<double> destination)
    {
        destination[..Count(shape)].Clear();
        var idx = new int[gShape.Length];
        for (int k = 0; k < Count(gShape); k++)
        {
            Unravel(k, gShape, idx);
            destination[Offset(idx, shape)] += g[k];
        }
    }

    /// <summary>The number of elements of a shape (1 for rank 0).</summary>
    public static int Count(int[] shape) { int n = 1; foreach (int d in shape) n *= d; return n; }

    static void Unravel(int k, int[] shape, int[] idx)
    {
        for (int i = shape.Length - 1; i >= 0; i--) { idx[i] = k % shape[i]; k /= shape[i]; }
    }

    // Row-major offset in `shape` of the full index `idx` (right-aligned): size-1 axes take index 0.
    static int Offset(int[] idx, int[] shape)
    {
        int off = 0, lead = idx.Length - shape.Length;
        for (int i = 0; i < shape.Length; i++) off = off * shape[i] + (shape[i] == 1 ? 0 : idx[lead + i]);
        return off;
    }
}
