using System.Numerics;
using System.Runtime.CompilerServices;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// The three GEMMs of a channels-last convolution with im2col and col2im fused in (letters of
/// <see cref="ConvGeometry"/>; cols = im2col(image), (Rows, PL) with PL = KH·KW·C):
/// <list type="bullet">
/// <item><see cref="Forward{T}"/>: y (Rows, M) = cols·wᵀ + beta·y, w (M, PL): conv2d's forward, conv-transpose2d's
/// input gradient;</item>
/// <item><see cref="BackwardData{T}"/>: image (=|+=) col2im(a·w), a (Rows, K), w (K, PL): conv2d's input gradient,
/// conv-transpose2d's forward;</item>
/// <item><see cref="WeightGrad{T}"/>: dw (M, PL) (=|+=) dyᵀ·cols, dy (Rows, M): the weight gradient of both.</item>
/// </list>
/// The grid is cut into chunks of whole images (how many depends on the geometry only), each about
/// <see cref="ChunkBytes"/> of cols, so a chunk's slice of cols stays in the core's L2 cache from being written to
/// being read: the whole cols (25 MB for the model's second layer at batch 256) is never built, and never makes the
/// round trip to memory that im2col + GEMM + col2im made three times. Chunks run in parallel on
/// <see cref="Workers"/>, and w is packed once per call (<see cref="Gemm.PackAllB{T}"/>). Where the kernels allow it
/// (AVX-512, a kernel row's run KW·C a multiple of 8, or of a B̃ panel for the weight gradient) there are no cols at
/// all: the chunk's images are padded into a buffer and the GEMM gathers each patch there as it packs Ã
/// (<see cref="Im2Col.Patches{T}"/>) or reads B (<see cref="Gemm.MultiplyRowsB{T}"/>), the same values in the same
/// order.
/// Forward and BackwardData compute each output element in one chunk with the operations Gemm.Multiply would do,
/// so their results do not depend on the thread count. WeightGrad sums over the rows: the chunks are split into at
/// most <see cref="MaxParts"/> fixed parts, each part adds its chunks in order into its own partial dw, and the
/// parts are added in part order at the end: the same bits on one thread or two.
/// Correctness: Tests/Kernels/ConvGemmTests.cs against Kernels/Reference/ConvReference.cs.
/// </summary>
public static unsafe class ConvGemm
{
    /// <summary>
    /// Bytes of cols per chunk: 448 KiB, under the 1 MiB L2 with the packed weights beside it. The model's layers get
    /// 4 images (196 × 512 cols) or 12 (192 × 576), whole micro-panels of 12 rows or nearly.
    /// </summary>
    const int ChunkBytes = 448 * 1024;
    /// <summary>
    /// Partial sums of the weight gradient. Parts are claimed by whichever core is free, so with 4 a late start of
    /// one core leaves a 3:1 split; 8 bound that at 5:3, for 8 partial buffers (2.4 MB for the 128×576 layer) and an
    /// 8-term sum per element (split over the cores by rows of dw).
    /// </summary>
    const int MaxParts = 8;
    static readonly AlignedBuffers ColsBuffers = new(), PackedBuffers = new(), Tables = new();

    /// <summary>Images per chunk: as many as fit in <see cref="ChunkBytes"/> of cols, at least 1.</summary>
    static int ImagesPerChunk<T>(ConvGeometry g) where T : unmanaged =>
        (int)Math.Clamp(ChunkBytes / sizeof(T) / Math.Max(1L, (long)g.OH * g.OW * g.PatchLength), 1, g.N);

