using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Kernels.Gpu;

/// <summary>k(d²) for one scale constant c = s·C, and dk/d(d²). See Kernels/Cpu/MmdSpec for the definitions.</summary>
public interface IGpuMmdKernel
{
    static abstract float Value(float d2, float c);
    static abstract float Slope(float d2, float c);
}

/// <summary>Sizes of one MMD² call: X (N, D), Y (M, D); the backward's coefficients 4/nn, 4/mm, −4/(N·M) (see Kernels/Cpu/Mmd).</summary>
public struct MmdArgs
{
    public int N, M, D;
    public int Unbiased, DoX, DoY;   // 0/1
    public float CoefXX, CoefYY, CoefXY;
}

/// <summary>
/// Fused MMD²(X, Y) with the semantics of Kernels/Cpu/Mmd (IMQ or RBF summed over scales, unbiased or biased,
/// N ≠ M allowed), in tiles of pairs: a T×T group takes a T×T block of pairs, walks D in chunks of T through
/// shared memory to get each pair's squared distance (from differences, so never negative), and never stores an
/// N×M matrix in global memory, forward or backward.
/// Forward: one group per block of the XX, YY and XY pair grids; each reduces its T² kernel values with a fixed
/// tree into one partial; <see cref="MmdCombineKernel"/> then adds the partials in order, in double. Backward: one
/// group per T rows of X (and of Y); it walks the blocks of partners in order, so each gradient element has one
/// owner thread and a fixed summation order. No atomics: the same bits every run.
/// </summary>
public static class MmdKernels
{
    /// <summary>IMQ: k = c / (c + d²), dk/dd² = −c / (c + d²)².</summary>
    public readonly struct Imq : IGpuMmdKernel
    {
        public static float Value(float d2, float c) => c / (c + d2);
        public static float Slope(float d2, float c) { float r = 1f / (c + d2); return -c * r * r; }
    }

    /// <summary>RBF: k = exp(−d²/c), dk/dd² = −k/c.</summary>
    public readonly struct Rbf : IGpuMmdKernel
    {
        public static float Value(float d2, float c) => XMath.Exp(-d2 / c);
        public static float Slope(float d2, float c) => -XMath.Exp(-d2 / c) / c;
    }

    /// <summary>Shared floats a launch needs for tile edge t: two row chunks (t × (t+1) each) and t² for the pair values.</summary>
    public static int SharedFloats(int t) => 2 * t * (t + 1) + t * t;

    public static void MmdForwardKernel<TK>(ArrayView<float> x, ArrayView<float> y, ArrayView<float> scaledC, ArrayView<float> partials, MmdArgs p)
        where TK : struct, IGpuMmdKernel
    {
        int t = Group.DimX;
        var sh = SharedMemory.GetDynamic<float>();
        int tn = GpuMath.CeilDiv(p.N, t), tm = GpuMath.CeilDiv(p.M, t);
        int g = Grid.IdxX;
        int ty = Group.IdxY, tx = Group.IdxX;
        // The group's block: XX blocks first, then YY, then XY (same order as the combine kernel reads them).
        float d2, v = 0f;
        int i, j, na, nb;
        bool self;
        if (g < tn * tn)
        {
            int bi = g / tn, bj = g - bi * tn;
            d2 = PairD2(x, p.N, x, p.N, bi, bj, p.D, sh, t);
            i = bi * t + ty; j = bj * t + tx; na = nb = p.N; self = true;
        }
        else if (g < tn * tn + tm * tm)
        {
            int h = g - tn * tn, bi = h / tm, bj = h - bi * tm;
            d2 = PairD2(y, p.M, y, p.M, bi, bj, p.D, sh, t);
            i = bi * t + ty; j = bj * t + tx; na = nb = p.M; self = true;
        }
        else
        {
            int h = g - tn * tn - tm * tm, bi = h / tm, bj = h - bi * tm;
            d2 = PairD2(x, p.N, y, p.M, bi, bj, p.D, sh, t);
            i = bi * t + ty; j = bj * t + tx; na = p.N; nb = p.M; self = false;
        }
        if (i < na && j < nb && !(self && p.Unbiased != 0 && i == j))
            for (int s = 0; s < scaledC.IntLength; s++) v += TK.Value(d2, scaledC[s]);

        // Fixed-shape tree over the t² values (t is a power of two).
        int lin = ty * t + tx, red = 2 * t * (t + 1);
        sh[red + lin] = v;
        Group.Barrier();
        for (int half = t * t / 2; half > 0; half /= 2)
        {
            if (lin < half) sh[red + lin] += sh[red + lin + half];
            Group.Barrier();
        }
        if (lin == 0) partials[g] = sh[red];
    }

