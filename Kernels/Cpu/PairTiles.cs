using System.Numerics;
using System.Runtime.CompilerServices;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// The building blocks shared by <see cref="PairwiseDistance"/> and <see cref="Mmd"/>: squared distances and
/// pair-weighted sums over tiles of <see cref="Tile"/> × <see cref="Tile"/> pairs.
/// D = point dimension, Dp = D rounded up to 128 bytes (whole vectors for the W·X kernel).
///
/// A panel holds 64 points transposed, (D, 64), followed by their 64 squared norms: the distance kernel
/// broadcasts from one panel and streams vectors from the other, and a panel serves as the row or the column side.
/// Padding points are zeros with norm +∞, so a padded column's distance is +∞ and every kernel value there is 0.
/// Norms and dot products go through the same FMA chain over k, so ‖a‖² + ‖a‖² − 2 a·a is exactly 0.
/// </summary>
internal static unsafe class PairTiles
{
    public const int Tile = 64;

    public static int Panels(int points) => (points + Tile - 1) / Tile;

    /// <summary>Elements per panel: (D, 64) coordinates then 64 norms.</summary>
    public static int PanelStride(int d) => (d + 1) * Tile;

    public static int PadD<T>(int d) where T : unmanaged
    {
        int q = 128 / sizeof(T);
        return (d + q - 1) / q * q;
    }

    public static int RoundUp4(int v) => (v + 3) & ~3;

    /// <summary>src (rows, D) row-major → panels, norms included. dst: Panels(rows) · PanelStride(D).</summary>
    public static void PackPanels<T, TV, TD, TL>(T* src, int rows, int d, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        int stride = PanelStride(d);
        for (int p = 0, p0 = 0; p0 < rows; p++, p0 += Tile)
        {
            T* panel = dst + (nint)p * stride;
            int valid = Math.Min(Tile, rows - p0);
            T* s = src + (nint)p0 * d;
            for (int r = 0; r < valid; r++, s += d)
                for (int k = 0; k < d; k++) panel[k * Tile + r] = s[k];
            if (valid < Tile)
                for (int k = 0; k < d; k++) new Span<T>(panel + k * Tile + valid, Tile - valid).Clear();
            T* norms = panel + d * Tile;
            for (int r = 0; r < Tile; r += TL.Count)
            {
                TV acc = TL.Zero;
                for (int k = 0; k < d; k++) { TV v = TL.Load(panel + k * Tile + r); acc = TL.Fma(v, v, acc); }
                TL.Store(acc, norms + r);
            }
            for (int r = valid; r < Tile; r++) norms[r] = T.PositiveInfinity;
        }
    }

    /// <summary>src (rows, D) → dst (rows, Dp), zero-padded rows for whole-vector loads.</summary>
    public static void PackRows<T>(T* src, int rows, int d, int padD, T* dst) where T : unmanaged
    {
        for (int r = 0; r < rows; r++)
        {
            new ReadOnlySpan<T>(src + (nint)r * d, d).CopyTo(new Span<T>(dst + (nint)r * padD, d));
            new Span<T>(dst + (nint)r * padD + d, padD - d).Clear();
        }
    }

