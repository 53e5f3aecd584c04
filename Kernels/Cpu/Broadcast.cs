using System.Numerics;

namespace InfoVae.Kernels.Cpu;

public interface IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    static abstract T Invoke(T a, T b);
}

public readonly struct AddOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T> { public static T Invoke(T a, T b) => a + b; }
public readonly struct SubOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T> { public static T Invoke(T a, T b) => a - b; }
public readonly struct MulOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T> { public static T Invoke(T a, T b) => a * b; }
public readonly struct DivOp<T> : IBinaryOp<T> where T : unmanaged, IFloatingPointIeee754<T> { public static T Invoke(T a, T b) => a / b; }

/// <summary>
/// The general broadcasting loops for shapes padded to rank 4: a stride of 0 repeats an element along an axis.
/// These are the slow, always-right path; equal shapes and row vectors take TensorPrimitives before reaching here.
/// </summary>
public static class Broadcast
{
    /// <summary>c[idx] = a[idx·sa] ∘ b[idx·sb] over the 4-d index space <paramref name="dims"/>.</summary>
    public static void Binary<T, TOp>(ReadOnlySpan<T> a, ReadOnlySpan<int> sa, ReadOnlySpan<T> b, ReadOnlySpan<int> sb, Span<T> c, ReadOnlySpan<int> dims)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IBinaryOp<T>
    {
        int k = 0;
        for (int i0 = 0; i0 < dims[0]; i0++)
            for (int i1 = 0; i1 < dims[1]; i1++)
                for (int i2 = 0; i2 < dims[2]; i2++)
                    for (int i3 = 0; i3 < dims[3]; i3++)
                        c[k++] = TOp.Invoke(a[i0 * sa[0] + i1 * sa[1] + i2 * sa[2] + i3 * sa[3]], b[i0 * sb[0] + i1 * sb[1] + i2 * sb[2] + i3 * sb[3]]);
    }

    /// <summary>dst[idx·sd] += src[idx]: sums a full-shape block into a broadcast operand's gradient.</summary>
    public static void ReduceInto<T>(ReadOnlySpan<T> src, Span<T> dst, ReadOnlySpan<int> sd, ReadOnlySpan<int> dims)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = 0;
        for (int i0 = 0; i0 < dims[0]; i0++)
            for (int i1 = 0; i1 < dims[1]; i1++)
                for (int i2 = 0; i2 < dims[2]; i2++)
                    for (int i3 = 0; i3 < dims[3]; i3++)
                        dst[i0 * sd[0] + i1 * sd[1] + i2 * sd[2] + i3 * sd[3]] += src[k++];
    }
}