    /// <summary>One thread: result[0] = Σxx/nn + Σyy/mm − 2 Σxy/(N·M) over the partials of <see cref="MmdForwardKernel"/>, in double.</summary>
    public static void MmdCombineKernel(Index1D index, ArrayView<float> partials, ArrayView<float> result, MmdArgs p, int tile)
    {
        int tn = GpuMath.CeilDiv(p.N, tile), tm = GpuMath.CeilDiv(p.M, tile);
        double sxx = 0, syy = 0, sxy = 0;
        int g = 0;
        for (; g < tn * tn; g++) sxx += partials[g];
        for (; g < tn * tn + tm * tm; g++) syy += partials[g];
        for (; g < tn * tn + tm * tm + tn * tm; g++) sxy += partials[g];
        double n = p.N, m = p.M;
        double nn = p.Unbiased != 0 ? n * (n - 1) : n * n, mm = p.Unbiased != 0 ? m * (m - 1) : m * m;
        result[0] = (float)(sxx / nn + syy / mm - 2 * sxy / (n * m));
    }

    /// <summary>
    /// dx += g·∂MMD²/∂X (groups [0, ⌈N/T⌉) when DoX) and dy += g·∂MMD²/∂Y (the next ⌈M/T⌉ groups when DoY), g = dResult[0].
    /// ∂/∂a_i = coef · Σ_j k'(d²_ij) (a_i − b_j) over the same set (coef 4/nn or 4/mm) and the other (−4/(N·M)).
    /// </summary>
    public static void MmdBackwardKernel<TK>(ArrayView<float> x, ArrayView<float> y, ArrayView<float> scaledC, ArrayView<float> dResult,
        ArrayView<float> dx, ArrayView<float> dy, MmdArgs p) where TK : struct, IGpuMmdKernel
    {
        int t = Group.DimX;
        var sh = SharedMemory.GetDynamic<float>();
        float g = dResult[0];
        int tn = GpuMath.CeilDiv(p.N, t), first = p.DoX != 0 ? tn : 0;
        int grp = Grid.IdxX;
        if (grp < first)
        {
            PartnerGrad<TK>(x, p.N, x, p.N, g * p.CoefXX, dx, grp, p.D, scaledC, sh, t);
            PartnerGrad<TK>(x, p.N, y, p.M, g * p.CoefXY, dx, grp, p.D, scaledC, sh, t);
        }
        else
        {
            PartnerGrad<TK>(y, p.M, y, p.M, g * p.CoefYY, dy, grp - first, p.D, scaledC, sh, t);
            PartnerGrad<TK>(y, p.M, x, p.N, g * p.CoefXY, dy, grp - first, p.D, scaledC, sh, t);
        }
    }

    /// <summary>dA[i] += coef · Σ_j k'(d²_ij)(a_i − b_j) for the group's rows i of A against every row j of B, block by block.</summary>
    static void PartnerGrad<TK>(ArrayView<float> a, int na, ArrayView<float> b, int nb, float coef, ArrayView<float> da, int bi, int d,
        ArrayView<float> scaledC, ArrayView<float> sh, int t) where TK : struct, IGpuMmdKernel
    {
        int tp = t + 1, bs = t * tp, ws = 2 * t * tp;
        int ty = Group.IdxY, tx = Group.IdxX;
        int i = bi * t + ty;
        for (int bj = 0; bj * t < nb; bj++)
        {
            float d2 = PairD2(a, na, b, nb, bi, bj, d, sh, t);
            int j = bj * t + tx;
            float w = 0f;
            // d² = 0 (i = j in a self pair, or equal rows) contributes (a_i − b_j) = 0: skipped as on the CPU.
            if (i < na && j < nb && d2 > 0f)
            {
                float slope = 0f;
                for (int s = 0; s < scaledC.IntLength; s++) slope += TK.Slope(d2, scaledC[s]);
                w = coef * slope;
            }
            sh[ws + ty * t + tx] = w;
            // Now thread (ty, tx) owns feature k = k0 + tx of row i: Σ over the block's t partners in order.
            for (int k0 = 0; k0 < d; k0 += t)
            {
                int k = k0 + tx, rb = bj * t + ty;
                sh[ty * tp + tx] = i < na && k < d ? a[i * d + k] : 0f;
                sh[bs + ty * tp + tx] = rb < nb && k < d ? b[rb * d + k] : 0f;
                Group.Barrier();
                float aik = sh[ty * tp + tx], acc = 0f;
                for (int jj = 0; jj < t; jj++) acc += sh[ws + ty * t + jj] * (aik - sh[bs + jj * tp + tx]);
                if (i < na && k < d) da[i * d + k] += acc;
                Group.Barrier();
            }
        }
    }

