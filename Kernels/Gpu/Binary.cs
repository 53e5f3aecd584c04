using ILGPU;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

/// <summary>c = a ∘ b, and the two partial derivatives times the upstream gradient dy.</summary>
public interface IGpuBinaryOp
{
    /// <summary>c = a ∘ b.</summary>
    static abstract float Forward(float a, float b);
    /// <summary>dy · ∂c/∂a.</summary>
    static abstract float GradA(float a, float b, float dy);
    /// <summary>dy · ∂c/∂b.</summary>
    static abstract float GradB(float a, float b, float dy);
}

/// <summary>
/// The index space of a broadcast binary op, padded to rank 4 (D0..D3, the output's dims) with each operand's
/// element strides in it: 0 along an axis where that operand has size 1 and is repeated (NumPy broadcasting).
/// </summary>
public struct Broadcast4
{
    /// <summary>The output's four dims, padded to rank 4 with leading 1s.</summary>
    public int D0, D1, D2, D3;
    /// <summary>a's element strides in the output's index space (0 where a is repeated).</summary>
    public int A0, A1, A2, A3;
    /// <summary>b's element strides in the output's index space (0 where b is repeated).</summary>
    public int B0, B1, B2, B3;

    /// <summary>
    /// Builds the layout from row-major dims; <paramref name="a"/> and <paramref name="b"/> must broadcast to <paramref
    /// name="c"/>.
    /// </summary>
    public static Broadcast4 Create(ReadOnlySpan<int> c, ReadOnlySpan<int> a, ReadOnlySpan<int> b)
    {
        Span<int> d = stackalloc int[4], sa = stackalloc int[4], sb = stackalloc int[4];
        Strides(c, a, d, sa);
        Strides(c, b, d, sb);
        return new Broadcast4
        {
            D0 = d[0], D1 = d[1], D2 = d[2], D3 = d[3],
            A0 = sa[0], A1 = sa[1], A2 = sa[2], A3 = sa[3],
            B0 = sb[0], B1 = sb[1], B2 = sb[2], B3 = sb[3],
        };
    }

    static void Strides(ReadOnlySpan<int> output, ReadOnlySpan<int> operand, Span<int> dims, Span<int> strides)
    {
        if (output.Length > 4 || operand.Length > output.Length)
            throw new ArgumentException("broadcast needs rank ≤ 4 and the operand's rank ≤ the output's");
        int pad = 4 - output.Length, opPad = 4 - operand.Length, stride = 1;
        for (int i = 3; i >= 0; i--)
        {
            dims[i] = i < pad ? 1 : output[i - pad];
            int od = i < opPad ? 1 : operand[i - opPad];
            if (od != 1 && od != dims[i])
                throw new ArgumentException($"operand dim {od} does not broadcast to {dims[i]}");
            strides[i] = od == 1 ? 0 : stride;
            stride *= od;
        }
    }

    /// <summary>Elements of the output.</summary>
    public readonly int Length => Sizes.Product("a broadcast output", D0, D1, D2, D3);
}

/// <summary>
/// Elementwise binary kernels: equal shapes (flat index) and NumPy broadcasting over a <see cref="Broadcast4"/>
/// (a bias row vector added to every row is the common case). The broadcast backward gives each element of an
/// operand's gradient one thread that sums, in row-major output order, every output it was repeated into: no
/// atomics, the same bits every run. The ops are in Kernels/BinaryOps.cs, next to their CPU forms.
/// </summary>
public static class BinaryKernels
{
    /// <summary>c[i] = a[i] ∘ b[i] for equal shapes.</summary>
    public static void BinaryKernel<TOp>(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c)
        where TOp : struct, IGpuBinaryOp =>
        c[i] = TOp.Forward(a[i], b[i]);

    /// <summary>da[i] += GradA for equal shapes.</summary>
    public static void GradAKernel<TOp>(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> dy,
        ArrayView<float> da) where TOp : struct, IGpuBinaryOp =>
        da[i] += TOp.GradA(a[i], b[i], dy[i]);

    /// <summary>db[i] += GradB for equal shapes.</summary>
    public static void GradBKernel<TOp>(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> dy,
        ArrayView<float> db) where TOp : struct, IGpuBinaryOp =>
        db[i] += TOp.GradB(a[i], b[i], dy[i]);

    /// <summary>c[i] = a[i·sa] ∘ b[i·sb], one thread per output element.</summary>
    public static void BroadcastKernel<TOp>(Index1D i, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c,
        Broadcast4 s) where TOp : struct, IGpuBinaryOp
    {
        int i3 = i % s.D3, t = i / s.D3;
        int i2 = t % s.D2; t /= s.D2;
        int i1 = t % s.D1, i0 = t / s.D1;
        c[i] = TOp.Forward(a[i0 * s.A0 + i1 * s.A1 + i2 * s.A2 + i3 * s.A3],
            b[i0 * s.B0 + i1 * s.B1 + i2 * s.B2 + i3 * s.B3]);
    }

