using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// col2im in channels-last layout, the adjoint of <see cref="Im2Col"/>: cols (Rows, KH·KW·C) summed into image
/// (N, H, W, C) (accumulates). A gather: each image pixel lists the C-runs of the patches that cover it, kh
/// ascending then kw ascending, sums them from 0 in that order, Vector512 (then Vector256, then scalar) across C,
/// and adds the sum to the pixel. No two pixels share an output, so there are no atomics, and the (n, ih) bands
/// split over both cores in fixed chunks give the same bits for any thread count.
/// Correctness: Tests/Kernels/ConvKernelTests.cs against Kernels/Reference/ConvReference.cs.
/// </summary>
public static unsafe class Col2Im
{
    const int ParallelFrom = 1 << 16, ChunkElements = 1 << 14;   // elements of the image
    const long PrefetchFrom = 8 << 20;   // bytes of cols
    static readonly AlignedBuffers tables = new();

    /// <summary>
    /// image[n, ih, iw, c] += Σ cols[(n·OH + oh)·OW + ow, (kh·KW + kw)·C + c] over oh·S − P + kh = ih, ow·S − P + kw =
    /// iw.
    /// </summary>
    public static void Accumulate<T>(ReadOnlySpan<T> cols, ConvGeometry g, Span<T> image)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Im2Col.CheckLengths(image.Length, cols.Length, g);
        int tableInts = TableInts(g);
        int* onStack = stackalloc int[tableInts <= 4096 ? tableInts : 0];
        int* table = tableInts <= 4096 ? onStack : (int*)tables.Rent((nuint)tableInts * sizeof(int));
        try
        {
            BuildTable(g, table);
            int bands = g.N * g.H, perChunk = Math.Max(1, ChunkElements / (g.W * g.C));
            fixed (T* pc = cols) fixed (T* pi = image)
            {
                var body = new Body<T>
                {
                    Cols = pc, Image = pi, G = g, Table = table, PerChunk = perChunk, Bands = bands,
                    Prefetching = Prefetching<T>(g)
                };
                if (g.ImageLength < ParallelFrom || Workers.MaxThreads == 1) Range(pc, g, table, 0, bands, pi, true,
                    body.Prefetching);
                else Workers.For((bands + perChunk - 1) / perChunk, ref body);
            }
        }
        finally { if (tableInts > 4096) tables.Return((byte*)table); }
    }

    /// <summary>Ints in the tap table that <see cref="BuildTable"/> writes.</summary>
    internal static int TableInts(ConvGeometry g) => g.W * ((g.KW + g.Stride - 1) / g.Stride + 1);

    /// <summary>
    /// Per column iw of the image: how many kw taps cover it (table[iw]) and, for each, its offset ow·PL + kw·C from
    /// the start of a grid row (table[W + iw·maxTaps + k]), so the pixel loop does no division.
    /// </summary>
    internal static void BuildTable(ConvGeometry g, int* table)
    {
        int maxTaps = (g.KW + g.Stride - 1) / g.Stride;
        for (int iw = 0; iw < g.W; iw++)
        {
            int tw = iw + g.Pad, k = 0;
            var (kw0, kw1) = Taps(tw, g.KW, g.Stride, g.OW);
            for (int kw = kw0; kw <= kw1; kw += g.Stride)
                table[g.W + iw * maxTaps + k++] = (tw - kw) / g.Stride * g.PatchLength + kw * g.C;
            table[iw] = k;
        }
    }

    /// <summary>Prefetch when the runs are several lines long and cols is too big to stay in cache (see
    /// Prefetch).</summary>
    static bool Prefetching<T>(ConvGeometry g) where T : unmanaged =>
        g.KW * g.C * sizeof(T) >= 256 && (long)g.ColsLength * sizeof(T) >= PrefetchFrom;

    struct Body<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* Cols, Image;
        public ConvGeometry G;
        public int* Table;
        public int PerChunk, Bands;
        public bool Prefetching;

        public readonly void Run(int index)
        {
            int first = index * PerChunk;
            Range(Cols, G, Table, first, Math.Min(first + PerChunk, Bands), Image, true, Prefetching);
        }
    }

    /// <summary>
    /// Bands [first, end) of the image, a band being the W pixels of one (n, ih): each pixel gets the sum of its taps
    /// added (accumulate) or written (a pixel no patch covers gets 0). cols is indexed by absolute grid row, so a
    /// caller holding only some images' rows passes a pointer moved back by the rows before them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Range<T>(T* cols, ConvGeometry g, int* table, int first, int end, T* image, bool accumulate,
        bool prefetching)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = g.C, s = g.Stride, maxKh = (g.KH + s - 1) / s, maxTaps = (g.KW + s - 1) / s;
        T** rows = stackalloc T*[maxKh];
        T** src = stackalloc T*[maxKh * maxTaps];
        int* count = table, offsets = table + g.W;
        for (int band = first; band < end; band++)
        {
            int ih = band % g.H, n = band / g.H, th = ih + g.Pad, nkh = 0;
            var (kh0, kh1) = Taps(th, g.KH, s, g.OH);
            for (int kh = kh0; kh <= kh1; kh += s)
                rows[nkh++] = cols + ((long)(n * g.OH + (th - kh) / s) * g.OW) * g.PatchLength + kh * g.KW * c;
            T* pixel = image + (long)band * g.W * c;
            if (nkh == 0)
            {
                if (!accumulate) new Span<T>(pixel, g.W * c).Clear();
                continue;
            }
            // two bands ahead (measured: 1 ahead 2.7 ms, 2-4 ahead 2.0-2.4 ms)
            if (prefetching && band + 2 < end) Prefetch(cols, g, band + 2);
            for (int iw = 0; iw < g.W; iw++, pixel += c)
            {
                int nkw = count[iw];
                int* off = offsets + iw * maxTaps;
                if (nkw == 0)
                {
                    if (!accumulate) new Span<T>(pixel, c).Clear();
                    continue;
                }
                if (c == 1)
                {
                    T acc = T.Zero;
                    for (int a = 0; a < nkh; a++) for (int b = 0; b < nkw; b++) acc += rows[a][off[b]];
                    *pixel = accumulate ? *pixel + acc : acc;
                    continue;
                }
                int k = 0;
                for (int a = 0; a < nkh; a++) for (int b = 0; b < nkw; b++) src[k++] = rows[a] + off[b];
                Sum(src, k, c, pixel, accumulate);
            }
        }
    }

    /// <summary>
    /// Asks for the cols a later band will read while the current one is summed. A band's taps are KW·C-runs spaced a
    /// cols row apart, read by one load instruction with irregular strides, which the hardware prefetchers do not
    /// follow (without this, the model's 14×14×32 col2im ran at a third of the memory bandwidth).
    /// </summary>
    static void Prefetch<T>(T* cols, ConvGeometry g, int band) where T : unmanaged
    {
        if (!Sse.IsSupported) return;
        int ih = band % g.H, n = band / g.H, th = ih + g.Pad, s = g.Stride;
        var (kh0, kh1) = Taps(th, g.KH, s, g.OH);
        int runBytes = g.KW * g.C * sizeof(T), rowBytes = g.PatchLength * sizeof(T);
        for (int kh = kh0; kh <= kh1; kh += s)
        {
            byte* p = (byte*)(cols + ((long)(n * g.OH + (th - kh) / s) * g.OW) * g.PatchLength + kh * g.KW * g.C);
            for (int ow = 0; ow < g.OW; ow++, p += rowBytes)
                for (int b = 0; b < runBytes; b += 64) Sse.Prefetch0(p + b);
        }
    }

    /// <summary>
    /// The kernel taps k in [First, Last] (step S) with (t − k) divisible by S and 0 ≤ (t − k)/S &lt; grid; empty when
    /// First &gt; Last.
    /// </summary>
    static (int First, int Last) Taps(int t, int kernel, int stride, int grid)
    {
        int last = Math.Min(kernel - 1, t), lo = Math.Max(0, t - stride * (grid - 1));
        return (lo + (t - lo) % stride, last);
    }

    /// <summary>pixel[j] (+)= ((0 + src[0][j]) + src[1][j]) + … for j &lt; c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Sum<T>(T** src, int k, int c, T* pixel, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int j = 0;
        if (Vector512.IsHardwareAccelerated && Vector512<T>.IsSupported)
            for (; j <= c - Vector512<T>.Count; j += Vector512<T>.Count)
            {
                var acc = Vector512<T>.Zero;
                for (int i = 0; i < k; i++) acc += Vector512.Load(src[i] + j);
                (accumulate ? Vector512.Load(pixel + j) + acc : acc).Store(pixel + j);
            }
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            for (; j <= c - Vector256<T>.Count; j += Vector256<T>.Count)
            {
                var acc = Vector256<T>.Zero;
                for (int i = 0; i < k; i++) acc += Vector256.Load(src[i] + j);
                (accumulate ? Vector256.Load(pixel + j) + acc : acc).Store(pixel + j);
            }
        for (; j < c; j++)
        {
            T acc = T.Zero;
            for (int i = 0; i < k; i++) acc += src[i][j];
            pixel[j] = accumulate ? pixel[j] + acc : acc;
        }
    }
}
