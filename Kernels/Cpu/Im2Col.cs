using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// im2col in channels-last layout (see <see cref="ConvGeometry"/>): image (N, H, W, C) → cols (Rows, KH·KW·C).
/// For one kernel row kh, the KW·C values a patch takes are one contiguous run of the image (NHWC keeps w and c
/// adjacent), clipped at the left and right edges: one run copy per (patch, kh) plus zero fills for the padding
/// (<see cref="Runs"/>). Large calls split the (n, oh) bands of the grid over both cores in fixed chunks; every
/// element of cols is written by one index, so the result never depends on the thread count.
/// Correctness: Tests/Kernels/ConvKernelTests.cs against Kernels/Reference/ConvReference.cs.
/// </summary>
public static unsafe class Im2Col
{
    // Below this many elements of cols one core does it all; a chunk holds about ChunkElements of cols.
    const int ParallelFrom = 1 << 16, ChunkElements = 1 << 15;

    /// <summary>
    /// cols[(n·OH + oh)·OW + ow, (kh·KW + kw)·C + c] = image[n, oh·S − P + kh, ow·S − P + kw, c], 0 outside (overwrites
    /// cols).
    /// </summary>
    public static void Copy<T>(ReadOnlySpan<T> image, ConvGeometry g, Span<T> cols)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckLengths(image.Length, cols.Length, g);
        int bands = g.N * g.OH, perChunk = Math.Max(1, ChunkElements / (g.OW * g.PatchLength));
        fixed (T* pi = image) fixed (T* pc = cols)
        {
            if (g.ColsLength < ParallelFrom || Workers.MaxThreads == 1) { Bands(pi, pc, g, 0, bands); return; }
            var body = new Body<T> { Image = pi, Cols = pc, G = g, PerChunk = perChunk, Bands = bands };
            Workers.For((bands + perChunk - 1) / perChunk, ref body);
        }
    }

    struct Body<T> : IParallelBody where T : unmanaged
    {
        public T* Image, Cols;
        public ConvGeometry G;
        public int PerChunk, Bands;
        public readonly void Run(int index)
        {
            int first = index * PerChunk;
            Bands(Image, Cols, G, first, Math.Min(first + PerChunk, Bands));
        }
    }

    /// <summary>
    /// Bands [first, end) of the grid, a band being the OW patches of one (n, oh). cols is indexed by absolute grid
    /// row, so a caller holding only some images' rows passes a pointer moved back by the rows before them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Bands<T>(T* image, T* cols, ConvGeometry g, int first, int end) where T : unmanaged
    {
        nuint size = (nuint)sizeof(T), runBytes = (nuint)(g.KW * g.C) * size, pixelBytes = (nuint)g.C * size;
        int pl = g.PatchLength, kwc = g.KW * g.C;
        // Short runs (the model's one-channel image: 4 floats) from a zero-padded copy of the image row.
        int paddedPixels = Math.Max(g.W + g.Pad, (g.OW - 1) * g.Stride - g.Pad + g.KW) + g.Pad;
        if (runBytes is 16 or 32 or 64 && (long)paddedPixels * g.C * sizeof(T) <= 4096)
        {
            byte* row = stackalloc byte[4096];
            ShortRuns(image, cols, g, first, end, (T*)row, paddedPixels);
            return;
        }
        for (int band = first; band < end; band++)
        {
            int oh = band % g.OH, n = band / g.OH, ih0 = oh * g.Stride - g.Pad;
            T* dst = cols + (long)band * g.OW * pl;
            for (int ow = 0; ow < g.OW; ow++, dst += pl)
            {
                int iw0 = ow * g.Stride - g.Pad;
                int kwLo = Math.Max(0, -iw0), kwHi = Math.Min(g.KW, g.W - iw0);   // kw in [kwLo, kwHi) lands inside
                for (int kh = 0; kh < g.KH; kh++)
                {
                    byte* d = (byte*)(dst + kh * kwc);
                    int ih = ih0 + kh;
                    if (ih < 0 || ih >= g.H || kwHi <= kwLo) { Runs.Zero(d, runBytes); continue; }
                    if (kwLo > 0) Runs.Zero(d, (nuint)kwLo * pixelBytes);
                    T* src = image + ((long)(n * g.H + ih) * g.W + iw0 + kwLo) * g.C;
                    Runs.Copy((byte*)src, d + (nuint)kwLo * pixelBytes, (nuint)(kwHi - kwLo) * pixelBytes);
                    if (kwHi < g.KW) Runs.Zero(d + (nuint)kwHi * pixelBytes, (nuint)(g.KW - kwHi) * pixelBytes);
                }
            }
        }
    }

    /// <summary>
    /// <see cref="Bands{T}"/> for runs of 16, 32 or 64 bytes: per (n, oh, kh) the image row is copied once between zero
    /// pads into <paramref name="row"/>, and each patch's run is then one vector load and store, with no clipping.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ShortRuns<T>(T* image, T* cols, ConvGeometry g, int first, int end, T* row, int paddedPixels) where T
        : unmanaged
    {
        int c = g.C, pl = g.PatchLength, kwc = g.KW * c, runBytes = kwc * sizeof(T), step = g.Stride * c * sizeof(T);
        int rowBytes = g.W * c * sizeof(T), padBytes = g.Pad * c * sizeof(T);
        new Span<byte>(row, paddedPixels * c * sizeof(T)).Clear();
        for (int band = first; band < end; band++)
        {
            int oh = band % g.OH, n = band / g.OH, ih0 = oh * g.Stride - g.Pad;
            T* dst = cols + (long)band * g.OW * pl;
            for (int kh = 0; kh < g.KH; kh++)
            {
                byte* d = (byte*)(dst + kh * kwc);
                int ih = ih0 + kh;
                if (ih < 0 || ih >= g.H)
                {
                    for (int ow = 0; ow < g.OW; ow++, d += pl * sizeof(T)) Runs.Zero(d, (nuint)runBytes);
                    continue;
                }
                Runs.Copy((byte*)(image + (long)(n * g.H + ih) * g.W * c), (byte*)row + padBytes, (nuint)rowBytes);
                byte* s = (byte*)row;
                nint dstStep = pl * sizeof(T);
                if (runBytes == 16) for (int ow = 0; ow < g.OW; ow++, d += dstStep,
                    s += step) Vector128.Store(Vector128.Load(s), d);
                else if (runBytes == 32) for (int ow = 0; ow < g.OW; ow++, d += dstStep,
                    s += step) Vector256.Store(Vector256.Load(s), d);
                else for (int ow = 0; ow < g.OW; ow++, d += dstStep, s += step) Vector512.Store(Vector512.Load(s), d);
            }
        }
    }

    /// <summary>
    /// Whether a GEMM can pack a conv's patches straight from a padded copy of its images
    /// (<see cref="Patches{T}"/>), eight k at a time: float with AVX-512 (12-row micro-panels), and each kernel row's
    /// run of KW·C values a multiple of 8 (the model's 32- to 128-channel layers; its one-channel layers, runs of 4,
    /// keep cols).
    /// </summary>
    internal static bool PacksFromImage<T>(ConvGeometry g) where T : unmanaged =>
        typeof(T) == typeof(float) && Gemm.PanelHeight == 12 && System.Runtime.Intrinsics.X86.Avx.IsSupported
        && g.KW * g.C % 8 == 0;

    /// <summary>Rows of a padded image: every kernel row of every patch lands in it, (OH − 1)·S + KH.</summary>
    internal static int PaddedHeight(ConvGeometry g) => (g.OH - 1) * g.Stride + g.KH;

    /// <summary>Columns of a padded image, (OW − 1)·S + KW.</summary>
    internal static int PaddedWidth(ConvGeometry g) => (g.OW - 1) * g.Stride + g.KW;

    /// <summary>
    /// Images [n0, n1) into padded, each (PaddedHeight, PaddedWidth, C) with image[ih, iw] at [ih + Pad, iw + Pad]
    /// and zeros around it (and nothing of the image that no patch reads).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Pad<T>(T* image, ConvGeometry g, int n0, int n1, T* padded) where T : unmanaged
    {
        int hp = PaddedHeight(g), wp = PaddedWidth(g), c = g.C;
        int left = Math.Min(g.Pad, wp), pixels = Math.Clamp(wp - g.Pad, 0, g.W), right = wp - left - pixels;
        nuint size = (nuint)sizeof(T);
        for (int n = n0; n < n1; n++)
            for (int ph = 0; ph < hp; ph++)
            {
                byte* d = (byte*)(padded + ((long)(n - n0) * hp + ph) * wp * c);
                int ih = ph - g.Pad;
                if (ih < 0 || ih >= g.H) { Runs.Zero(d, (nuint)(wp * c) * size); continue; }
                Runs.Zero(d, (nuint)(left * c) * size);
                Runs.Copy((byte*)(image + ((long)n * g.H + ih) * g.W * c), d + (nuint)(left * c) * size,
                    (nuint)(pixels * c) * size);
                Runs.Zero(d + (nuint)((left + pixels) * c) * size, (nuint)(right * c) * size);
            }
    }

    /// <summary>Where patch r of a chunk (r counted from its first image) starts in the chunk's padded copy.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static nint PatchStart(ConvGeometry g, int r)
    {
        int grid = g.OH * g.OW, n = r / grid, oh = r % grid / g.OW, ow = r % g.OW;
        return (((nint)n * PaddedHeight(g) + oh * g.Stride) * PaddedWidth(g) + ow * g.Stride) * g.C;
    }

    /// <summary>Where value e of a patch, (kh, kw, c), lies in the padded image from the patch's start.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static nint PatchValue(ConvGeometry g, int e)
    {
        int run = g.KW * g.C;
        return (nint)(e / run) * PaddedWidth(g) * g.C + e % run;
    }

    /// <summary>
    /// The rows of cols for a chunk of whole images, packed into Ã straight from their padded copy
    /// (<see cref="Pad{T}"/>; row 0 = the chunk's first patch): im2col without cols. The values and their places in
    /// Ã are those that packing cols would give, so a GEMM computes the same bits. Zeros: KW·C zeros, the rows past
    /// the end of a short last micro-panel.
    /// </summary>
    internal readonly struct Patches<T>(ConvGeometry g, T* padded, T* zeros) : IPanelSource<T> where T : unmanaged
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Pack(int i0, int mc, int p0, int kc, T* dst)
        {
            int run = g.KW * g.C;
            nint* rows = stackalloc nint[12], at = stackalloc nint[12];
            for (int ir = 0; ir < mc; ir += 12, dst += 12 * kc)
            {
                for (int i = 0; i < 12; i++)
                    rows[i] = ir + i < mc ? (nint)(padded + PatchStart(g, i0 + ir + i)) : 0;
                // one kernel row's run at a time: KW·C values in a row of the padded image
                for (int k = p0; k < p0 + kc;)
                {
                    int length = Math.Min(run - k % run, p0 + kc - k);
                    nint offset = PatchValue(g, k) * sizeof(T);
                    for (int i = 0; i < 12; i++) at[i] = rows[i] == 0 ? (nint)zeros : rows[i] + offset;
                    Gemm.PackRowPointers12<T>(at, length, dst + (k - p0) * 12);
                    k += length;
                }
            }
        }
    }

    internal static void CheckLengths(int image, int cols, ConvGeometry g)
    {
        g.Validate();
        if (image != g.ImageLength)
            throw new ArgumentException($"image holds {image} elements, not N·H·W·C = {g.ImageLength} ({g})",
                nameof(image));
        if (cols != g.ColsLength)
            throw new ArgumentException($"cols holds {cols} elements, not Rows·PatchLength = {g.Rows}·{g.PatchLength} "
                + $"({g})", nameof(cols));
    }
}
