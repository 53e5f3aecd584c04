using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using static InfoVae.Kernels.Cpu.PairTiles;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// D[i, j] = max(0, ‖a_i‖² + ‖b_j‖² − 2 a_i·b_j) for A (n×d), B (m×d), D (n×m). Never through a sqrt.
/// 64 × 64 tiles (<see cref="PairTiles"/>) over row blocks of 64 on <see cref="Workers.For"/>; each block writes
/// only its own rows, so the bits do not depend on the thread count. Reference: <c>Reference.PairwiseDistance</c>.
/// </summary>
public static unsafe class PairwiseDistance
{
    /// <summary>destination (n, m) = the clamped squared distances between the rows of a (n, d) and b (m, d).</summary>
    public static void Forward<T>(ReadOnlySpan<T> a, int n, ReadOnlySpan<T> b, int m, int d, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckInputs(a, n, b, m, d);
        if (destination.Length < (long)n * m)
            throw new ArgumentException("destination is too short", nameof(destination));
        if (n == 0 || m == 0) return;
        if (Vector512.IsHardwareAccelerated)
            Forward<T, Vector512<T>, Vector512<double>, Lanes512<T>>(a, n, b, m, d, destination);
        else Forward<T, Vector256<T>, Vector256<double>, Lanes256<T>>(a, n, b, m, d, destination);
    }