    /// <summary>
    /// da[e] += Σ over the outputs element e of a was repeated into of GradA; one thread per element of a.
    /// </summary>
    public static void BroadcastGradAKernel<TOp>(Index1D e, ArrayView<float> a, ArrayView<float> b, ArrayView<float> dy,
        ArrayView<float> da, Broadcast4 s)
        where TOp : struct, IGpuBinaryOp =>
        da[e] += SumOverRepeats<TOp>(e, a, b, dy, s, forA: true);

    /// <summary>
    /// db[e] += Σ over the outputs element e of b was repeated into of GradB; one thread per element of b.
    /// </summary>
    public static void BroadcastGradBKernel<TOp>(Index1D e, ArrayView<float> a, ArrayView<float> b, ArrayView<float> dy,
        ArrayView<float> db, Broadcast4 s)
        where TOp : struct, IGpuBinaryOp =>
        db[e] += SumOverRepeats<TOp>(e, a, b, dy, s, forA: false);

    static float SumOverRepeats<TOp>(int e, ArrayView<float> a, ArrayView<float> b, ArrayView<float> dy, Broadcast4 s,
        bool forA) where TOp : struct, IGpuBinaryOp
    {
        // The operand's own dims: D_k where it has a stride, 1 where it is repeated; e is row-major over them.
        int n0 = (forA ? s.A0 : s.B0) != 0 ? s.D0 : 1, n1 = (forA ? s.A1 : s.B1) != 0 ? s.D1 : 1;
        int n2 = (forA ? s.A2 : s.B2) != 0 ? s.D2 : 1, n3 = (forA ? s.A3 : s.B3) != 0 ? s.D3 : 1;
        int j3 = e % n3, t = e / n3;
        int j2 = t % n2; t /= n2;
        int j1 = t % n1, j0 = t / n1;
        // Loop over the repeated axes only; the others stay at the element's own index.
        int r0 = n0 == 1 ? s.D0 : 1, r1 = n1 == 1 ? s.D1 : 1, r2 = n2 == 1 ? s.D2 : 1, r3 = n3 == 1 ? s.D3 : 1;
        float acc = 0f;
        for (int q0 = 0; q0 < r0; q0++)
            for (int q1 = 0; q1 < r1; q1++)
                for (int q2 = 0; q2 < r2; q2++)
                    for (int q3 = 0; q3 < r3; q3++)
                    {
                        int i0 = n0 == 1 ? q0 : j0, i1 = n1 == 1 ? q1 : j1, i2 = n2 == 1 ? q2 : j2,
                            i3 = n3 == 1 ? q3 : j3;
                        int o = ((i0 * s.D1 + i1) * s.D2 + i2) * s.D3 + i3;
                        float av = a[i0 * s.A0 + i1 * s.A1 + i2 * s.A2 + i3 * s.A3],
                            bv = b[i0 * s.B0 + i1 * s.B1 + i2 * s.B2 + i3 * s.B3];
                        acc += forA ? TOp.GradA(av, bv, dy[o]) : TOp.GradB(av, bv, dy[o]);
                    }
        return acc;
    }
}

public sealed partial class GpuKernels
{
    /// <summary>c = a ∘ b for equal shapes, over c's length.</summary>
    public void Binary<TOp>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c) where TOp : struct, IGpuBinaryOp
    {
        if (c.Length == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>>(BinaryKernels.BinaryKernel<TOp>)(Stream, Threads(c),
            a, b, c);
    }

    /// <summary>c = a ∘ b with broadcasting; c holds <see cref="Broadcast4.Length"/> elements.</summary>
    public void Binary<TOp>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, Broadcast4 s)
        where TOp : struct, IGpuBinaryOp
    {
        if (s.Length == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>,
            Broadcast4>(BinaryKernels.BroadcastKernel<TOp>)(Stream, s.Length, a, b, c, s);
    }

    /// <summary>da += ∂c/∂a · dy and db += ∂c/∂b · dy for equal shapes; an empty view skips that side.</summary>
    public void BinaryBackward<TOp>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> dy, ArrayView<float> da,
        ArrayView<float> db) where TOp : struct, IGpuBinaryOp
    {
        if (da.Length > 0)
            Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>>(BinaryKernels.GradAKernel<TOp>)(Stream, Threads(da), a, b, dy, da);
        if (db.Length > 0)
            Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>>(BinaryKernels.GradBKernel<TOp>)(Stream, Threads(db), a, b, dy, db);
    }

    /// <summary>The broadcast backward: each operand's gradient summed over the axes it was repeated along.</summary>
    public void BinaryBackward<TOp>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> dy, ArrayView<float> da,
        ArrayView<float> db, Broadcast4 s)
        where TOp : struct, IGpuBinaryOp
    {
        if (da.Length > 0)
            Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                Broadcast4>(BinaryKernels.BroadcastGradAKernel<TOp>)(Stream, Threads(da), a, b, dy, da, s);
        if (db.Length > 0)
            Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                Broadcast4>(BinaryKernels.BroadcastGradBKernel<TOp>)(Stream, Threads(db), a, b, dy, db, s);
    }
}