    /// <summary>y (Rows, M) = im2col(image)·wᵀ + beta·y (beta = 0 overwrites y, NaN in y does not leak), w (M,
    /// PL).</summary>
    public static void Forward<T>(ReadOnlySpan<T> image, ConvGeometry g, ReadOnlySpan<T> w, int m, T beta, Span<T> y)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Im2Col.CheckLengths(image.Length, g.ColsLength, g);
        CheckMatrix(w.Length, m, g.PatchLength, "w", nameof(w));
        CheckMatrix(y.Length, g.Rows, m, "y", nameof(y));
        if (m == 0) return;
        var body = new ForwardBody<T> { G = g, M = m, Beta = beta, Images = ImagesPerChunk<T>(g) };
        byte* packed = PackedBuffers.Rent((nuint)(Gemm.PackedBLength<T>(g.PatchLength, m) * sizeof(T)));
        try
        {
            fixed (T* pi = image) fixed (T* pw = w) fixed (T* py = y)
            {
                body.Image = pi; body.Y = py; body.W = (T*)packed;
                Gemm.PackAllB(true, pw, g.PatchLength, g.PatchLength, m, body.W);   // op(B) = wᵀ (PL, M)
                Run((g.N + body.Images - 1) / body.Images, (long)g.ColsLength * m, ref body);
            }
        }
        finally { PackedBuffers.Return(packed); }
    }

    /// <summary>image (N, H, W, C) (=|+=) col2im(a·w), a (Rows, K), w (K, PL); accumulate false overwrites every
    /// pixel.</summary>
    public static void BackwardData<T>(ReadOnlySpan<T> a, int k, ReadOnlySpan<T> w, ConvGeometry g, bool accumulate,
        Span<T> image)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Im2Col.CheckLengths(image.Length, g.ColsLength, g);
        CheckMatrix(a.Length, g.Rows, k, "a", nameof(a));
        CheckMatrix(w.Length, k, g.PatchLength, "w", nameof(w));
        var body = new DataBody<T> { G = g, K = k, Accumulate = accumulate, Images = ImagesPerChunk<T>(g) };
        byte* packed = PackedBuffers.Rent((nuint)(Gemm.PackedBLength<T>(k, g.PatchLength) * sizeof(T)));
        byte* table = Tables.Rent((nuint)Col2Im.TableInts(g) * sizeof(int));
        try
        {
            fixed (T* pa = a) fixed (T* pw = w) fixed (T* pi = image)
            {
                body.A = pa; body.Image = pi; body.W = (T*)packed; body.Table = (int*)table;
                Gemm.PackAllB(false, pw, g.PatchLength, k, g.PatchLength, body.W);    // op(B) = w (K, PL)
                Col2Im.BuildTable(g, body.Table);
                Run((g.N + body.Images - 1) / body.Images, (long)g.ColsLength * k, ref body);
            }
        }
        finally { Tables.Return(table); PackedBuffers.Return(packed); }
    }

    /// <summary>dw (M, PL) (=|+=) dyᵀ·im2col(image), dy (Rows, M); accumulate false overwrites dw.</summary>
    public static void WeightGrad<T>(ReadOnlySpan<T> image, ConvGeometry g, ReadOnlySpan<T> dy, int m, bool accumulate,
        Span<T> dw)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Im2Col.CheckLengths(image.Length, g.ColsLength, g);
        CheckMatrix(dy.Length, g.Rows, m, "dy", nameof(dy));
        CheckMatrix(dw.Length, m, g.PatchLength, "dw", nameof(dw));
        if (m == 0) return;
        int images = ImagesPerChunk<T>(g), chunks = (g.N + images - 1) / images, parts = Math.Min(chunks, MaxParts);
        int pl = g.PatchLength, size = pl * m;
        byte* partials = PackedBuffers.Rent((nuint)((long)parts * size * sizeof(T)));
        try
        {
            fixed (T* pi = image) fixed (T* pdy = dy) fixed (T* pdw = dw)
            {
                bool direct = pl % Gemm.PanelWidth<T>() == 0;
                var body = new WeightBody<T>
                {
                    G = g, M = m, Images = images, Chunks = chunks, Parts = parts, Image = pi, Dy = pdy,
                    Partials = (T*)partials, Direct = direct,
                    FromImage = direct && Gemm.RowsBFits(m) && g.KW * g.C % Gemm.PanelWidth<T>() == 0,
                };
                Run(parts, (long)g.ColsLength * m, ref body);
                var combine = new CombineBody<T>
                {
                    Partials = (T*)partials, Dw = pdw, M = m, Pl = pl, Parts = parts, Direct = body.Direct,
                    Accumulate = accumulate,
                };
                // an add that streams memory weighs about 8 multiply-adds
                Run(m, (long)parts * size * 8, ref combine);
            }
        }
        finally { PackedBuffers.Return(partials); }
    }

    /// <summary>Serially when small (a fork-join costs 1-2 us) or on one thread, else chunk by chunk on
    /// Workers.</summary>
    static void Run<TBody>(int count, long work, ref TBody body) where TBody : struct, IParallelBody
    {
        if (work < Gemm.ParallelWork || Workers.MaxThreads == 1 || count == 1)
        {
            for (int i = 0; i < count; i++) body.Run(i);
            return;
        }
        Workers.For(count, ref body);
    }

    struct ForwardBody<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ConvGeometry G;
        public T* Image, W, Y;
        public int M, Images;
        public T Beta;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int index)
        {
            var g = G;
            int n0 = index * Images, n1 = Math.Min(g.N, n0 + Images), pl = g.PatchLength;
            int r0 = n0 * g.OH * g.OW, rows = (n1 - n0) * g.OH * g.OW;
            if (Im2Col.PacksFromImage<T>(g))
            {
                // Ã straight from the images, padded: a quarter of the bytes that cols would take at stride 2
                long padded = (long)(n1 - n0) * Im2Col.PaddedHeight(g) * Im2Col.PaddedWidth(g) * g.C, run = g.KW * g.C;
                T* image = (T*)ColsBuffers.Rent((nuint)((padded + run) * sizeof(T)));
                try
                {
                    new Span<T>(image + padded, (int)run).Clear();
                    Im2Col.Pad(Image, g, n0, n1, image);
                    Gemm.MultiplyPacked(new Im2Col.Patches<T>(g, image, image + padded), rows, M, pl, T.One, W, null,
                        0, Beta, Y + (long)r0 * M, M);
                }
                finally { ColsBuffers.Return((byte*)image); }
                return;
            }
            T* cols = (T*)ColsBuffers.Rent((nuint)((long)rows * pl * sizeof(T)));
            try
            {
                Im2Col.Bands(Image, cols - (long)r0 * pl, g, n0 * g.OH, n1 * g.OH);
                Gemm.MultiplyPacked(false, rows, M, pl, T.One, cols, pl, W, null, 0, Beta, Y + (long)r0 * M, M);
            }
            finally { ColsBuffers.Return((byte*)cols); }
        }
    }

    struct DataBody<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ConvGeometry G;
        public T* A, W, Image;
        public int* Table;
        public int K, Images;
        public bool Accumulate;

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int index)
        {
            var g = G;
            int n0 = index * Images, n1 = Math.Min(g.N, n0 + Images), pl = g.PatchLength;
            int r0 = n0 * g.OH * g.OW, rows = (n1 - n0) * g.OH * g.OW;
            T* cols = (T*)ColsBuffers.Rent((nuint)((long)rows * pl * sizeof(T)));
            try
            {
                Gemm.MultiplyPacked(false, rows, pl, K, T.One, A + (long)r0 * K, K, W, null, 0, T.Zero, cols, pl);
                Col2Im.Range(cols - (long)r0 * pl, g, Table, n0 * g.H, n1 * g.H, Image, Accumulate, prefetching: false);
            }
            finally { ColsBuffers.Return((byte*)cols); }
        }
    }

    /// <summary>
    /// Row o of dw: dw[o, e] (+)= Σ_parts partial[e], the parts added in part order (a swapped partial is (PL, M) and
    /// is transposed back here). Rows are independent, so they split over the cores.
    /// </summary>
    struct CombineBody<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public T* Partials, Dw;
        public int M, Pl, Parts;
        public bool Direct, Accumulate;

        public readonly void Run(int o)
        {
            long size = (long)Pl * M;
            T* d = Dw + (long)o * Pl;
            for (int e = 0; e < Pl; e++)
            {
                long at = Direct ? (long)o * Pl + e : (long)e * M + o;
                T s = Partials[at];
                for (int q = 1; q < Parts; q++) s += Partials[q * size + at];
                d[e] = Accumulate ? d[e] + s : s;
            }
        }
    }

    struct WeightBody<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public ConvGeometry G;
        public T* Image, Dy, Partials;
        public int M, Images, Chunks, Parts;
        /// <summary>
        /// PL a multiple of the B̃ panel width: partial (M, PL) += dyᵀ·cols with cols read in place as B (no packing).
        /// Otherwise (PL = 16 in the model's first and last layers, half a panel) the product is swapped,
        /// partial (PL, M) += colsᵀ·dy, so that M (32 channels) fills the panels instead.
        /// </summary>
        public bool Direct;
        /// <summary>
        /// Direct, and each B̃ panel inside one kernel row's run of the image, and M on whole AVX-512 kernels: B read
        /// in place from a padded copy of the chunk's images (<see cref="Gemm.MultiplyRowsB{T}"/>), no cols.
        /// </summary>
        public bool FromImage;

        /// <summary>Part index: chunks [index·Chunks/Parts, (index + 1)·Chunks/Parts) into partial number
        /// index.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public readonly void Run(int index)
        {
            if (FromImage) { RunFromImage(index); return; }
            var g = G;
            int pl = g.PatchLength, grid = g.OH * g.OW, c0 = index * Chunks / Parts, c1 = (index + 1) * Chunks / Parts;
            int maxRows = Images * grid;
            T* partial = Partials + (long)index * pl * M;
            T* cols = (T*)ColsBuffers.Rent((nuint)((long)maxRows * pl * sizeof(T)));
            // The swapped product reads dy in place too when M fills whole panels (32 channels: the model's first and
            // last layers).
            bool dyInPlace = M % Gemm.PanelWidth<T>() == 0;
            T* packedDy = Direct || dyInPlace ? null
                : (T*)PackedBuffers.Rent((nuint)(Gemm.PackedBLength<T>(maxRows, M) * sizeof(T)));
            try
            {
                for (int chunk = c0; chunk < c1; chunk++)
                {
                    int n0 = chunk * Images, n1 = Math.Min(g.N, n0 + Images), r0 = n0 * grid, rows = (n1 - n0) * grid;
                    T beta = chunk == c0 ? T.Zero : T.One;
                    Im2Col.Bands(Image, cols - (long)r0 * pl, g, n0 * g.OH, n1 * g.OH);
                    if (Direct)
                        Gemm.MultiplyPacked(true, M, pl, rows, T.One, Dy + (long)r0 * M, M, null, cols, pl, beta,
                            partial, pl);
                    else if (dyInPlace)
                        Gemm.MultiplyPacked(true, pl, M, rows, T.One, cols, pl, null, Dy + (long)r0 * M, M, beta,
                            partial, M);
                    else
                    {
                        Gemm.PackAllB(false, Dy + (long)r0 * M, M, rows, M, packedDy);
                        Gemm.MultiplyPacked(true, pl, M, rows, T.One, cols, pl, packedDy, null, 0, beta, partial, M);
                    }
                }
            }
            finally
            {
                if (packedDy != null) PackedBuffers.Return((byte*)packedDy);
                ColsBuffers.Return((byte*)cols);
            }
        }

        /// <summary>
        /// The part's chunks with B's rows read from the images, padded chunk by chunk: the same products, in the
        /// same order, as from cols (a patch's place in the padded chunk does not depend on which chunk it is).
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void RunFromImage(int index)
        {
            var g = G;
            int pl = g.PatchLength, grid = g.OH * g.OW, c0 = index * Chunks / Parts, c1 = (index + 1) * Chunks / Parts;
            int maxRows = Images * grid, panels = pl / Gemm.PanelWidth<T>();
            long padded = (long)Images * Im2Col.PaddedHeight(g) * Im2Col.PaddedWidth(g) * g.C;
            T* image = (T*)ColsBuffers.Rent((nuint)(padded * sizeof(T)));
            nint* offsets = (nint*)Tables.Rent((nuint)((maxRows + panels) * sizeof(nint)));
            T* partial = Partials + (long)index * pl * M;
            try
            {
                for (int r = 0; r < maxRows; r++) offsets[r] = Im2Col.PatchStart(g, r);
                for (int q = 0; q < panels; q++) offsets[maxRows + q] = Im2Col.PatchValue(g, q * Gemm.PanelWidth<T>());
                for (int chunk = c0; chunk < c1; chunk++)
                {
                    int n0 = chunk * Images, n1 = Math.Min(g.N, n0 + Images), r0 = n0 * grid, rows = (n1 - n0) * grid;
                    Im2Col.Pad(Image, g, n0, n1, image);
                    Gemm.MultiplyRowsB(true, M, pl, rows, T.One, Dy + (long)r0 * M, M, image, offsets,
                        offsets + maxRows, chunk == c0 ? T.Zero : T.One, partial, pl);
                }
            }
            finally
            {
                Tables.Return((byte*)offsets);
                ColsBuffers.Return((byte*)image);
            }
        }
    }

    static void CheckMatrix(int length, int rows, int cols, string what, string param)
    {
        if (rows < 0 || cols < 0) throw new ArgumentException($"{what}: negative size ({rows}, {cols})", param);
        if (length != (long)rows * cols)
            throw new ArgumentException($"{what} holds {length} elements, not {rows}·{cols}", param);
    }
}
