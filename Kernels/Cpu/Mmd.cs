using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using static InfoVae.Kernels.Cpu.PairTiles;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// Fused MMD² between X (n×D) and Y (m×D), see <see cref="MmdSpec"/>. Forward and backward stream over 64 × 64
/// tiles of pairs (<see cref="PairTiles"/>): no n×m matrix is ever stored, the backward recomputes the distances.
/// Squared distances are ‖a‖² + ‖b‖² − 2a·b clamped at 0, never through a sqrt.
/// Work is split over row blocks of 64 points (<see cref="Workers.For"/>); each block's partial sum is kept in
/// double and the blocks are added in block order, so results are the same bits with one thread or two.
/// Scratch, reused across calls: the packed inputs, O((n + m)·D), on the calling thread; per worker one 64 × 64
/// tile and the gradient accumulators of up to 4 row blocks, O(64² + 256·D).
/// Reference: <c>Reference.Mmd</c>, <c>Reference.MmdBackward</c>.
/// </summary>
public static unsafe class Mmd
{
    /// <summary>MMD²(X, Y) for X (n, d) and Y (m, d), under the kernel and scales of <paramref name="spec"/>.</summary>
    public static T Forward<T>(ReadOnlySpan<T> x, int n, ReadOnlySpan<T> y, int m, int d, MmdSpec spec)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        spec.Validate(n, m);
        CheckInputs(x, n, y, m, d);
        return Vector512.IsHardwareAccelerated
            ? Forward<T, Vector512<T>, Vector512<double>, Lanes512<T>>(x, n, y, m, d, spec)
            : Forward<T, Vector256<T>, Vector256<double>, Lanes256<T>>(x, n, y, m, d, spec);
    }

    /// <summary>dx += g · ∂MMD²/∂X and dy += g · ∂MMD²/∂Y; an empty span skips that side.</summary>
    public static void Backward<T>(ReadOnlySpan<T> x, int n, ReadOnlySpan<T> y, int m, int d, MmdSpec spec, T g,
        Span<T> dx, Span<T> dy)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        spec.Validate(n, m);
        CheckInputs(x, n, y, m, d);
        if (!dx.IsEmpty && dx.Length < (long)n * d) throw new ArgumentException("dx is shorter than n·d", nameof(dx));
        if (!dy.IsEmpty && dy.Length < (long)m * d) throw new ArgumentException("dy is shorter than m·d", nameof(dy));
        if (dx.IsEmpty && dy.IsEmpty) return;
        if (Vector512.IsHardwareAccelerated)
            Backward<T, Vector512<T>, Vector512<double>, Lanes512<T>>(x, n, y, m, d, spec, g, dx, dy);
        else
            Backward<T, Vector256<T>, Vector256<double>, Lanes256<T>>(x, n, y, m, d, spec, g, dx, dy);
    }

    /// <summary>k(d²) summed over the scales, and its derivative with respect to d².</summary>
    public static (double K, double DK) Kernel(MmdKernel kind, double[] sc, double d2)
    {
        double k = 0, dk = 0;
        foreach (var c in sc)
        {
            if (kind == MmdKernel.Imq) { double r = 1 / (c + d2); k += c * r; dk -= c * r * r; }
            else { double e = Math.Exp(-d2 / c); k += e; dk -= e / c; }
        }
        return (k, dk);
    }

    static void CheckInputs<T>(ReadOnlySpan<T> x, int n, ReadOnlySpan<T> y, int m, int d)
    {
        if (d < 0) throw new ArgumentException($"negative point dimension {d}");
        if (x.Length < (long)n * d) throw new ArgumentException("x is shorter than n·d", nameof(x));
        if (y.Length < (long)m * d) throw new ArgumentException("y is shorter than m·d", nameof(y));
    }

    /// <summary>
    /// Per scale, the constant the vector kernels use: s·C for IMQ, −1/(s·C) for RBF (a multiply instead of a
    /// divide). C = 2·D·bandwidth² as in <see cref="MmdSpec.ScaledC"/>, without its allocation.
    /// </summary>
    static void ScaleConstants<T>(MmdSpec spec, int d, T* consts) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int s = 0; s < spec.Scales.Length; s++)
        {
            double c = spec.Scales[s] * 2.0 * d * spec.Bandwidth * spec.Bandwidth;
            consts[s] = T.CreateTruncating(spec.Kernel == MmdKernel.Imq ? c : -1.0 / c);
        }
    }

    // ---- forward: Σ k over the pairs of X×X (upper tiles, counted twice), Y×Y and X×Y; one work item per row block.

    static T Forward<T, TV, TD, TL>(ReadOnlySpan<T> x, int n, ReadOnlySpan<T> y, int m, int d, MmdSpec spec)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        int px = Panels(n), py = Panels(m), stride = PanelStride(d), ns = spec.Scales.Length;
        var scratch = PairScratch<T>.Shared;
        T* panX = scratch.Reserve((long)(px + py) * stride + ns);
        T* panY = panX + (nint)px * stride, consts = panY + (nint)py * stride;
        double[] partials = scratch.ReservePartials(2 * px + py);
        ScaleConstants(spec, d, consts);
        fixed (T* xs = x, ys = y)
        {
            PackPanels<T, TV, TD, TL>(xs, n, d, panX);
            PackPanels<T, TV, TD, TL>(ys, m, d, panY);
        }
        var body = new ForwardBody<T, TV, TD, TL>
        {
            PanX = panX, PanY = panY, N = n, M = m, D = d, Px = px, Py = py, Consts = consts, Scales = ns,
            Imq = spec.Kernel == MmdKernel.Imq, Unbiased = spec.Unbiased, Partials = partials,
        };
        Workers.For(2 * px + py, ref body);
        double sxx = 0, syy = 0, sxy = 0;
        for (int i = 0; i < px; i++) sxx += partials[i];
        for (int i = 0; i < py; i++) syy += partials[px + i];
        for (int i = 0; i < px; i++) sxy += partials[px + py + i];
        double nn = spec.Unbiased ? n * (n - 1.0) : (double)n * n, mm = spec.Unbiased ? m * (m - 1.0) : (double)m * m;
        return T.CreateTruncating(sxx / nn + syy / mm - 2 * sxy / ((double)n * m));
    }

    struct ForwardBody<T, TV, TD, TL> : IParallelBody
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        public T* PanX, PanY, Consts;
        public int N, M, D, Px, Py, Scales;
        public bool Imq, Unbiased;
        public double[] Partials;

        // Items 0..Px-1: X×X row blocks; then Y×Y row blocks; then X×Y row blocks.
        public readonly void Run(int item)
        {
            int stride = PanelStride(D);
            T* dist = PairScratch<T>.Local.Reserve(Tile * Tile);
            bool self = item < Px + Py;
            bool onX = item < Px || item >= Px + Py;
            int block = item < Px ? item : item < Px + Py ? item - Px : item - Px - Py;
            T* rowPanel = (onX ? PanX : PanY) + (nint)block * stride;
            int rows = Math.Min(Tile, (onX ? N : M) - block * Tile), rows4 = RoundUp4(rows);
            T* cols = self ? (onX ? PanX : PanY) : PanY;
            int colPanels = self ? (onX ? Px : Py) : Py;
            double sum = 0;
            for (int j = self ? block : 0; j < colPanels; j++)
            {
                DistanceTile<T, TV, TD, TL>(rowPanel, cols + (nint)j * stride, D, rows4, dist, Tile);
                if (self && j == block && Unbiased)
                    // k(∞) = 0: the diagonal drops out
                    for (int r = 0; r < rows; r++) dist[r * Tile + r] = T.PositiveInfinity;
                double s = Imq ? SumImq<T, TV, TD, TL>(dist, rows * Tile, Consts, Scales)
                    : SumRbf<T, TV, TD, TL>(dist, rows * Tile, Consts, Scales);
                // an off-diagonal tile of a symmetric term stands for its mirror too
                sum += self && j != block ? 2 * s : s;
            }
            Partials[item] = sum;
        }
    }

    // Σ over t of Σ_s c_s / (c_s + t), summed in double. Two scales share one division:
    // c1/(c1 + t) + c2/(c2 + t) = (c1 (c2 + t) + c2 (c1 + t)) / ((c1 + t)(c2 + t)). That is ∞/∞ at t = ∞ (padding,
    // an excluded diagonal), where k is 0 by definition; past t ≈ 1e19 (float) the product overflows to ∞ and the
    // pair gives 0 instead of about 2c/t.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static double SumImq<T, TV, TD, TL>(T* t, int count, T* c, int ns)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        TD acc = TL.WideZero;
        for (int i = 0; i < count; i += TL.Count)
        {
            TV tv = TL.Load(t + i), k = TL.Zero;
            int s = 0;
            for (; s + 1 < ns; s += 2)
            {
                TV c1 = TL.Create(c[s]), c2 = TL.Create(c[s + 1]);
                TV d1 = TL.Add(c1, tv), d2 = TL.Add(c2, tv);
                k = TL.Add(k, TL.Div(TL.Fma(c1, d2, TL.Mul(c2, d1)), TL.Mul(d1, d2)));
            }
            if (s < ns)
            {
                TV cv = TL.Create(c[s]);
                k = TL.Add(k, TL.Div(cv, TL.Add(cv, tv)));
            }
            acc = TL.AddWide(acc, TL.ZeroWhereInfinite(tv, k));
        }
        return TL.SumWide(acc);
    }

    // Σ over t of Σ_s exp(t · (−1/c_s)), summed in double.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static double SumRbf<T, TV, TD, TL>(T* t, int count, T* nic, int ns)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        TD acc = TL.WideZero;
        for (int i = 0; i < count; i += TL.Count)
        {
            TV tv = TL.Load(t + i), k = TL.Zero;
            for (int s = 0; s < ns; s++) k = TL.Add(k, TL.Exp(TL.Mul(tv, TL.Create(nic[s]))));
            acc = TL.AddWide(acc, k);
        }
        return TL.SumWide(acc);
    }

    // ---- backward: per row block of X, dX_i += Σ_j w_ij (x_i − x_j) + Σ_j w'_ij (x_i − y_j) with
    // w = 4g/nn · k'(d²), w' = −4g/(nm) · k'(d²), evaluated per tile as x_i·rowsum(W) − W·X_tile. Y likewise.

    static void Backward<T, TV, TD, TL>(ReadOnlySpan<T> x, int n, ReadOnlySpan<T> y, int m, int d, MmdSpec spec, T g,
        Span<T> dx, Span<T> dy)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        int px = Panels(n), py = Panels(m), stride = PanelStride(d), padD = PadD<T>(d), ns = spec.Scales.Length;
        var scratch = PairScratch<T>.Shared;
        T* panX = scratch.Reserve((long)(px + py) * stride + (long)(n + m) * padD + ns);
        T* panY = panX + (nint)px * stride, rowsX = panY + (nint)py * stride, rowsY = rowsX + (nint)n * padD,
            consts = rowsY + (nint)m * padD;
        ScaleConstants(spec, d, consts);
        double gd = double.CreateTruncating(g);
        double nn = spec.Unbiased ? n * (n - 1.0) : (double)n * n, mm = spec.Unbiased ? m * (m - 1.0) : (double)m * m;
        fixed (T* xs = x, ys = y, dxs = dx, dys = dy)
        {
            PackPanels<T, TV, TD, TL>(xs, n, d, panX);
            PackPanels<T, TV, TD, TL>(ys, m, d, panY);
            PackRows(xs, n, d, padD, rowsX);
            PackRows(ys, m, d, padD, rowsY);
            var body = new BackwardBody<T, TV, TD, TL>
            {
                X = xs, Y = ys, Dx = dxs, Dy = dys, PanX = panX, PanY = panY, RowsX = rowsX, RowsY = rowsY,
                Consts = consts,
                N = n, M = m, D = d, PadD = padD, Scales = ns, Imq = spec.Kernel == MmdKernel.Imq,
                GroupX = GroupOf(px), GroupY = GroupOf(py),
                ItemsX = dx.IsEmpty ? 0 : (px + GroupOf(px) - 1) / GroupOf(px),
                ItemsY = dy.IsEmpty ? 0 : (py + GroupOf(py) - 1) / GroupOf(py),
                CoefXX = T.CreateTruncating(4 * gd / nn), CoefYY = T.CreateTruncating(4 * gd / mm),
                CoefXY = T.CreateTruncating(-4 * gd / ((double)n * m)),
            };
            if (!dx.Overlaps(dy)) Workers.For(body.ItemsX + body.ItemsY, ref body);
            else
            {
                // dX and dY are one buffer (MMD of x against itself): the dX blocks and the dY blocks would add to the
                // same rows at once, so they run one after the other.
                var first = body; first.ItemsY = 0;
                Workers.For(first.ItemsX, ref first);
                var second = body; second.ItemsX = 0;
                Workers.For(second.ItemsY, ref second);
            }
        }
    }

    // Row blocks per work item: up to 4 (a column panel then serves 256 rows before it leaves the cache), while
    // keeping at least 8 items for the two cores. Depends on n only, never on the thread count.
    static int GroupOf(int panels) => Math.Clamp(panels / 8, 1, 4);

    struct BackwardBody<T, TV, TD, TL> : IParallelBody
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        public T* X, Y, Dx, Dy, PanX, PanY, RowsX, RowsY, Consts;
        public int N, M, D, PadD, Scales, GroupX, GroupY, ItemsX, ItemsY;
        public bool Imq;
        public T CoefXX, CoefYY, CoefXY;

        // Items 0..ItemsX-1: groups of GroupX row blocks of dX; then groups of row blocks of dY. Each writes only its
        // own rows, and each row block sums its column tiles in the same order whatever the grouping.
        public readonly void Run(int item)
        {
            bool onX = item < ItemsX;
            int group = onX ? GroupX : GroupY, first = (onX ? item : item - ItemsX) * group, stride = PanelStride(D),
                v = TL.Count;
            int own = onX ? N : M, other = onX ? M : N, blocks = Math.Min(group, Panels(own) - first);
            T* panSelf = onX ? PanX : PanY, panOther = onX ? PanY : PanX, rowsSelf = onX ? RowsX : RowsY,
                rowsOther = onX ? RowsY : RowsX;

            // Per row block b: acc (64, Dp) for Σ_j w_ij x_j, rowSums (64 vectors) for Σ_j w_ij; then the shared tile
            // w.
            T* acc = PairScratch<T>.Local.Reserve((long)group * Tile * (PadD + v) + Tile * Tile);
            T* rowSums = acc + group * Tile * PadD, w = rowSums + group * Tile * v;
            new Span<T>(acc, group * Tile * (PadD + v)).Clear();

            // Column panel outside, row blocks inside: a column panel is read from memory once per group.
            for (int side = 0; side < 2; side++)
            {
                T* pan = side == 0 ? panSelf : panOther, rowsCol = side == 0 ? rowsSelf : rowsOther;
                int count = side == 0 ? own : other;
                T coef = side == 0 ? (onX ? CoefXX : CoefYY) : CoefXY;
                for (int j = 0, panels = Panels(count); j < panels; j++)
                    for (int b = 0; b < blocks; b++)
                    {
                        int block = first + b, rows = Math.Min(Tile, own - block * Tile), rows4 = RoundUp4(rows);
                        DistanceTile<T, TV, TD, TL>(panSelf + (nint)block * stride, pan + (nint)j * stride, D, rows4, w,
                            Tile);
                        if (side == 0 && j == block)
                            // k'(∞) = 0; x_i − x_i = 0 anyway
                            for (int r = 0; r < rows; r++) w[r * Tile + r] = T.PositiveInfinity;
                        Weights(w, rows, coef, rowSums + b * Tile * v);
                        AccumulateWX<T, TV, TD, TL>(w, Tile, 1, rows4, Math.Min(Tile, count - j * Tile),
                            rowsCol + (nint)j * Tile * PadD,
                            PadD, acc + b * Tile * PadD);
                    }
            }

            for (int b = 0; b < blocks; b++)
            {
                int block = first + b, rows = Math.Min(Tile, own - block * Tile);
                T* src = (onX ? X : Y) + (nint)block * Tile * D, dst = (onX ? Dx : Dy) + (nint)block * Tile * D;
                T* accB = acc + b * Tile * PadD, sumsB = rowSums + b * Tile * v;
                for (int r = 0; r < rows; r++)
                    AddScaledMinus<T, TV, TD, TL>(dst + r * D, src + r * D, TL.Sum(TL.Load(sumsB + r * v)),
                        accB + r * PadD, D);
            }
        }

        // In place: t (rows, 64) squared distances → w = coef · k'(t), 0 where t ≤ 0; rowSums[r] (a vector) += Σ_c w[r,
        // c].
        readonly void Weights(T* t, int rows, T coef, T* rowSums)
        {
            if (Imq) WeightsImq<T, TV, TD, TL>(t, rows, -coef, Consts, Scales, rowSums);
            else WeightsRbf<T, TV, TD, TL>(t, rows, coef, Consts, Scales, rowSums);
        }
    }

    // IMQ: k'(t) = −Σ_s c_s / (c_s + t)²; negCoef = −coef. Two scales share one division, 1/((c1 + t)(c2 + t)),
    // as in SumImq.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void WeightsImq<T, TV, TD, TL>(T* t, int rows, T negCoef, T* c, int ns, T* rowSums)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        TV one = TL.Create(T.One), nc = TL.Create(negCoef);
        for (int r = 0; r < rows; r++)
        {
            T* row = t + r * Tile;
            T* rs = rowSums + r * TL.Count;
            TV sum = TL.Load(rs);
            for (int i = 0; i < Tile; i += TL.Count)
            {
                TV tv = TL.Load(row + i), dk = TL.Zero;
                int s = 0;
                for (; s + 1 < ns; s += 2)
                {
                    TV c1 = TL.Create(c[s]), c2 = TL.Create(c[s + 1]);
                    TV d1 = TL.Add(c1, tv), d2 = TL.Add(c2, tv);
                    TV inv = TL.Div(one, TL.Mul(d1, d2));
                    TV r1 = TL.Mul(d2, inv), r2 = TL.Mul(d1, inv);
                    dk = TL.Fma(TL.Mul(c1, r1), r1, TL.Fma(TL.Mul(c2, r2), r2, dk));
                }
                if (s < ns)
                {
                    TV cv = TL.Create(c[s]);
                    TV q = TL.Div(one, TL.Add(cv, tv));
                    dk = TL.Fma(TL.Mul(cv, q), q, dk);
                }
                TV w = TL.ZeroWhereNotPositive(tv, TL.Mul(TL.ZeroWhereInfinite(tv, dk), nc));
                TL.Store(w, row + i);
                sum = TL.Add(sum, w);
            }
            TL.Store(sum, rs);
        }
    }

    // RBF: k'(t) = Σ_s exp(t · nic_s) · nic_s with nic_s = −1/c_s.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void WeightsRbf<T, TV, TD, TL>(T* t, int rows, T coef, T* nic, int ns, T* rowSums)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        TV cf = TL.Create(coef);
        for (int r = 0; r < rows; r++)
        {
            T* row = t + r * Tile;
            T* rs = rowSums + r * TL.Count;
            TV sum = TL.Load(rs);
            for (int i = 0; i < Tile; i += TL.Count)
            {
                TV tv = TL.Load(row + i), dk = TL.Zero;
                for (int s = 0; s < ns; s++)
                {
                    TV a = TL.Create(nic[s]);
                    dk = TL.Fma(TL.Exp(TL.Mul(tv, a)), a, dk);
                }
                TV w = TL.ZeroWhereNotPositive(tv, TL.Mul(dk, cf));
                TL.Store(w, row + i);
                sum = TL.Add(sum, w);
            }
            TL.Store(sum, rs);
        }
    }
}