    /// <summary>
    /// ‖a_(bi·t+ty) − b_(bj·t+tx)‖² for this thread, with D walked in chunks of t through shared memory
    /// (rows past na or nb read as zeros). Every thread of the group must call it: it has barriers.
    /// </summary>
    static float PairD2(ArrayView<float> a, int na, ArrayView<float> b, int nb, int bi, int bj, int d, ArrayView<float> sh, int t)
    {
        int tp = t + 1, bs = t * tp;
        int ty = Group.IdxY, tx = Group.IdxX;
        int ra = bi * t + ty, rb = bj * t + ty;
        float d2 = 0f;
        for (int k0 = 0; k0 < d; k0 += t)
        {
            int k = k0 + tx;
            sh[ty * tp + tx] = ra < na && k < d ? a[ra * d + k] : 0f;
            sh[bs + ty * tp + tx] = rb < nb && k < d ? b[rb * d + k] : 0f;
            Group.Barrier();
            for (int kk = 0; kk < t; kk++) { float diff = sh[ty * tp + kk] - sh[bs + tx * tp + kk]; d2 += diff * diff; }
            Group.Barrier();
        }
        return d2;
    }
}

public sealed partial class GpuKernels
{
    /// <summary>Scratch floats <see cref="Mmd"/> needs for its partial sums.</summary>
    public int MmdPartialCount(int n, int m)
    {
        long tn = GpuMath.CeilDiv(n, Tile), tm = GpuMath.CeilDiv(m, Tile);
        // One partial per tile pair: the kernels index them with ints, so the count must fit one.
        return Sizes.Checked(tn * tn + tm * tm + tn * tm, $"the MMD of {n} and {m} samples (its tile partial sums)");
    }

    /// <summary>The per-scale constants s·C as floats, for a device buffer that <see cref="Mmd"/> reads.</summary>
    public static float[] ScaledC(MmdSpec spec, int d) => Array.ConvertAll(spec.ScaledC(d), c => (float)c);

    static MmdArgs Args(MmdSpec spec, int n, int m, int d, bool doX, bool doY)
    {
        spec.Validate(n, m);
        double nn = spec.Unbiased ? n * (n - 1.0) : (double)n * n, mm = spec.Unbiased ? m * (m - 1.0) : (double)m * m;
        return new MmdArgs
        {
            N = n, M = m, D = d, Unbiased = spec.Unbiased ? 1 : 0, DoX = doX ? 1 : 0, DoY = doY ? 1 : 0,
            CoefXX = (float)(4 / nn), CoefYY = (float)(4 / mm), CoefXY = (float)(-4 / ((double)n * m)),
        };
    }

    KernelConfig MmdConfig(int groups) => new(new Index2D(groups, 1), new Index2D(Tile, Tile), SharedMemoryConfig.RequestDynamic<float>(MmdKernels.SharedFloats(Tile)));

    /// <summary>result[0] = MMD²(X (n, d), Y (m, d)); scaledC from <see cref="ScaledC"/>; partials holds <see cref="MmdPartialCount"/> floats.</summary>
    public void Mmd(ArrayView<float> x, int n, ArrayView<float> y, int m, int d, MmdSpec spec, ArrayView<float> scaledC,
        ArrayView<float> partials, ArrayView<float> result)
    {
        var p = Args(spec, n, m, d, false, false);
        int groups = MmdPartialCount(n, m);
        if (partials.Length < groups) throw new ArgumentException($"MMD needs {groups} partials, got {partials.Length}");
        if (spec.Kernel == MmdKernel.Imq)
            Grouped<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, MmdArgs>(MmdKernels.MmdForwardKernel<MmdKernels.Imq>)(
                Stream, MmdConfig(groups), x, y, scaledC, partials, p);
        else
            Grouped<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, MmdArgs>(MmdKernels.MmdForwardKernel<MmdKernels.Rbf>)(
                Stream, MmdConfig(groups), x, y, scaledC, partials, p);
        Auto<ArrayView<float>, ArrayView<float>, MmdArgs, int>(MmdKernels.MmdCombineKernel)(Stream, 1, partials, result, p, Tile);
    }

    /// <summary>dx += dResult[0]·∂MMD²/∂X, dy likewise; an empty view skips that side. dResult stays on the device.</summary>
    public void MmdBackward(ArrayView<float> x, int n, ArrayView<float> y, int m, int d, MmdSpec spec, ArrayView<float> scaledC,
        ArrayView<float> dResult, ArrayView<float> dx, ArrayView<float> dy)
    {
        bool doX = dx.Length > 0, doY = dy.Length > 0;
        var p = Args(spec, n, m, d, doX, doY);
        int groups = (doX ? GpuMath.CeilDiv(n, Tile) : 0) + (doY ? GpuMath.CeilDiv(m, Tile) : 0);
        if (groups == 0) return;
        // A side that is skipped still needs a view to pass; it is never touched.
        if (!doX) dx = x;
        if (!doY) dy = y;
        if (spec.Kernel == MmdKernel.Imq)
            Grouped<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, MmdArgs>(
                MmdKernels.MmdBackwardKernel<MmdKernels.Imq>)(Stream, MmdConfig(groups), x, y, scaledC, dResult, dx, dy, p);
        else
            Grouped<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, MmdArgs>(
                MmdKernels.MmdBackwardKernel<MmdKernels.Rbf>)(Stream, MmdConfig(groups), x, y, scaledC, dResult, dx, dy, p);
    }
}