    /// <summary>
    /// dist[r, c] = max(0, ‖a_r‖² + ‖b_c‖² − 2 a_r·b_c) for r &lt; rows (a multiple of 4) and all 64 columns;
    /// dist has row stride ld. 4 rows × 4 vectors of columns per register block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DistanceTile<T, TV, TD, TL>(T* panelA, T* panelB, int d, int rows, T* dist, nint ld)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        int v = TL.Count;
        T* na = panelA + d * Tile, nb = panelB + d * Tile;
        TV m2 = TL.Create(-(T.One + T.One));
        for (int r = 0; r < rows; r += 4)
            for (int c = 0; c < Tile; c += 4 * v)
            {
                TV s00 = TL.Zero, s01 = TL.Zero, s02 = TL.Zero, s03 = TL.Zero;
                TV s10 = TL.Zero, s11 = TL.Zero, s12 = TL.Zero, s13 = TL.Zero;
                TV s20 = TL.Zero, s21 = TL.Zero, s22 = TL.Zero, s23 = TL.Zero;
                TV s30 = TL.Zero, s31 = TL.Zero, s32 = TL.Zero, s33 = TL.Zero;
                T* a = panelA + r;
                T* b = panelB + c;
                for (int k = 0; k < d; k++, a += Tile, b += Tile)
                {
                    TV b0 = TL.Load(b), b1 = TL.Load(b + v), b2 = TL.Load(b + 2 * v), b3 = TL.Load(b + 3 * v);
                    TV a0 = TL.Create(a[0]);
                    s00 = TL.Fma(a0, b0, s00); s01 = TL.Fma(a0, b1, s01); s02 = TL.Fma(a0, b2, s02);
                    s03 = TL.Fma(a0, b3, s03);
                    a0 = TL.Create(a[1]);
                    s10 = TL.Fma(a0, b0, s10); s11 = TL.Fma(a0, b1, s11); s12 = TL.Fma(a0, b2, s12);
                    s13 = TL.Fma(a0, b3, s13);
                    a0 = TL.Create(a[2]);
                    s20 = TL.Fma(a0, b0, s20); s21 = TL.Fma(a0, b1, s21); s22 = TL.Fma(a0, b2, s22);
                    s23 = TL.Fma(a0, b3, s23);
                    a0 = TL.Create(a[3]);
                    s30 = TL.Fma(a0, b0, s30); s31 = TL.Fma(a0, b1, s31); s32 = TL.Fma(a0, b2, s32);
                    s33 = TL.Fma(a0, b3, s33);
                }
                TV n0 = TL.Load(nb + c), n1 = TL.Load(nb + c + v), n2 = TL.Load(nb + c + 2 * v),
                    n3 = TL.Load(nb + c + 3 * v);
                Finish<T, TV, TD, TL>(dist + r * ld + c, v, TL.Create(na[r]), n0, n1, n2, n3, s00, s01, s02, s03, m2);
                Finish<T, TV, TD, TL>(dist + (r + 1) * ld + c, v, TL.Create(na[r + 1]), n0, n1, n2, n3, s10, s11, s12,
                    s13, m2);
                Finish<T, TV, TD, TL>(dist + (r + 2) * ld + c, v, TL.Create(na[r + 2]), n0, n1, n2, n3, s20, s21, s22,
                    s23, m2);
                Finish<T, TV, TD, TL>(dist + (r + 3) * ld + c, v, TL.Create(na[r + 3]), n0, n1, n2, n3, s30, s31, s32,
                    s33, m2);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Finish<T, TV, TD, TL>(T* o, int v, TV na, TV n0, TV n1, TV n2, TV n3, TV s0, TV s1, TV s2, TV s3, TV m2)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        TL.Store(TL.ClampNegative(TL.Fma(s0, m2, TL.Add(na, n0))), o);
        TL.Store(TL.ClampNegative(TL.Fma(s1, m2, TL.Add(na, n1))), o + v);
        TL.Store(TL.ClampNegative(TL.Fma(s2, m2, TL.Add(na, n2))), o + 2 * v);
        TL.Store(TL.ClampNegative(TL.Fma(s3, m2, TL.Add(na, n3))), o + 3 * v);
    }

