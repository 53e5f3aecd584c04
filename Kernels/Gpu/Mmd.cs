using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using InfoVae.Kernels.Cpu;
using Floats = ILGPU.ArrayView<float>;

namespace InfoVae.Kernels.Gpu;

/// <summary>k(d²) for one scale constant c = s·C, and dk/d(d²). See Kernels/Cpu/MmdSpec for the definitions.</summary>
public interface IGpuMmdKernel
{
    /// <summary>k(d²) for the scale constant c.</summary>
    static abstract float Value(float d2, float c);
    /// <summary>dk/d(d²) for the scale constant c.</summary>
    static abstract float Slope(float d2, float c);
}

/// <summary>
/// Sizes of one MMD² call: X (N, D), Y (M, D); the backward's coefficients 4/nn, 4/mm, −4/(N·M) (see Kernels/Cpu/Mmd);
/// how many groups the forward gives each pair grid, and how the backward cuts each row block's partners into chunks.
/// </summary>
public struct MmdArgs
{
    /// <summary>X (N, D), Y (M, D).</summary>
    public int N, M, D;
    /// <summary>1 for the U-statistic; DoX, DoY: 1 to compute dx, dy (ints, as ILGPU passes them).</summary>
    public int Unbiased, DoX, DoY;   // 0/1
    /// <summary>The backward's weights of the XX, YY and XY pair sums.</summary>
    public float CoefXX, CoefYY, CoefXY;
    /// <summary>Forward: groups (= partial sums) of the XX, YY and XY pair grids, in that order.</summary>
    public int GroupsXX, GroupsYY, GroupsXY;
    /// <summary>
    /// Backward: partner blocks per chunk, and chunks per row block (1: the groups add into dx, dy directly).
    /// </summary>
    public int BlocksPerChunk, Chunks;
}

/// <summary>
/// The tile edge T and the feature count D of an MMD launch as one specialised value: ILGPU compiles the kernels once
/// per (T, D), with both as constants (divisions by T become shifts; the loops over D and over a tile get constant
/// trip counts, which the driver's ptxas can unroll: ILGPU 1.5.3's IR does not).
/// </summary>
public struct MmdShape(int tile, int d) : IEquatable<MmdShape>
{
    /// <summary>The tile edge T and the feature count D.</summary>
    public int Tile = tile, D = d;

    /// <inheritdoc/>
    public readonly bool Equals(MmdShape other) => Tile == other.Tile && D == other.D;
    /// <inheritdoc/>
    public override readonly bool Equals(object? obj) => obj is MmdShape s && Equals(s);
    /// <inheritdoc/>
    public override readonly int GetHashCode() => Tile * 65599 + D;
}

/// <summary>
/// Fused MMD²(X, Y) with the semantics of Kernels/Cpu/Mmd (IMQ or RBF summed over scales, unbiased or biased,
/// N ≠ M allowed), in tiles of pairs: a T×T group takes a T×T block of pairs, walks D in chunks of T through
/// shared memory to get each pair's squared distance (from differences, so never negative), and never stores an
/// N×M matrix in global memory, forward or backward. No atomics anywhere: the same bits every run.
/// Forward: each of the XX, YY and XY pair grids gets at most <see cref="GpuKernels.MmdMaxGroupsPerGrid"/> groups;
/// a group walks its blocks (g, g + G, …) in order, each thread keeping its pairs' kernel values in one float,
/// then reduces its T² values with a fixed tree into one partial. <see cref="MmdCombineKernel"/> (one group) then
/// sums each grid's partials with a strided loop and a fixed tree, in double.
/// Backward: one group per (T rows of X or Y, chunk of partner blocks); a row block's partners are the blocks of its
/// own set, then those of the other set, cut into chunks so that a batch of 256 still gives hundreds of groups.
/// With one chunk the groups add into dx and dy directly; with more, each chunk writes its own slice of scratch and
/// <see cref="MmdGradReduceKernel"/> adds the slices in chunk order. Each gradient element has one owner thread per
/// launch; when dx and dy are the same buffer (MMD(x, x)) the two sides go in separate launches, one after the other.
/// </summary>
public static class MmdKernels
{
    /// <summary>IMQ: k = c / (c + d²), dk/dd² = −c / (c + d²)².</summary>
    public readonly struct Imq : IGpuMmdKernel
    {
        /// <inheritdoc/>
        public static float Value(float d2, float c) => c / (c + d2);
        /// <inheritdoc/>
        public static float Slope(float d2, float c) { float r = 1f / (c + d2); return -c * r * r; }
    }

