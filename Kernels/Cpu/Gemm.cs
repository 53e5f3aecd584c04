using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// C = alpha · op(A) · op(B) + beta · C, row-major, op(X) = X or Xᵀ. M, N, K: op(A) is M×K, op(B) is K×N, C is M×N.
/// lda, ldb, ldc: row strides of A, B, C as stored. beta = 0 overwrites C (NaN in C does not leak), as BLAS does;
/// alpha = 0 or K = 0 leaves C = beta · C without reading A or B, as BLAS does.
/// </summary>
/// <remarks>
/// BLIS/GotoBLAS structure (docs/cpu-kernels.md): for each NC-wide column block of C and each KC-deep
/// slice of K, op(B) is packed once into KC×NR micro-panels (B̃, shared by all threads; a row-major op(B) is read
/// in place when M is small), then each task packs MR×KC micro-panels of its rows of op(A) (Ã, its own) and runs
/// the micro-kernel over every (Ã, B̃) micro-panel pair. Transposes live in the packing only (GemmPacking.cs);
/// the kernels are in GemmMicroKernels.cs. Scratch comes from two pools of aligned buffers, reused across calls.
/// Each C element sees the same operations whatever the thread count: for each KC slice in order, one FMA per k
/// into a register, then c = alpha·acc + beta·c (beta = 1 after the first slice). Tasks only decide who does it.
/// </remarks>
public static unsafe partial class Gemm
{
    /// <summary>
    /// K slice. Measured here (1 thread, float): 512 beats 256 by 3-6 % at N = 512..2048 (C is read and written once
    /// per slice), and 384 lies between. A 12×512 Ã micro-panel is 24 KiB, a 512×32 B̃ micro-panel 64 KiB (from L2).
    /// </summary>
    internal const int KC = 512;
    /// <summary>C columns per pass: B̃ is KC×NC (8 MiB float, at most), so N ≤ 4096 packs B once per K slice.</summary>
    internal const int NC = 4096;
    /// <summary>
    /// Most Ã rows per task (a multiple of both MRs), 96×512 floats = 192 KiB, inside L2; 192 and 288 measured the
    /// same.
    /// </summary>
    internal const int MC = 96;
    /// <summary>
    /// Below this many multiply-adds (M·N·K) a plain loop beats packing (8³: 0.12 vs 0.2 us; 16³: 0.9 vs 0.4 us).
    /// </summary>
    internal const long SmallWork = 1024;
    /// <summary>
    /// From this many multiply-adds on, use Workers (a fork-join costs 1-2 us, an 80³ product ~5 us on one thread).
    /// </summary>
    internal const long ParallelWork = 512 * 1024;
    /// <summary>
    /// With at most this many row panels (M ≤ 288), a row-major op(B) is read in place instead of packed: each B̃
    /// panel would serve too few Ã panels to repay its copy (64×512×784: +10 %; 256³: +3 %; 384 and up: -1 to -3 %).
    /// </summary>
    internal const int DirectBPanels = 24;

