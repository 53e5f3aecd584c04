using InfoVae.Kernels;

namespace InfoVae.Engine;

/// <summary>
/// A tensor shape of rank 0-4, as a value (no allocation per op). Its element count is checked when it is made: a
/// shape of 2³¹ elements or more throws a <see cref="TensorTooLargeException"/> instead of wrapping around.
/// </summary>
public readonly struct Shape : IEquatable<Shape>
{
    /// <summary>The highest rank a tensor may have.</summary>
    public const int MaxRank = 4;
    readonly int d0, d1, d2, d3;
    readonly int length;   // the checked product of the dimensions; default(Shape) is the scalar, length 1
    /// <summary>The number of axes (0 for a scalar).</summary>
    public int Rank { get; }

    /// <summary>
    /// A shape of these dimensions (none: a scalar); throws for a negative one, a rank above 4 or more than
    /// int.MaxValue elements.
    /// </summary>
    public Shape(params ReadOnlySpan<int> dims)
    {
        if (dims.Length > MaxRank) throw new ArgumentException($"rank {dims.Length} > {MaxRank} is not supported");
        foreach (var d in dims)
            if (d < 0) throw new ArgumentException($"negative dimension in ({string.Join(", ", dims.ToArray())})");
        Rank = dims.Length;
        d0 = Rank > 0 ? dims[0] : 0; d1 = Rank > 1 ? dims[1] : 0; d2 = Rank > 2 ? dims[2] : 0;
        d3 = Rank > 3 ? dims[3] : 0;
        length = Sizes.Product("a tensor of shape", dims);
    }

    /// <summary>The rank-0 shape: one element.</summary>
    public static Shape Scalar => default;

    /// <summary>The size of an axis; a negative axis counts from the end.</summary>
    public int this[int axis] => (axis < 0 ? axis + Rank : axis) switch
    {
        0 when Rank > 0 => d0,
        1 when Rank > 1 => d1,
        2 when Rank > 2 => d2,
        3 when Rank > 3 => d3,
        _ => throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} of a rank-{Rank} shape"),
    };

    /// <summary>Elements in a tensor of this shape (the product of the dimensions; 1 for a scalar).</summary>
    public int Length => Rank == 0 ? 1 : length;

    /// <summary>The last dimension (1 for a scalar): the row length of the row-major layout.</summary>
    public int Last => Rank == 0 ? 1 : this[Rank - 1];

    /// <summary>The axis as 0..Rank−1 (a negative one counts from the end); throws when it is out of range.</summary>
    public int NormalizeAxis(int axis)
    {
        int a = axis < 0 ? axis + Rank : axis;
        if (a < 0 || a >= Rank)
            throw new ArgumentOutOfRangeException(nameof(axis), $"axis {axis} of a rank-{Rank} shape {this}");
        return a;
    }

    /// <summary>This shape with one axis resized.</summary>
    public Shape With(int axis, int size)
    {
        Span<int> s = stackalloc int[Rank];
        for (int i = 0; i < Rank; i++) s[i] = this[i];
        s[axis] = size;
        return new Shape(s);
    }

    /// <summary>This shape with one axis removed.</summary>
    public Shape Without(int axis)
    {
        Span<int> s = stackalloc int[Rank - 1];
        for (int i = 0, j = 0; i < Rank; i++) if (i != axis) s[j++] = this[i];
        return new Shape(s);
    }

    /// <summary>Product of the dimensions before and after <paramref name="axis"/>.</summary>
    public (int Outer, int Inner) Around(int axis)
    {
        int o = 1, n = 1;
        for (int i = 0; i < axis; i++) o *= this[i];
        for (int i = axis + 1; i < Rank; i++) n *= this[i];
        return (o, n);
    }

    /// <summary>NumPy broadcasting: align the trailing axes; each pair must match or one must be 1.</summary>
    public static Shape Broadcast(Shape a, Shape b)
    {
        int r = Math.Max(a.Rank, b.Rank);
        Span<int> s = stackalloc int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i < r - a.Rank ? 1 : a[i - (r - a.Rank)], db = i < r - b.Rank ? 1 : b[i - (r - b.Rank)];
            if (da != db && da != 1 && db != 1) throw new ArgumentException($"shapes {a} and {b} do not broadcast");
            s[i] = da == 1 ? db : da;
        }
        return new Shape(s);
    }

    /// <inheritdoc/>
    public bool Equals(Shape o)
    {
        if (Rank != o.Rank) return false;
        for (int i = 0; i < Rank; i++) if (this[i] != o[i]) return false;
        return true;
    }

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Rank, d0, d1, d2, d3);
    /// <summary>Equal ranks and dimensions.</summary>
    public static bool operator ==(Shape a, Shape b) => a.Equals(b);
    /// <summary>Different ranks or dimensions.</summary>
    public static bool operator !=(Shape a, Shape b) => !a.Equals(b);
    /// <summary>The dimensions as a new array.</summary>
    public int[] ToArray() { var r = new int[Rank]; for (int i = 0; i < Rank; i++) r[i] = this[i]; return r; }
    /// <inheritdoc/>
    public override string ToString() => "(" + string.Join(", ", ToArray()) + ")";
}