    /// <summary>RBF: k = exp(−d²/c), dk/dd² = −k/c.</summary>
    public readonly struct Rbf : IGpuMmdKernel
    {
        /// <inheritdoc/>
        public static float Value(float d2, float c) => XMath.Exp(-d2 / c);
        /// <inheritdoc/>
        public static float Slope(float d2, float c) => -XMath.Exp(-d2 / c) / c;
    }

    /// <summary>
    /// Shared floats a launch needs for tile edge t: two row chunks (t × (t+1) each) and t² for the pair values.
    /// </summary>
    public static int SharedFloats(int t) => 2 * t * (t + 1) + t * t;

    /// <summary>
    /// One group per tile of pairs: its share of the XX, YY or XY kernel sums, into partials (summed in order after).
    /// </summary>
    public static void MmdForwardKernel<TK>(ArrayView<float> x, ArrayView<float> y, ArrayView<float> scaledC,
        ArrayView<float> partials, MmdArgs p, SpecializedValue<MmdShape> shape) where TK : struct, IGpuMmdKernel
    {
        int t = shape.Value.Tile, d = shape.Value.D;
        var sh = SharedMemory.GetDynamic<float>();
        int tn = GpuMath.CeilDiv(p.N, t), tm = GpuMath.CeilDiv(p.M, t);
        int g = Grid.IdxX, ty = Group.IdxY, tx = Group.IdxX;
        // The group's pair grid (XX, then YY, then XY: the order the combine kernel reads them) and its place there.
        ArrayView<float> a = x, b = x;
        int na = p.N, nb = p.N, cols = tn, blocks = tn * tn, groups = p.GroupsXX, q = g;
        bool self = true;
        if (g >= p.GroupsXX + p.GroupsYY)
        {
            b = y; nb = p.M; cols = tm; blocks = tn * tm; groups = p.GroupsXY; q = g - p.GroupsXX - p.GroupsYY;
            self = false;
        }
        else if (g >= p.GroupsXX)
        {
            a = y; b = y; na = nb = p.M; cols = tm; blocks = tm * tm; groups = p.GroupsYY; q = g - p.GroupsXX;
        }
        float v = 0f;
        for (int blk = q; blk < blocks; blk += groups)
        {
            int bi = blk / cols, bj = blk - bi * cols;
            float d2 = PairD2(a, na, b, nb, bi, bj, d, sh, t);
            int i = bi * t + ty, j = bj * t + tx;
            if (i < na && j < nb && !(self && p.Unbiased != 0 && i == j))
                for (int s = 0; s < scaledC.IntLength; s++) v += TK.Value(d2, scaledC[s]);
        }

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

    /// <summary>
    /// One group: result[0] = Σxx/nn + Σyy/mm − 2 Σxy/(N·M) over the partials of <see cref="MmdForwardKernel"/>, each
    /// Σ a strided loop per thread and a fixed tree, in double (the three sums nearly cancel when MMD² is small).
    /// </summary>
    public static void MmdCombineKernel(ArrayView<float> partials, ArrayView<float> result, MmdArgs p)
    {
        var sh = SharedMemory.Allocate<double>(ReduceKernels.MaxGroup);
        double sxx = GroupSum(partials, 0, p.GroupsXX, sh);
        double syy = GroupSum(partials, p.GroupsXX, p.GroupsYY, sh);
        double sxy = GroupSum(partials, p.GroupsXX + p.GroupsYY, p.GroupsXY, sh);
        if (Group.IdxX == 0)
        {
            double n = p.N, m = p.M;
            double nn = p.Unbiased != 0 ? n * (n - 1) : n * n, mm = p.Unbiased != 0 ? m * (m - 1) : m * m;
            result[0] = (float)(sxx / nn + syy / mm - 2 * sxy / (n * m));
        }
    }

    /// <summary>
    /// Σ v[start .. start + count) over the group (its size a power of two), the same in every thread.
    /// </summary>
    static double GroupSum(ArrayView<float> v, int start, int count, ArrayView<double> sh)
    {
        int t = Group.IdxX, g = Group.DimX;
        double s = 0;
        for (int k = t; k < count; k += g) s += v[start + k];
        sh[t] = s;
        Group.Barrier();
        for (int half = g / 2; half > 0; half /= 2)
        {
            if (t < half) sh[t] += sh[t + half];
            Group.Barrier();
        }
        double r = sh[0];
        Group.Barrier();   // every thread has read the total before the next sum reuses sh
        return r;
    }

    /// <summary>
    /// Stage 1 of the backward, g = dResult[0]: the X side (when DoX) takes groups [0, ⌈N/T⌉·Chunks), the Y side
    /// (when DoY) the next ⌈M/T⌉·Chunks; group (row block, chunk) adds g·coef·Σ_j k'(d²_ij)(a_i − b_j) over the
    /// chunk's partner blocks into targetX or targetY: dx or dy when Chunks = 1, else scratch laid out (chunk, row, D).
    /// </summary>
    public static void MmdBackwardKernel<TK>(ArrayView<float> x, ArrayView<float> y, ArrayView<float> scaledC,
        ArrayView<float> dResult, ArrayView<float> targetX, ArrayView<float> targetY, MmdArgs p,
        SpecializedValue<MmdShape> shape) where TK : struct, IGpuMmdKernel
    {
        int t = shape.Value.Tile, d = shape.Value.D;
        var sh = SharedMemory.GetDynamic<float>();
        float g = dResult[0];
        int tn = GpuMath.CeilDiv(p.N, t), tm = GpuMath.CeilDiv(p.M, t);
        int grp = Grid.IdxX, firstY = p.DoX != 0 ? tn * p.Chunks : 0;
        bool sideX = grp < firstY;
        int q = sideX ? grp : grp - firstY;
        int bi = q / p.Chunks, chunk = q - bi * p.Chunks;
        // Partner blocks of this row block: its own set's first (coefficient 4/nn or 4/mm), then the other set's.
        ArrayView<float> a = sideX ? x : y, other = sideX ? y : x, target = sideX ? targetX : targetY;
        int na = sideX ? p.N : p.M, no = sideX ? p.M : p.N, ownBlocks = sideX ? tn : tm;
        float cOwn = g * (sideX ? p.CoefXX : p.CoefYY), cOther = g * p.CoefXY;
        bool direct = p.Chunks == 1;
        int offset = direct ? 0 : chunk * na * d;
        int pb0 = chunk * p.BlocksPerChunk, pb1 = XMath.Min(pb0 + p.BlocksPerChunk, tn + tm);
        for (int pb = pb0; pb < pb1; pb++)
        {
            bool own = pb < ownBlocks;
            PartnerBlock<TK>(a, na, own ? a : other, own ? na : no, own ? cOwn : cOther, target, offset,
                bi, own ? pb : pb - ownBlocks, d, scaledC, sh, t, overwrite: !direct && pb == pb0);
        }
    }

    /// <summary>
    /// dA[i] (=|+=) coef · Σ_j k'(d²_ij)(a_i − b_j) for the group's rows i of A against the rows j of B's block bj;
    /// written at target[offset + i·D + k], overwriting when <paramref name="overwrite"/> (a chunk's first block).
    /// </summary>
    static void PartnerBlock<TK>(ArrayView<float> a, int na, ArrayView<float> b, int nb, float coef,
        ArrayView<float> target, int offset, int bi, int bj, int d, ArrayView<float> scaledC, ArrayView<float> sh,
        int t, bool overwrite)
        where TK : struct, IGpuMmdKernel
    {
        int tp = t + 1, bs = t * tp, ws = 2 * t * tp;
        int ty = Group.IdxY, tx = Group.IdxX;
        int i = bi * t + ty;
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
            if (i < na && k < d)
            {
                int e = offset + i * d + k;
                target[e] = (overwrite ? 0f : target[e]) + acc;
            }
            Group.Barrier();
        }
    }

