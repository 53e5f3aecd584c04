using System.Numerics;
using System.Numerics.Tensors;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// Sums along one axis of a row-major block seen as (outer, axis, inner), and the broadcast that is its backward.
/// x, dx: outer·axis·inner elements; y, dy: outer·inner.
/// Correctness: Tests/Kernels/ReduceKernelTests.cs against Kernels/Reference/ReduceReference.cs.
/// </summary>
public static class Reduce
{
    /// <summary>destination[o, i] (= or +=) scale · Σ_a x[o, a, i].</summary>
    public static void SumAxis<T>(ReadOnlySpan<T> x, int outer, int axis, int inner, T scale, bool accumulate,
        Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckShape(outer, axis, inner);
        if (x.Length != outer * axis * inner)
            throw new ArgumentException($"x holds {x.Length} elements, not outer·axis·inner = {outer * axis * inner}",
                nameof(x));
        if (destination.Length < outer * inner) Simd.ThrowDestinationTooShort();
        for (int o = 0; o < outer; o++)
        {
            var yo = destination.Slice(o * inner, inner);
            if (inner == 1)
            {
                T s = TensorPrimitives.Sum(x.Slice(o * axis, axis)) * scale;
                yo[0] = accumulate ? yo[0] + s : s;
                continue;
            }
            if (!accumulate) yo.Clear();
            // Row by row with vector adds: reads x once, in order.
            for (int a = 0; a < axis; a++)
                TensorPrimitives.MultiplyAdd(x.Slice((o * axis + a) * inner, inner), scale, yo, yo);
        }
    }

    /// <summary>destination[o, a, i] += scale · dy[o, i].</summary>
    public static void BroadcastAxis<T>(ReadOnlySpan<T> dy, int outer, int axis, int inner, T scale,
        Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckShape(outer, axis, inner);
        if (dy.Length != outer * inner)
            throw new ArgumentException($"dy holds {dy.Length} elements, not outer·inner = {outer * inner}",
                nameof(dy));
        if (destination.Length < outer * axis * inner) Simd.ThrowDestinationTooShort();
        if (inner == 1)     // a row (or everything, outer = 1) gets one value added: one vector pass per row
        {
            for (int o = 0; o < outer; o++)
            {
                var d = destination.Slice(o * axis, axis);
                TensorPrimitives.Add(d, scale * dy[o], d);
            }
            return;
        }
        for (int o = 0; o < outer; o++)
            for (int a = 0; a < axis; a++)
            {
                var d = destination.Slice((o * axis + a) * inner, inner);
                TensorPrimitives.MultiplyAdd(dy.Slice(o * inner, inner), scale, d, d);
            }
    }

    static void CheckShape(int outer, int axis, int inner)
    {
        if (outer < 0 || axis < 0 || inner < 0)
            throw new ArgumentException($"negative reduction shape ({outer}, {axis}, {inner})");
    }
}
