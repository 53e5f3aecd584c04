using System.Numerics;

namespace InfoVae.Kernels.Cpu;

/// <summary>An elementwise function of two inputs, for the broadcasting loops of <see cref="Broadcast"/>.</summary>
public interface IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The function's value at (a, b).</summary>
    static abstract T Invoke(T a, T b);
}

/// <summary>a + b.</summary>
public readonly struct AddOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T a, T b) => a + b;
}

/// <summary>a − b.</summary>
public readonly struct SubOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T a, T b) => a - b;
}

/// <summary>a · b.</summary>
public readonly struct MulOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T a, T b) => a * b;
}

/// <summary>a / b.</summary>
public readonly struct DivOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T a, T b) => a / b;
}

/// <summary>−(a / (b·b)): the divisor's gradient term of a / b, with a = dy·numerator.</summary>
readonly struct NegDivSquareOp<T> : IBinaryOp<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{ public static T Invoke(T a, T b) => -(a / (b * b)); }

/// <summary>
/// The index space of a broadcast binary op on the CPU: <see cref="Dims"/> (rank 4, the output's), the strides of
/// each operand in it (0 where it is repeated), and <see cref="Dense"/>, the output's own row-major strides.
/// </summary>
public readonly ref struct BroadcastIndex(ReadOnlySpan<int> dims, ReadOnlySpan<int> a, ReadOnlySpan<int> b,
    ReadOnlySpan<int> dense)
{
    /// <summary>The four sizes of the output's index space, padded to rank 4 with leading 1s.</summary>
    public readonly ReadOnlySpan<int> Dims = dims;
    /// <summary>The first operand's four element strides in <see cref="Dims"/>' index space.</summary>
    public readonly ReadOnlySpan<int> A = a;
    /// <summary>The second operand's four element strides.</summary>
    public readonly ReadOnlySpan<int> B = b;
    /// <summary>The row-major strides of a dense tensor of <see cref="Dims"/> (the output, dy).</summary>
    public readonly ReadOnlySpan<int> Dense = dense;
}

/// <summary>
/// The general broadcasting loops for shapes padded to rank 4: a stride of 0 repeats an element along an axis.
/// These are the slow, always-right path; equal shapes and row vectors take TensorPrimitives before reaching here.
/// dims: the 4 sizes of the full (output) index space; xStrides etc.: each operand's 4 element strides in it.
/// Correctness: Tests/Kernels/BroadcastKernelTests.cs against Kernels/Reference/BroadcastReference.cs.
/// </summary>
public static class Broadcast
{
    /// <summary>
    /// destination[idx] = x[idx·xStrides] ∘ y[idx·yStrides] over the index space <paramref name="dims"/>, row-major.
    /// </summary>
    public static void Binary<T, TOp>(ReadOnlySpan<T> x, ReadOnlySpan<int> xStrides, ReadOnlySpan<T> y,
        ReadOnlySpan<int> yStrides,
        ReadOnlySpan<int> dims, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IBinaryOp<T>
    {
        int count = Count(dims);
        CheckOperand(x.Length, xStrides, dims, count, nameof(x));
        CheckOperand(y.Length, yStrides, dims, count, nameof(y));
        if (destination.Length < count) Simd.ThrowDestinationTooShort();
        int k = 0;
        for (int i0 = 0; i0 < dims[0]; i0++)
            for (int i1 = 0; i1 < dims[1]; i1++)
                for (int i2 = 0; i2 < dims[2]; i2++)
                    for (int i3 = 0; i3 < dims[3]; i3++)
                        destination[k++] =
                            TOp.Invoke(x[i0 * xStrides[0] + i1 * xStrides[1] + i2 * xStrides[2] + i3 * xStrides[3]],
                            y[i0 * yStrides[0] + i1 * yStrides[1] + i2 * yStrides[2] + i3 * yStrides[3]]);
    }

    /// <summary>
    /// destination[idx·destinationStrides] += x[idx]: sums a full-shape block into a broadcast operand's gradient.
    /// </summary>
    public static void ReduceInto<T>(ReadOnlySpan<T> x, ReadOnlySpan<int> dims, ReadOnlySpan<int> destinationStrides,
        Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = Count(dims);
        if (x.Length != count)
            throw new ArgumentException($"x holds {x.Length} elements, not the {count} of the index space", nameof(x));
        if (destinationStrides.Length != 4)
            throw new ArgumentException("strides need 4 entries", nameof(destinationStrides));
        if (count > 0 && destination.Length <= MaxOffset(destinationStrides, dims)) Simd.ThrowDestinationTooShort();
        int k = 0;
        for (int i0 = 0; i0 < dims[0]; i0++)
            for (int i1 = 0; i1 < dims[1]; i1++)
                for (int i2 = 0; i2 < dims[2]; i2++)
                    for (int i3 = 0; i3 < dims[3]; i3++)
                        destination[i0 * destinationStrides[0] + i1 * destinationStrides[1] + i2 * destinationStrides[2]
                            + i3 * destinationStrides[3]] += x[k++];
    }

    static int Count(ReadOnlySpan<int> dims)
    {
        if (dims.Length != 4)
            throw new ArgumentException("dims needs 4 entries (pad the shape to rank 4)", nameof(dims));
        int count = 1;
        foreach (int d in dims) count *= d >= 0 ? d : throw new ArgumentException($"negative size {d}", nameof(dims));
        return count;
    }

    static int MaxOffset(ReadOnlySpan<int> strides, ReadOnlySpan<int> dims)
    {
        int m = 0;
        for (int i = 0; i < 4; i++)
        {
            if (strides[i] < 0) throw new ArgumentException("negative stride", nameof(strides));
            m += (dims[i] - 1) * strides[i];
        }
        return m;
    }

    static void CheckOperand(int length, ReadOnlySpan<int> strides, ReadOnlySpan<int> dims, int count, string name)
    {
        if (strides.Length != 4) throw new ArgumentException("strides need 4 entries", name);
        if (count > 0 && length <= MaxOffset(strides, dims))
            throw new ArgumentException($"{name} is too short for its strides", name);
    }
}