    /// <summary>
    /// Stage 2 of the backward when Chunks &gt; 1: dx[e] += Σ_c scratchX[c, e] (idx &lt; N·D when DoX), then the same
    /// for
    /// dy over the next M·D indices (when DoY), chunks in order.
    /// </summary>
    public static void MmdGradReduceKernel(Index1D idx, ArrayView<float> scratchX, ArrayView<float> scratchY,
        ArrayView<float> dx, ArrayView<float> dy, MmdArgs p)
    {
        int nx = p.DoX != 0 ? p.N * p.D : 0;
        bool sideX = idx < nx;
        int e = sideX ? idx : idx - nx, count = sideX ? p.N * p.D : p.M * p.D;
        var s = sideX ? scratchX : scratchY;
        float acc = 0f;
        for (int c = 0; c < p.Chunks; c++) acc += s[c * count + e];
        if (sideX) dx[e] += acc;
        else dy[e] += acc;
    }

    /// <summary>
    /// ‖a_(bi·t+ty) − b_(bj·t+tx)‖² for this thread, with D walked in chunks of t through shared memory
    /// (rows past na or nb read as zeros). Every thread of the group must call it: it has barriers.
    /// </summary>
    static float PairD2(ArrayView<float> a, int na, ArrayView<float> b, int nb, int bi, int bj, int d,
        ArrayView<float> sh, int t)
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
    /// <summary>Most groups the MMD forward gives one pair grid (XX, YY or XY); a bigger grid's groups loop.</summary>
    public const int MmdMaxGroupsPerGrid = 1024;