    /// <summary>
    /// da += ∂/∂A Σ dD ⊙ D, db likewise; an empty span skips that side. Where the clamp is active (D ≤ 0) no
    /// gradient flows. ∂D_ij/∂a_i = 2 (a_i − b_j), so da = rowsum(G) ⊙ A − G B, db = colsum(G) ⊙ B − Gᵀ A
    /// with G = 2 dD masked.
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> a, int n, ReadOnlySpan<T> b, int m, int d, ReadOnlySpan<T> dist,
        ReadOnlySpan<T> dDist, Span<T> da, Span<T> db)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckInputs(a, n, b, m, d);
        if (dist.Length < (long)n * m || dDist.Length < (long)n * m)
            throw new ArgumentException("dist or dDist is shorter than n·m");
        if (!da.IsEmpty && da.Length < (long)n * d) throw new ArgumentException("da is shorter than n·d", nameof(da));
        if (!db.IsEmpty && db.Length < (long)m * d) throw new ArgumentException("db is shorter than m·d", nameof(db));
        if ((da.IsEmpty && db.IsEmpty) || n == 0 || m == 0) return;
        if (Vector512.IsHardwareAccelerated)
            Backward<T, Vector512<T>, Vector512<double>, Lanes512<T>>(a, n, b, m, d, dist, dDist, da, db);
        else Backward<T, Vector256<T>, Vector256<double>, Lanes256<T>>(a, n, b, m, d, dist, dDist, da, db);
    }

    static void CheckInputs<T>(ReadOnlySpan<T> a, int n, ReadOnlySpan<T> b, int m, int d)
    {
        if (n < 0 || m < 0 || d < 0) throw new ArgumentException($"negative size n={n} m={m} d={d}");
        if (a.Length < (long)n * d || b.Length < (long)m * d) throw new ArgumentException("input shorter than n·d");
    }

    static void Forward<T, TV, TD, TL>(ReadOnlySpan<T> a, int n, ReadOnlySpan<T> b, int m, int d, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        int pa = Panels(n), pb = Panels(m), stride = PanelStride(d);
        T* panA = PairScratch<T>.Shared.Reserve((long)(pa + pb) * stride);
        T* panB = panA + (nint)pa * stride;
        fixed (T* src = a, srcB = b, dst = destination)
        {
            PackPanels<T, TV, TD, TL>(src, n, d, panA);
            PackPanels<T, TV, TD, TL>(srcB, m, d, panB);
            var body = new ForwardBody<T, TV, TD, TL> { PanA = panA, PanB = panB, Dst = dst, N = n, M = m, D = d };
            Workers.For(pa, ref body);
        }
    }

    struct ForwardBody<T, TV, TD, TL> : IParallelBody
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        public T* PanA, PanB, Dst;
        public int N, M, D;

        public readonly void Run(int block)
        {
            int stride = PanelStride(D), rows = Math.Min(Tile, N - block * Tile), rows4 = RoundUp4(rows);
            T* rowPanel = PanA + (nint)block * stride;
            T* tile = null;
            for (int j = 0, panels = Panels(M); j < panels; j++)
            {
                int cols = Math.Min(Tile, M - j * Tile);
                T* dst = Dst + (nint)block * Tile * M + j * Tile;
                if (cols == Tile && rows == rows4)
                {
                    // straight into D
                    DistanceTile<T, TV, TD, TL>(rowPanel, PanB + (nint)j * stride, D, rows4, dst, M);
                    continue;
                }
                if (tile == null) tile = PairScratch<T>.Local.Reserve(Tile * Tile);
                DistanceTile<T, TV, TD, TL>(rowPanel, PanB + (nint)j * stride, D, rows4, tile, Tile);
                for (int r = 0; r < rows; r++)
                    new ReadOnlySpan<T>(tile + r * Tile, cols).CopyTo(new Span<T>(dst + (nint)r * M, cols));
            }
        }
    }

    static void Backward<T, TV, TD, TL>(ReadOnlySpan<T> a, int n, ReadOnlySpan<T> b, int m, int d, ReadOnlySpan<T> dist,
        ReadOnlySpan<T> dDist, Span<T> da, Span<T> db)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        int padD = PadD<T>(d);
        T* rowsA = PairScratch<T>.Shared.Reserve((long)(n + m) * padD);
        T* rowsB = rowsA + (nint)n * padD;
        fixed (T* pa = a, pb = b, pd = dist, pg = dDist, pda = da, pdb = db)
        {
            PackRows(pa, n, d, padD, rowsA);
            PackRows(pb, m, d, padD, rowsB);
            var body = new BackwardBody<T, TV, TD, TL>
            {
                A = pa, B = pb, Dist = pd, DDist = pg, Da = pda, Db = pdb, RowsA = rowsA, RowsB = rowsB,
                N = n, M = m, D = d, PadD = padD, ItemsA = da.IsEmpty ? 0 : Panels(n),
                ItemsB = db.IsEmpty ? 0 : Panels(m),
            };
            if (!da.Overlaps(db)) Workers.For(body.ItemsA + body.ItemsB, ref body);
            else
            {
                // da and db are one buffer (distances of a set to itself): the da blocks and the db blocks would add to
                // the same rows at once, so they run one after the other.
                var first = body; first.ItemsB = 0;
                Workers.For(first.ItemsA, ref first);
                var second = body; second.ItemsA = 0;
                Workers.For(second.ItemsB, ref second);
            }
        }
    }

    struct BackwardBody<T, TV, TD, TL> : IParallelBody
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        public T* A, B, Dist, DDist, Da, Db, RowsA, RowsB;
        public int N, M, D, PadD, ItemsA, ItemsB;

        // Items 0..ItemsA-1: row blocks of da (G row-wise); then row blocks of db (Gᵀ, the same tiles read by column).
        public readonly void Run(int item)
        {
            bool onA = item < ItemsA;
            int block = onA ? item : item - ItemsA, v = TL.Count;
            T* w = PairScratch<T>.Local.Reserve(Tile * Tile + Tile * PadD + Tile * v + Tile);
            T* acc = w + Tile * Tile, rowSums = acc + Tile * PadD, colSums = rowSums + Tile * v;
            new Span<T>(acc, Tile * PadD + Tile * v + Tile).Clear();
            int own = Math.Min(Tile, (onA ? N : M) - block * Tile);
            for (int t = 0, panels = Panels(onA ? M : N); t < panels; t++)
            {
                int i0 = onA ? block * Tile : t * Tile, j0 = onA ? t * Tile : block * Tile;
                int rows = Math.Min(Tile, N - i0), cols = Math.Min(Tile, M - j0);
                MaskedTile(i0, j0, rows, cols, w, onA ? rowSums : null, onA ? null : colSums);
                if (onA)
                    AccumulateWX<T, TV, TD, TL>(w, Tile, 1, RoundUp4(rows), cols, RowsB + (nint)j0 * PadD, PadD, acc);
                else AccumulateWX<T, TV, TD, TL>(w, 1, Tile, RoundUp4(cols), rows, RowsA + (nint)i0 * PadD, PadD, acc);
            }
            T* src = (onA ? A : B) + (nint)block * Tile * D, dst = (onA ? Da : Db) + (nint)block * Tile * D;
            for (int r = 0; r < own; r++)
            {
                T s = onA ? TL.Sum(TL.Load(rowSums + r * v)) : colSums[r];
                AddScaledMinus<T, TV, TD, TL>(dst + r * D, src + r * D, s, acc + r * PadD, D);
            }
        }

        // w[r, c] = dist ≤ 0 ? 0 : 2·dD for the tile at (i0, j0); columns past cols are 0. Adds the row sums
        // (as vectors, one per row) or the column sums.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void MaskedTile(int i0, int j0, int rows, int cols, T* w, T* rowSums, T* colSums)
        {
            int v = TL.Count;
            TV two = TL.Create(T.One + T.One);
            for (int r = 0; r < rows; r++)
            {
                T* dr = Dist + (nint)(i0 + r) * M + j0, gr = DDist + (nint)(i0 + r) * M + j0, wr = w + r * Tile;
                int c = 0;
                for (; c <= cols - v; c += v)
                    TL.Store(TL.ZeroWhereNotPositive(TL.Load(dr + c), TL.Mul(two, TL.Load(gr + c))), wr + c);
                for (; c < cols; c++) wr[c] = dr[c] <= T.Zero ? T.Zero : (T.One + T.One) * gr[c];
                for (; c < Tile; c++) wr[c] = T.Zero;
                if (rowSums != null)
                {
                    TV s = TL.Load(rowSums + r * v);
                    for (c = 0; c < Tile; c += v) s = TL.Add(s, TL.Load(wr + c));
                    TL.Store(s, rowSums + r * v);
                }
                else
                    for (c = 0; c < Tile; c += v) TL.Store(TL.Add(TL.Load(colSums + c), TL.Load(wr + c)), colSums + c);
            }
        }
    }
}
