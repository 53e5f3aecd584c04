using System.Numerics;
using System.Numerics.Tensors;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// Sums along one axis of a row-major block seen as (outer, axis, inner), and the broadcast that is its backward.
/// x: outer·axis·inner elements, y: outer·inner.
/// </summary>
public static class Reduce
{
    /// <summary>y (=|+=) scale · Σ_a x[o, a, i].</summary>
    public static void SumAxis<T>(ReadOnlySpan<T> x, int outer, int axis, int inner, Span<T> y, T scale, bool accumulate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Length < outer * axis * inner) throw new ArgumentException("x is shorter than outer·axis·inner", nameof(x));
        if (y.Length < outer * inner) throw new ArgumentException("destination is too short", nameof(y));
        for (int o = 0; o < outer; o++)
        {
            var yo = y.Slice(o * inner, inner);
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

    /// <summary>dx[o, a, i] += scale · dy[o, i].</summary>
    public static void BroadcastAxis<T>(ReadOnlySpan<T> dy, int outer, int axis, int inner, Span<T> dx, T scale)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (dx.Length < outer * axis * inner) throw new ArgumentException("destination is too short", nameof(dx));
        if (dy.Length < outer * inner) throw new ArgumentException("dy is shorter than outer·inner", nameof(dy));
        for (int o = 0; o < outer; o++)
            for (int a = 0; a < axis; a++)
            {
                var d = dx.Slice((o * axis + a) * inner, inner);
                if (inner == 1) d[0] += scale * dy[o];
                else TensorPrimitives.MultiplyAdd(dy.Slice(o * inner, inner), scale, d, d);
            }
    }
}