    /// <summary>
    /// Groups the MMD backward aims for (~8 resident 256-thread groups on each of 132 SMs): a row block's partners are
    /// cut into enough chunks to get there. Depends on sizes and the tile only, so results do not depend on the device.
    /// </summary>
    public const int MmdBackwardTargetGroups = 1024;

    /// <summary>Scratch floats <see cref="Mmd"/> needs for its partial sums.</summary>
    public int MmdPartialCount(int n, int m)
    {
        var (xx, yy, xy) = MmdGroups(n, m);
        return xx + yy + xy;
    }

    (int XX, int YY, int XY) MmdGroups(int n, int m)
    {
        long tn = GpuMath.CeilDiv(n, Tile), tm = GpuMath.CeilDiv(m, Tile);
        static int Cap(long blocks) => (int)Math.Min(blocks, MmdMaxGroupsPerGrid);
        return (Cap(tn * tn), Cap(tm * tm), Cap(tn * tm));
    }

    /// <summary>The backward's partner blocks per chunk, and chunks per row block (or those asked for).</summary>
    (int BlocksPerChunk, int Chunks) MmdBackwardChunks(int n, int m, bool doX, bool doY, int? chunks)
    {
        int tn = GpuMath.CeilDiv(n, Tile), tm = GpuMath.CeilDiv(m, Tile), partners = tn + tm;
        int rowBlocks = (doX ? tn : 0) + (doY ? tm : 0);
        int wanted = chunks ?? GpuMath.CeilDiv(MmdBackwardTargetGroups, Math.Max(rowBlocks, 1));
        int per = GpuMath.CeilDiv(partners, Math.Clamp(wanted, 1, partners));
        return (per, GpuMath.CeilDiv(partners, per));
    }

    int RowBlocks(int n, int m, bool doX, bool doY) =>
        (doX ? GpuMath.CeilDiv(n, Tile) : 0) + (doY ? GpuMath.CeilDiv(m, Tile) : 0);

    /// <summary>Groups of the backward's stage 1: row blocks of the sides asked for × partner chunks.</summary>
    public int MmdBackwardGroups(int n, int m, bool doX, bool doY, int? chunks = null) =>
        RowBlocks(n, m, doX, doY) * MmdBackwardChunks(n, m, doX, doY, chunks).Chunks;