    /// <summary>
    /// g[o, :] += Σ_{s &lt; count} w[o·so + s·ss] · x[s, :] for o &lt; outRows (a multiple of 4); x: (count, Dp),
    /// g: (outRows, Dp). so, ss pick W or Wᵀ from one tile. 4 output rows × 2 vectors per register block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void AccumulateWX<T, TV, TD, TL>(T* w, nint so, nint ss, int outRows, int count, T* x, int padD, T* g)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        int v = TL.Count;
        for (int o = 0; o < outRows; o += 4)
        {
            T* w0 = w + o * so, w1 = w0 + so, w2 = w1 + so, w3 = w2 + so;
            for (int k = 0; k < padD; k += 2 * v)
            {
                T* g0 = g + o * padD + k, g1 = g0 + padD, g2 = g1 + padD, g3 = g2 + padD;
                TV a00 = TL.Load(g0), a01 = TL.Load(g0 + v), a10 = TL.Load(g1), a11 = TL.Load(g1 + v);
                TV a20 = TL.Load(g2), a21 = TL.Load(g2 + v), a30 = TL.Load(g3), a31 = TL.Load(g3 + v);
                T* xs = x + k;
                for (nint s = 0, ws = 0; s < count; s++, ws += ss, xs += padD)
                {
                    TV x0 = TL.Load(xs), x1 = TL.Load(xs + v);
                    TV c = TL.Create(w0[ws]); a00 = TL.Fma(c, x0, a00); a01 = TL.Fma(c, x1, a01);
                    c = TL.Create(w1[ws]); a10 = TL.Fma(c, x0, a10); a11 = TL.Fma(c, x1, a11);
                    c = TL.Create(w2[ws]); a20 = TL.Fma(c, x0, a20); a21 = TL.Fma(c, x1, a21);
                    c = TL.Create(w3[ws]); a30 = TL.Fma(c, x0, a30); a31 = TL.Fma(c, x1, a31);
                }
                TL.Store(a00, g0); TL.Store(a01, g0 + v); TL.Store(a10, g1); TL.Store(a11, g1 + v);
                TL.Store(a20, g2); TL.Store(a21, g2 + v); TL.Store(a30, g3); TL.Store(a31, g3 + v);
            }
        }
    }

    /// <summary>
    /// dst[k] += x[k]·s − g[k] for k &lt; D: the pair sum Σ_j w_j (x − x_j) = x·Σ_j w_j − Σ_j w_j x_j.
    /// </summary>
    public static void AddScaledMinus<T, TV, TD, TL>(T* dst, T* x, T s, T* g, int d)
        where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
            where TL : struct, ILanes<T, TV, TD>
    {
        int k = 0;
        TV sv = TL.Create(s);
        for (; k <= d - TL.Count; k += TL.Count)
            TL.Store(TL.Add(TL.Load(dst + k), TL.Sub(TL.Mul(TL.Load(x + k), sv), TL.Load(g + k))), dst + k);
        for (; k < d; k++) dst[k] += x[k] * s - g[k];
    }
}

/// <summary>
/// Buffers owned by one thread, 64-byte aligned and pinned, grown on demand and never freed: the kernels
/// allocate nothing once warm. <see cref="Shared"/> holds what one call packs for all its workers (on the calling
/// thread); <see cref="Local"/> a worker's tiles.
/// </summary>
internal sealed unsafe class PairScratch<T> where T : unmanaged
{
    [ThreadStatic] static PairScratch<T>? shared, local;

    T[] buffer = [];
    T* aligned;
    public double[] Partials = [];

    public static PairScratch<T> Shared => shared ??= new();
    public static PairScratch<T> Local => local ??= new();

    /// <summary>At least <paramref name="elements"/> aligned elements; the contents are undefined.</summary>
    public T* Reserve(long elements)
    {
        int align = 64 / sizeof(T);
        if (buffer.Length < elements + align)
        {
            long want = Math.Max(elements + align, (long)buffer.Length * 3 / 2);
            if (want > Array.MaxLength) throw new OutOfMemoryException($"pair scratch of {elements} elements");
            buffer = GC.AllocateUninitializedArray<T>((int)want, pinned: true);
            T* p = (T*)Unsafe.AsPointer(ref buffer[0]);
            aligned = (T*)(((nint)p + 63) & ~(nint)63);
        }
        return aligned;
    }

    public double[] ReservePartials(int count)
    {
        if (Partials.Length < count) Partials = new double[Math.Max(count, Partials.Length * 3 / 2)];
        return Partials;
    }
}