    /// <summary>Micro-tile rows: 12 with AVX-512 (24 zmm accumulators), 6 with 256-bit vectors (12 ymm).</summary>
    static int MR
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.IsHardwareAccelerated ? 12 : 6;
    }

    /// <summary>Micro-tile columns: two vectors of T.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static int NR<T>() => Vector512.IsHardwareAccelerated ? 2 * Vector512<T>.Count : 2 * Vector256<T>.Count;

    static readonly AlignedBuffers PackedA = new(), PackedB = new();

    /// <summary>
    /// As above, with a linear layer's epilogue fused into the last stores: c = alpha·op(A)·op(B) + (beta·c + bias[j])
    /// for a bias of N values (empty: none), then max(c, 0) with <paramref name="relu"/> (NaN kept, as ReluOp). The
    /// same bits as copying the bias into C and running beta = 1, then a ReLU pass: without two passes over C.
    /// </summary>
    public static void Multiply<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc,
            ReadOnlySpan<T> bias = default, bool relu = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (!bias.IsEmpty && bias.Length != n)
            throw new ArgumentException($"bias holds {bias.Length} values, not N = {n}", nameof(bias));
        if (m == 0 || n == 0) return;
        fixed (T* pa = a, pb = b, pc = c, pbias = bias)
        {
            if (k == 0 || alpha == T.Zero) Scale(m, n, beta, pc, ldc, pbias, relu);
            else if ((long)m * n * k < SmallWork) Small(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc,
                pbias, relu);
            else Blocked(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, pbias, relu);
        }
    }

    static void Scale<T>(int m, int n, T beta, T* c, int ldc, T* bias = null, bool relu = false) where T : unmanaged,
        IFloatingPointIeee754<T>
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<T>(c + (nint)i * ldc, n);
            if (beta == T.Zero) row.Clear();
            else if (beta != T.One) for (int j = 0; j < n; j++) row[j] *= beta;
            if (bias != null) for (int j = 0; j < n; j++) row[j] += bias[j];
            if (relu) for (int j = 0; j < n; j++) row[j] = ReluOp<T>.Invoke(row[j], T.Zero);
        }
    }

    /// <summary>Tiny products: one dot product per element, no packing, no scratch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Small<T>(bool transA, bool transB, int m, int n, int k, T alpha, T* a, int lda, T* b, int ldb, T beta,
        T* c, int ldc,
        T* bias, bool relu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        nint aRow = transA ? 1 : lda, aCol = transA ? lda : 1, bRow = transB ? 1 : ldb, bCol = transB ? ldb : 1;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T* ap = a + i * aRow, bp = b + j * bCol;
                T s = T.Zero;
                for (int p = 0; p < k; p++, ap += aCol, bp += bRow) s = T.FusedMultiplyAdd(*ap, *bp, s);
                T* cp = c + (nint)i * ldc + j;
                T v = beta == T.Zero ? (bias == null ? alpha * s : T.FusedMultiplyAdd(s, alpha, bias[j]))
                    : T.FusedMultiplyAdd(s, alpha, bias == null ? *cp * beta : *cp * beta + bias[j]);
                *cp = relu ? ReluOp<T>.Invoke(v, T.Zero) : v;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Blocked<T>(bool transA, bool transB, int m, int n, int k, T alpha, T* a, int lda, T* b, int ldb, T beta,
        T* c, int ldc,
        T* bias, bool relu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int mr = MR, nr = NR<T>();
        int threads = (long)m * n * k >= ParallelWork ? Workers.MaxThreads : 1;
        int mPanels = (m + mr - 1) / mr;
        var job = new Job<T>
        {
            TransA = transA, TransB = transB, M = m, K = k, A = a, Lda = lda, B = b, Ldb = ldb, C = c, Ldc = ldc,
            Alpha = alpha,
            Bias = bias, Relu = relu,
            PackedB = (T*)PackedB.Rent((nuint)(KC * ((Math.Min(n, NC) + nr - 1) / nr * nr) * sizeof(T))),
        };
        // Tasks over rows of C: ranges of whole micro-panels, at most MC rows each, and with several threads at least
        // four per thread (a multiple of the thread count), so a helper that the OS deschedules holds back little.
        // With fewer than two row panels per thread, each row range is also split into column chunks.
        job.MTasks = (mPanels + MC / mr - 1) / (MC / mr);
        if (threads > 1)
            job.MTasks = Math.Min(mPanels, (Math.Max(job.MTasks, 4 * threads) + threads - 1) / threads * threads);
        job.MPanels = mPanels;
        job.DirectB = !transB && mPanels <= DirectBPanels;
        try
        {
            for (int jc = 0; jc < n; jc += NC)
            {
                job.Jc = jc; job.Nc = Math.Min(NC, n - jc);
                job.NPanels = (job.Nc + nr - 1) / nr;
                job.NChunks = threads > 1
                    && mPanels < 2 * threads ? Math.Min(job.NPanels, (4 * threads + job.MTasks - 1) / job.MTasks) : 1;
                job.PackChunks = Math.Min(job.NPanels, 4 * threads);
                for (int pc = 0; pc < k; pc += KC)
                {
                    job.Pc = pc; job.Kc = Math.Min(KC, k - pc);
                    job.Overwrite = pc == 0 && beta == T.Zero;
                    job.Beta = pc == 0 ? beta : T.One;
                    if (!job.DirectB) { job.Packing = true; Run(ref job, job.PackChunks, threads); }
                    else if (job.NPanels * nr > job.Nc)
                        PackB(false, b, ldb, pc, job.Kc, jc, job.Nc, job.NPanels - 1, job.NPanels, job.PackedB);
                    job.Packing = false;
                    Run(ref job, job.MTasks * job.NChunks, threads);
                }
            }
        }
        finally { PackedB.Return((byte*)job.PackedB); }
    }

    static void Run<TBody>(ref TBody body, int count, int threads) where TBody : struct, IParallelBody
    {
        if (threads > 1) Workers.For(count, ref body);
        else for (int i = 0; i < count; i++) body.Run(i);
    }

    /// <summary>
    /// One K slice of one column block: packing B̃ (split by micro-panels), or a task of Ã rows × B̃ columns.
    /// </summary>
    struct Job<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public bool TransA, TransB, Overwrite, Packing, DirectB, Relu;
        public T* A, B, C, PackedB, Bias;
        public int M, K, Lda, Ldb, Ldc, Jc, Nc, Pc, Kc, MPanels, NPanels, MTasks, NChunks, PackChunks;
        public T Alpha, Beta;

        public readonly void Run(int index)
        {
            if (Packing)
                PackB(TransB, B, Ldb, Pc, Kc, Jc, Nc, index * NPanels / PackChunks, (index + 1) * NPanels / PackChunks,
                    PackedB);
            else Compute(index / NChunks, index % NChunks);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        readonly void Compute(int mTask, int nChunk)
        {
            int mr = MR, nr = NR<T>();
            int ic = (int)((long)mTask * MPanels / MTasks) * mr,
                mc = Math.Min((int)((long)(mTask + 1) * MPanels / MTasks) * mr, M) - ic;
            int q0 = nChunk * NPanels / NChunks, q1 = (nChunk + 1) * NPanels / NChunks;
            byte* scratch = PackedA.Rent((nuint)((MC * KC + mr * nr) * sizeof(T)));
            try
            {
                T* packedA = (T*)scratch, tile = packedA + MC * KC;
                PackA(TransA, A, Lda, ic, mc, Pc, Kc, packedA);
                // the bias joins in the first K slice, the ReLU in the last
                Tiles(packedA, mc, PackedB, DirectB ? B + (nint)Pc * Ldb + Jc : null, Ldb, q0, q1, Nc, Kc,
                    C + (nint)ic * Ldc + Jc, Ldc, Alpha, Beta, Overwrite, tile,
                    Pc == 0 && Bias != null ? Bias + Jc : null, Relu && Pc + Kc == K);
            }
            finally { PackedA.Return(scratch); }
        }
    }

    /// <summary>
    /// C block (mc rows from c, panels q0..q1 of nc columns) = alpha · Ã·B̃ + beta · C over one kc slice: Ã packed
    /// (mc rows), B̃ packed (panel q at packedB + q·NR·kc) or, where directB is not null, read in place from it with
    /// row stride ldb (full panels only; a partial last panel is still taken from packedB).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Tiles<T>(T* packedA, int mc, T* packedB, T* directB, nint ldb, int q0, int q1, int nc, int kc,
        T* c, nint ldc, T alpha, T beta, bool overwrite, T* tile, T* bias = null, bool relu = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int mr = MR, nr = NR<T>();
        for (int q = q0; q < q1; q++)
        {
            int cols = Math.Min(nr, nc - q * nr);
            T* bp = packedB + (nint)q * nr * kc;
            nint ldbp = nr;
            if (directB != null && cols == nr) { bp = directB + q * nr; ldbp = ldb; }
            for (int ir = 0; ir < mc; ir += mr)
            {
                int rows = Math.Min(mr, mc - ir);
                T* ap = packedA + ir * kc, cp = c + (nint)ir * ldc + q * nr;
                T* bq = bias == null ? null : bias + q * nr;
                if (rows == mr && cols == nr) MicroKernel(kc, ap, bp, ldbp, cp, ldc, alpha, beta, overwrite, bq, relu);
                else if (rows == mr && 2 * cols == nr && Vector512.IsHardwareAccelerated) MicroKernel512Half(kc, ap, bp,
                    ldbp, cp, ldc, alpha, beta, overwrite, bq, relu);
                else EdgeTile(rows, cols, kc, ap, bp, ldbp, cp, ldc, alpha, beta, overwrite, tile, bq, relu);
            }
        }
    }

    /// <summary>
    /// A partial tile: with AVX-512 a last micro-panel of at most 4 or 8 rows runs the 4- or 8-row kernel, straight
    /// into C when its rows and columns are whole; otherwise the kernel runs on a full copy in tile. Either way each
    /// element sees the same operations as in a full tile. (A whole 12-row panel half NR wide has its own kernel, in
    /// Tiles.)
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void EdgeTile<T>(int rows, int cols, int kc, T* ap, T* bp, nint ldbp, T* cp, nint ldc, T alpha, T beta,
        bool overwrite, T* tile,
        T* bias, bool relu) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int nr = NR<T>(), kernelRows = !Vector512.IsHardwareAccelerated ? MR : rows <= 4 ? 4 : rows <= 8 ? 8 : 12;
        if (rows == kernelRows && cols == nr)
        {
            EdgeKernel(kernelRows, kc, ap, bp, ldbp, cp, ldc, alpha, beta, overwrite, bias, relu);
            return;
        }
        if (!overwrite)
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) tile[i * nr + j] = cp[i * ldc + j];
        T* padded = stackalloc T[bias != null && cols < nr ? nr : 0];   // the kernel reads NR bias values
        if (bias != null && cols < nr)
        {
            for (int j = 0; j < nr; j++) padded[j] = j < cols ? bias[j] : T.Zero;
            bias = padded;
        }
        EdgeKernel(kernelRows, kc, ap, bp, ldbp, tile, nr, alpha, beta, overwrite, bias, relu);
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) cp[i * ldc + j] = tile[i * nr + j];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void EdgeKernel<T>(int rows, int kc, T* a, T* b, nint ldb, T* c, nint ldc, T alpha, T beta, bool overwrite,
        T* bias, bool relu)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows == 4) MicroKernel512x4(kc, a, new StridedRows<T>(b, ldb), c, ldc, alpha, beta, overwrite, bias, relu);
        else if (rows == 8)
            MicroKernel512x8(kc, a, new StridedRows<T>(b, ldb), c, ldc, alpha, beta, overwrite, bias, relu);
        else MicroKernel(kc, a, b, ldb, c, ldc, alpha, beta, overwrite, bias, relu);
    }

    /// <summary>Elements of B̃ for a whole K×N op(B) as <see cref="PackAllB"/> lays it out.</summary>
    internal static long PackedBLength<T>(int k, int n) where T : unmanaged
        => (long)k * ((n + NR<T>() - 1) / NR<T>() * NR<T>());

    /// <summary>
    /// Packs all of op(B) (K×N) for <see cref="MultiplyPacked{T, TA}"/>: its KC slices one after another, slice pc at
    /// dst + pc·⌈N/NR⌉·NR, each slice the NR-wide micro-panels of kc rows (zero-padded), as <see cref="Blocked"/> packs
    /// them.
    /// </summary>
    internal static void PackAllB<T>(bool transB, T* b, int ldb, int k, int n, T* dst) where T : unmanaged,
        IFloatingPointIeee754<T>
    {
        int nr = NR<T>(), panels = (n + nr - 1) / nr;
        for (int pc = 0; pc < k; pc += KC)
            PackB(transB, b, ldb, pc, Math.Min(KC, k - pc), 0, n, 0, panels, dst + (nint)pc * panels * nr);
    }

    /// <summary>Micro-panel height of Ã (MR): 12 with AVX-512, 6 with 256-bit vectors.</summary>
    internal static int PanelHeight => MR;

    /// <summary>
    /// Micro-panel width of B̃ (NR): N a multiple of it lets <see cref="MultiplyPacked{T, TA}"/> read a row-major B
    /// in place.
    /// </summary>
    internal static int PanelWidth<T>() where T : unmanaged => NR<T>();

    /// <summary>
    /// C (M×N, row stride ldc) = alpha · op(A) · op(B) + beta · C on the calling thread, with op(B) either packed by
    /// <see cref="PackAllB"/> (packedB) or, when directB is not null, a row-major K×N matrix read in place (row stride
    /// ldb, N a multiple of <see cref="PanelWidth"/>): for callers that multiply many row blocks by one B (the conv
    /// kernels in ConvGemm.cs), so B is packed once, or not at all. Each C element sees the operations it would in
    /// <see cref="Multiply{T}"/>'s blocked path: KC slices in order, one FMA per k, then c = alpha·acc + beta·c
    /// (beta = 1 after the first slice).
    /// </summary>
    internal static void MultiplyPacked<T>(bool transA, int m, int n, int k, T alpha, T* a, int lda, T* packedB,
        T* directB, int ldb,
        T beta, T* c, int ldc) where T : unmanaged, IFloatingPointIeee754<T> =>
        MultiplyPacked(new StoredA<T>(transA, a, lda), m, n, k, alpha, packedB, directB, ldb, beta, c, ldc);

    /// <summary>
    /// <see cref="MultiplyPacked{T}(bool, int, int, int, T, T*, int, T*, T*, int, T, T*, int)"/> with Ã packed from
    /// <paramref name="a"/>, which may gather op(A)'s rows from anywhere (a conv's patches straight from its image):
    /// the same Ã, so the same bits.
    /// </summary>
    internal static void MultiplyPacked<T, TA>(TA a, int m, int n, int k, T alpha, T* packedB, T* directB, int ldb,
        T beta, T* c, int ldc) where T : unmanaged, IFloatingPointIeee754<T> where TA : struct, IPanelSource<T>
    {
        if (directB != null && n % NR<T>() != 0)
            throw new ArgumentException($"B read in place needs N = {n} to be a multiple of {NR<T>()}");
        Sliced(a, new StoredB<T>(packedB, directB, ldb, n), m, n, k, alpha, beta, c, ldc);
    }

    /// <summary>
    /// Whether <see cref="MultiplyRowsB{T}"/> can take M: AVX-512, whose 12-, 8- and 4-row kernels then cover every
    /// micro-panel of M rows exactly (M mod 12 is 0, 4 or 8: the model's 64 and 128 channels).
    /// </summary>
    internal static bool RowsBFits(int m) => Vector512.IsHardwareAccelerated && m % 12 is 0 or 4 or 8;

    /// <summary>
    /// C (M×N, row stride ldc) = alpha · op(A) · B + beta · C on the calling thread, B read in place with row k of
    /// column panel q at b + rowOffsets[k] + panelOffsets[q] (elements): a conv's patches straight from its padded
    /// image, with no cols. N a multiple of <see cref="PanelWidth"/>, M as <see cref="RowsBFits"/> allows. Each C
    /// element sees the operations of <see cref="MultiplyPacked{T, TA}"/>: KC slices in order, one FMA per k.
    /// </summary>
    internal static void MultiplyRowsB<T>(bool transA, int m, int n, int k, T alpha, T* a, int lda, T* b,
        nint* rowOffsets, nint* panelOffsets, T beta, T* c, int ldc) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!RowsBFits(m) || n % NR<T>() != 0)
            throw new ArgumentException($"MultiplyRowsB cannot take M = {m}, N = {n}");
        Sliced(new StoredA<T>(transA, a, lda), new OffsetB<T>(b, rowOffsets, panelOffsets, n / NR<T>()), m, n, k,
            alpha, beta, c, ldc);
    }

    /// <summary>
    /// The calling thread's product over KC slices in order and MC-row blocks of Ã: Ã packed from
    /// <paramref name="a"/>, each block's tiles run by <paramref name="b"/>, which knows where B̃'s rows are.
    /// </summary>
    static void Sliced<T, TA, TB>(TA a, TB b, int m, int n, int k, T alpha, T beta, T* c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T> where TA : struct, IPanelSource<T>
        where TB : struct, IPanelTiles<T>
    {
        if (m == 0 || n == 0) return;
        if (k == 0 || alpha == T.Zero) { Scale(m, n, beta, c, ldc); return; }
        byte* scratch = PackedA.Rent((nuint)((MC * KC + MR * NR<T>()) * sizeof(T)));
        try
        {
            T* packedA = (T*)scratch, tile = packedA + MC * KC;
            for (int pc = 0; pc < k; pc += KC)
            {
                int kc = Math.Min(KC, k - pc);
                bool overwrite = pc == 0 && beta == T.Zero;
                T sliceBeta = pc == 0 ? beta : T.One;
                for (int ic = 0; ic < m; ic += MC)
                {
                    int mc = Math.Min(MC, m - ic);
                    a.Pack(ic, mc, pc, kc, packedA);
                    b.Tiles(packedA, mc, pc, kc, c + (nint)ic * ldc, ldc, alpha, sliceBeta, overwrite, tile);
                }
            }
        }
        finally { PackedA.Return(scratch); }
    }

    /// <summary>
    /// B̃ for <see cref="Sliced"/>: packed by <see cref="PackAllB"/>, or row-major K×N read in place (directB).
    /// </summary>
    readonly struct StoredB<T>(T* packedB, T* directB, int ldb, int n) : IPanelTiles<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Tiles(T* packedA, int mc, int pc, int kc, T* c, nint ldc, T alpha, T beta, bool overwrite, T* tile)
        {
            int nr = NR<T>(), panels = (n + nr - 1) / nr;
            Gemm.Tiles(packedA, mc, packedB + (nint)pc * panels * nr, directB == null ? null : directB + (nint)pc * ldb,
                ldb, 0, panels, n, kc, c, ldc, alpha, beta, overwrite, tile);
        }
    }

    /// <summary>
    /// B read in place through a row-offset table (<see cref="MultiplyRowsB{T}"/>): whole panels, and M's micro-panels
    /// all 12, 8 or 4 rows, so each tile runs straight into C.
    /// </summary>
    readonly struct OffsetB<T>(T* b, nint* rowOffsets, nint* panelOffsets, int panels) : IPanelTiles<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Tiles(T* packedA, int mc, int pc, int kc, T* c, nint ldc, T alpha, T beta, bool overwrite, T* tile)
        {
            int nr = NR<T>();
            for (int q = 0; q < panels; q++)
                for (int ir = 0; ir < mc; ir += 12)
                {
                    var rows = new OffsetRows<T>(b + panelOffsets[q], rowOffsets + pc);
                    T* ap = packedA + ir * kc, cp = c + ir * ldc + q * nr;
                    switch (Math.Min(12, mc - ir))
                    {
                        case 12: MicroKernel512(kc, ap, rows, cp, ldc, alpha, beta, overwrite, null, false); break;
                        case 8: MicroKernel512x8(kc, ap, rows, cp, ldc, alpha, beta, overwrite, null, false); break;
                        default: MicroKernel512x4(kc, ap, rows, cp, ldc, alpha, beta, overwrite, null, false); break;
                    }
                }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void MicroKernel<T>(int kc, T* a, T* b, nint ldb, T* c, nint ldc, T alpha, T beta, bool overwrite, T* bias,
        bool relu)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (Vector512.IsHardwareAccelerated)
            MicroKernel512(kc, a, new StridedRows<T>(b, ldb), c, ldc, alpha, beta, overwrite, bias, relu);
        else MicroKernel256(kc, a, b, ldb, c, ldc, alpha, beta, overwrite, bias, relu);
    }

    internal static void Validate(bool transA, bool transB, int m, int n, int k, int aLen, int lda, int bLen, int ldb,
        int cLen, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"negative GEMM size {m}x{n}x{k}");
        int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
        if (lda < Math.Max(1, aCols) || ldb < Math.Max(1, bCols) || ldc < Math.Max(1, n))
            throw new ArgumentException("a leading dimension is smaller than its row length");
        if (aRows > 0 && aCols > 0 && aLen < (long)(aRows - 1) * lda + aCols)
            throw new ArgumentException("A is too short", "a");
        if (bRows > 0 && bCols > 0 && bLen < (long)(bRows - 1) * ldb + bCols)
            throw new ArgumentException("B is too short", "b");
        if (m > 0 && n > 0 && cLen < (long)(m - 1) * ldc + n)
            throw new ArgumentException("destination C is too short", "c");
    }
}