    /// <summary>Scratch floats <see cref="MmdBackward"/> needs: chunks × (N + M) × D (sides asked for), or 0.</summary>
    public int MmdBackwardScratchLength(int n, int m, int d, bool doX, bool doY, int? chunks = null)
    {
        int c = MmdBackwardChunks(n, m, doX, doY, chunks).Chunks;
        return c == 1 ? 0 : Sizes.Product($"the MMD backward of {n} and {m} samples (its chunk partials)",
            c, (doX ? n : 0) + (doY ? m : 0), d);
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

    KernelConfig MmdConfig(int groups) => new(new Index2D(groups, 1), new Index2D(Tile, Tile),
        SharedMemoryConfig.RequestDynamic<float>(MmdKernels.SharedFloats(Tile)));

    /// <summary>
    /// result[0] = MMD²(X (n, d), Y (m, d)); scaledC from <see cref="ScaledC"/>; partials holds
    /// <see cref="MmdPartialCount"/> floats.
    /// </summary>
    public void Mmd(Floats x, int n, Floats y, int m, int d, MmdSpec spec, Floats scaledC, Floats partials,
        Floats result)
    {
        var p = Args(spec, n, m, d, false, false);
        (p.GroupsXX, p.GroupsYY, p.GroupsXY) = MmdGroups(n, m);
        int groups = p.GroupsXX + p.GroupsYY + p.GroupsXY;
        if (partials.Length < groups)
            throw new ArgumentException($"MMD needs {groups} partials, got {partials.Length}");
        var shape = SpecializedValue.New(new MmdShape(Tile, d));
        var forward = spec.Kernel == MmdKernel.Imq
            ? Grouped<Floats, Floats, Floats, Floats, MmdArgs, SpecializedValue<MmdShape>>(
                MmdKernels.MmdForwardKernel<MmdKernels.Imq>)
            : Grouped<Floats, Floats, Floats, Floats, MmdArgs, SpecializedValue<MmdShape>>(
                MmdKernels.MmdForwardKernel<MmdKernels.Rbf>);
        forward(Stream, MmdConfig(groups), x, y, scaledC, partials, p, shape);
        Grouped<Floats, Floats, MmdArgs>(MmdKernels.MmdCombineKernel)(
            Stream, new KernelConfig(1, ReduceGroup), partials, result, p);
    }

    /// <summary>
    /// dx += dResult[0]·∂MMD²/∂X, dy likewise; an empty view skips that side; dResult stays on the device. scratch
    /// holds <see cref="MmdBackwardScratchLength"/> floats (may be empty when that is 0). <paramref name="chunks"/>
    /// overrides the partner chunks per row block (tests reach both paths with it).
    /// </summary>
    public void MmdBackward(Floats x, int n, Floats y, int m, int d, MmdSpec spec, Floats scaledC, Floats dResult,
        Floats dx, Floats dy, Floats scratch, int? chunks = null)
    {
        bool doX = dx.Length > 0, doY = dy.Length > 0;
        if (!doX && !doY) return;
        var p = Args(spec, n, m, d, doX, doY);
        (p.BlocksPerChunk, p.Chunks) = MmdBackwardChunks(n, m, doX, doY, chunks);
        int need = MmdBackwardScratchLength(n, m, d, doX, doY, chunks);
        if (scratch.Length < need)
            throw new ArgumentException($"MMD backward needs {need} scratch floats, not {scratch.Length}");
        // One gradient buffer for both sides (MMD(x, x)): the X and Y groups would add into the same elements at once.
        bool alias = doX && doY && Overlap(dx, dy);
        var shape = SpecializedValue.New(new MmdShape(Tile, d));
        var onlyX = p; onlyX.DoY = 0;
        var onlyY = p; onlyY.DoX = 0;
        if (p.Chunks == 1)
        {
            if (alias)
            {
                MmdBackwardLaunch(spec, x, y, scaledC, dResult, dx, y, onlyX, shape);
                MmdBackwardLaunch(spec, x, y, scaledC, dResult, x, dy, onlyY, shape);
            }
            else MmdBackwardLaunch(spec, x, y, scaledC, dResult, doX ? dx : x, doY ? dy : y, p, shape);
            return;
        }
        // Stage 1 writes disjoint slices of scratch (X's, then Y's); stage 2 adds them into dx and dy.
        int lx = doX ? p.Chunks * n * d : 0;
        Floats sx = doX ? scratch.SubView(0, lx) : scratch, sy = doY ? scratch.SubView(lx, need - lx) : scratch;
        MmdBackwardLaunch(spec, x, y, scaledC, dResult, sx, sy, p, shape);
        var reduce = Auto<Floats, Floats, Floats, Floats, MmdArgs>(MmdKernels.MmdGradReduceKernel);
        if (alias)
        {
            reduce(Stream, n * d, sx, sy, dx, sy, onlyX);
            reduce(Stream, m * d, sx, sy, sx, dy, onlyY);
        }
        else reduce(Stream, (doX ? n * d : 0) + (doY ? m * d : 0), sx, sy, doX ? dx : sx, doY ? dy : sy, p);
    }

    void MmdBackwardLaunch(MmdSpec spec, Floats x, Floats y, Floats scaledC, Floats dResult, Floats targetX,
        Floats targetY, MmdArgs p, SpecializedValue<MmdShape> shape)
    {
        int groups = RowBlocks(p.N, p.M, p.DoX != 0, p.DoY != 0) * p.Chunks;
        if (groups == 0) return;
        var backward = spec.Kernel == MmdKernel.Imq
            ? Grouped<Floats, Floats, Floats, Floats, Floats, Floats, MmdArgs, SpecializedValue<MmdShape>>(
                MmdKernels.MmdBackwardKernel<MmdKernels.Imq>)
            : Grouped<Floats, Floats, Floats, Floats, Floats, Floats, MmdArgs, SpecializedValue<MmdShape>>(
                MmdKernels.MmdBackwardKernel<MmdKernels.Rbf>);
        backward(Stream, MmdConfig(groups), x, y, scaledC, dResult, targetX, targetY, p, shape);
    }
}
