using ILGPU;
using ILGPU.Runtime;
using InfoVae.Kernels;
using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Gpu;

namespace InfoVae.Engine.Gpu;

/// <summary>
/// The float32 GPU backend: tensors live in pooled accelerator buffers, primitives run on Kernels/Gpu through one
/// <see cref="GpuKernels"/> (each kernel compiled once, on first use). Every launch and copy goes to one stream;
/// small uploads are asynchronous (through <see cref="HostStaging{T}"/>), and nothing waits for the device except
/// reading back (<see cref="Download"/>, <see cref="ReadScalars"/>, <see cref="AllFinite"/>) and one-off large
/// uploads. A training step waits once: for its loss scalars. Scalars such as the MMD result and its upstream
/// gradient stay on the device; the training set can too (<see cref="KeepRows"/>). Start one with <see
/// cref="Devices"/>.
/// </summary>
public sealed class IlgpuBackend : IBackend<float>, IDisposable
{
    readonly Context context;
    readonly DeviceBufferPool pool;
    MemoryBuffer1D<float, Stride1D.Dense>? nonFiniteFlag;
    readonly List<(int D, double Bandwidth, double[] Scales, MemoryBuffer1D<float, Stride1D.Dense> Buffer)> scaledC =
        [];
    readonly HostStaging<float> stagedFloats;
    readonly HostStaging<int> stagedInts;
    readonly Action synchronize;
    readonly List<DeviceRows> keptRows = [];
    MemoryBuffer1D<float, Stride1D.Dense>? scalars;

    /// <summary>
    /// Uploads up to this many floats go through page-locked staging (asynchronous); larger ones, rare (weights at
    /// start), wait.
    /// </summary>
    public const int StagedUploadLimit = 1 << 20;

    internal IlgpuBackend(Context context, Accelerator accelerator, string name)
    {
        this.context = context;
        Accelerator = accelerator;
        Name = name;
        Kernels = new GpuKernels(accelerator, accelerator.CreateStream());
        pool = new DeviceBufferPool(accelerator, this);
        stagedFloats = new HostStaging<float>(accelerator, 1 << 16);
        stagedInts = new HostStaging<int>(accelerator, 1 << 12);
        synchronize = Synchronize;
    }

    /// <inheritdoc/>
    public string Name { get; }
    /// <summary>The ILGPU accelerator (a CUDA device, or the CPU accelerator in tests).</summary>
    public Accelerator Accelerator { get; }
    /// <summary>Every kernel of Kernels/Gpu on <see cref="Accelerator"/>, and the one stream they run on.</summary>
    public GpuKernels Kernels { get; }
    /// <summary>The pooled device buffers tensors of this backend live in.</summary>
    public DeviceBufferPool Pool => pool;
    /// <summary>
    /// Blocking waits for the device so far (reads, large uploads, the anomaly check): a training step makes one.
    /// </summary>
    public long Syncs { get; private set; }
    /// <summary>Bytes copied from the host so far (uploads, gather indices, kept data sets).</summary>
    public long UploadedBytes { get; private set; }

    /// <inheritdoc/>
    public Storage<float> Rent(int length) => pool.Rent(length);
    /// <inheritdoc/>
    public void Return(Storage<float> storage) => pool.Return((IlgpuStorage)storage);

    /// <summary>
    /// The tensor's elements on the device; the tensor must be contiguous (ops make views contiguous before calling
    /// in).
    /// </summary>
    public static ArrayView<float> View(Tensor<float> t)
    {
        if (!t.IsContiguous) throw new InvalidOperationException($"{t} is a strided view; make it contiguous first");
        return ((IlgpuStorage)t.Storage).Buffer.View.SubView(t.Offset, t.Length);
    }

    static ArrayView1D<float, Stride1D.Dense> DenseView(Tensor<float> t)
    {
        if (!t.IsContiguous) throw new InvalidOperationException($"{t} is a strided view; make it contiguous first");
        return ((IlgpuStorage)t.Storage).Buffer.View.SubView(t.Offset, t.Length);
    }

    static ArrayView<float> ViewOrEmpty(Tensor<float>? t) => t == null ? default : View(t);

    /// <summary>From the first element of a (rows, last) window with its row stride to its last element.</summary>
    static ArrayView<float> Window(Tensor<float> t)
    {
        int rows = t.Rows, extent = rows == 0 ? 0 : (rows - 1) * t.RowStride + t.Shape.Last;
        return ((IlgpuStorage)t.Storage).Buffer.View.SubView(t.Offset, extent);
    }

    /// <summary>
    /// Waits for everything queued on the stream. Afterwards every staged upload is done, so the staging blocks may
    /// be written again. The only blocking wait of this backend besides ILGPU's own synchronous copies.
    /// </summary>
    internal void Synchronize()
    {
        Kernels.Stream.Synchronize();
        Syncs++;
        stagedFloats.Reset();
        stagedInts.Reset();
    }

    /// <summary>
    /// Small uploads are queued asynchronously from page-locked staging (the span is copied there first, so the
    /// caller may reuse it on return). Larger ones use ILGPU's CopyFromCPU, which waits for the stream before it
    /// returns; that wait is what frees the caller's span, and it drains the queue (once per large upload).
    /// </summary>
    public void Upload(ReadOnlySpan<float> source, Tensor<float> destination)
    {
        if (source.Length != destination.Length)
            throw new ArgumentException($"{source.Length} values for {destination}");
        if (source.Length == 0) return;
        UploadedBytes += (long)source.Length * sizeof(float);
        if (source.Length <= StagedUploadLimit)
        {
            stagedFloats.Upload(Kernels.Stream, source, View(destination), synchronize);
            return;
        }
        DenseView(destination).CopyFromCPU(Kernels.Stream, source);
        AfterSynchronousCopy();
    }

    /// <summary>Row indices for a gather, through the page-locked staging like a small upload.</summary>
    internal void UploadIndices(ReadOnlySpan<int> rows, ArrayView<int> destination)
    {
        UploadedBytes += (long)rows.Length * sizeof(int);
        stagedInts.Upload(Kernels.Stream, rows, destination, synchronize);
    }

    /// <summary>
    /// ILGPU's CopyToCPU/CopyFromCPU synchronised the stream: count it, and the staging is free again.
    /// </summary>
    void AfterSynchronousCopy()
    {
        Syncs++;
        stagedFloats.Reset();
        stagedInts.Reset();
    }

    /// <summary>
    /// Waits for everything queued (ILGPU's CopyToCPU synchronises the stream after its copy), then returns.
    /// </summary>
    public void Download(Tensor<float> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
            throw new ArgumentException($"destination of {destination.Length} for {source}");
        if (source.Length == 0) { Synchronize(); return; }
        DenseView(source).CopyToCPU(Kernels.Stream, destination[..source.Length]);
        AfterSynchronousCopy();
    }

    /// <summary>The scalars gathered on the device by one kernel per four, then one copy back and one wait.</summary>
    public void ReadScalars(ReadOnlySpan<Tensor<float>> values, Span<float> destination)
    {
        int n = values.Length;
        if (destination.Length < n) throw new ArgumentException($"destination of {destination.Length} for {n} scalars");
        if (n == 0) return;
        if (scalars == null || scalars.Length < n)
        {
            Synchronize();   // a queued gather may still write the old buffer
            scalars?.Dispose();
            scalars = Accelerator.Allocate1D<float>(Math.Max(n, 4));
        }
        for (int i = 0; i < n; i += 4)
        {
            int k = Math.Min(4, n - i);
            ArrayView<float> a = Scalar(values[i]), b = k > 1 ? Scalar(values[i + 1]) : a;
            ArrayView<float> c = k > 2 ? Scalar(values[i + 2]) : a, d = k > 3 ? Scalar(values[i + 3]) : a;
            Kernels.GatherScalars(k, a, b, c, d, scalars.View.SubView(i, k));
        }
        scalars.View.SubView(0, n).CopyToCPU(Kernels.Stream, destination[..n]);
        AfterSynchronousCopy();
    }

    static ArrayView<float> Scalar(Tensor<float> t) =>
        t.Length == 1 ? View(t) : throw new ArgumentException($"ReadScalars reads one-element tensors, not {t.Shape}");

    /// <summary>
    /// Uploads <paramref name="data"/> once (waiting for it) and gathers batches on the device; the same array asked
    /// for again gets the same device copy. Freed with this backend.
    /// </summary>
    public IRowGather<float> KeepRows(float[] data, int rowLength)
    {
        foreach (var r in keptRows)
            if (ReferenceEquals(r.Source, data) && r.RowLength == rowLength) return r;
        var rows = new DeviceRows(this, data, rowLength);
        UploadedBytes += (long)data.Length * sizeof(float);
        AfterSynchronousCopy();
        keptRows.Add(rows);
        return rows;
    }

    /// <inheritdoc/>
    public void Fill(Tensor<float> t, float value) => Kernels.Fill(View(t), value);

    /// <summary>One flag on the device, zeroed, set by the kernel, read back (the read synchronises).</summary>
    public bool AllFinite(Tensor<float> t)
    {
        var flag = nonFiniteFlag ??= Accelerator.Allocate1D<float>(1);
        flag.View.MemSetToZero(Kernels.Stream);
        Kernels.FlagNonFinite(View(t), flag.View);
        Span<float> one = stackalloc float[1];
        flag.View.CopyToCPU(Kernels.Stream, one);
        AfterSynchronousCopy();
        return one[0] == 0;
    }

    /// <summary>Zeroes the flag and queues the check: nothing waits until the flag is read.</summary>
    public void FlagNonFinite(Tensor<float> x, Tensor<float> flag)
    {
        var f = Scalar(flag);
        f.MemSetToZero(Kernels.Stream);
        Kernels.FlagNonFinite(View(x), f);
    }

    /// <inheritdoc/>
    public void CopyRows(Tensor<float> source, Tensor<float> destination, bool accumulate)
    {
        if (source.Shape.Last != destination.Shape.Last || source.Rows != destination.Rows)
            throw new ArgumentException(
                $"CopyRows: {source.Shape} and {destination.Shape} differ in rows or row length");
        Kernels.CopyRows(Window(source), source.RowStride, Window(destination), destination.RowStride, source.Rows,
            source.Shape.Last, accumulate);
    }

    /// <inheritdoc/>
    public void Unary<TOp>(Tensor<float> x, Tensor<float> y, float p) where TOp : struct, IUnaryFunction =>
        Kernels.Map<TOp>(View(x), View(y), p);

    /// <inheritdoc/>
    public void UnaryBackward<TOp>(Tensor<float> x, Tensor<float> y, Tensor<float> dy, Tensor<float> dx, float p,
        bool accumulate = true) where TOp : struct, IUnaryFunction
    {
        ArrayView<float> d = View(dx);
        if (!accumulate) Kernels.Fill(d, 0f);
        Kernels.MapBackward<TOp>(View(x), View(y), View(dy), d, p);
    }

    /// <summary>The broadcast layout of c = a ∘ b, or null when the shapes are equal (the flat kernels).</summary>
    static Broadcast4? Layout(Shape c, Shape a, Shape b)
    {
        if (a == b) return null;
        Span<int> dc = stackalloc int[c.Rank], da = stackalloc int[a.Rank], db = stackalloc int[b.Rank];
        for (int i = 0; i < c.Rank; i++) dc[i] = c[i];
        for (int i = 0; i < a.Rank; i++) da[i] = a[i];
        for (int i = 0; i < b.Rank; i++) db[i] = b[i];
        return Broadcast4.Create(dc, da, db);
    }

    /// <inheritdoc/>
    public void Binary<TOp>(Tensor<float> a, Tensor<float> b, Tensor<float> c) where TOp : struct, IBinaryFunction
    {
        ArrayView<float> va = View(a), vb = View(b), vc = View(c);
        if (Layout(c.Shape, a.Shape, b.Shape) is { } s) Kernels.Binary<TOp>(va, vb, vc, s);
        else Kernels.Binary<TOp>(va, vb, vc);
    }

    /// <inheritdoc/>
    public void BinaryBackward<TOp>(Tensor<float> a, Tensor<float> b, Tensor<float> dy, Tensor<float>? da,
        Tensor<float>? db) where TOp : struct, IBinaryFunction
    {
        ArrayView<float> va = View(a), vb = View(b), g = View(dy), vda = ViewOrEmpty(da), vdb = ViewOrEmpty(db);
        if (Layout(dy.Shape, a.Shape, b.Shape) is { } s) Kernels.BinaryBackward<TOp>(va, vb, g, vda, vdb, s);
        else Kernels.BinaryBackward<TOp>(va, vb, g, vda, vdb);
    }

    // The linear epilogue as separate kernels here: c = beta·c + bias first (beta = 1 in the GEMM), the ReLU after.
    /// <inheritdoc/>
    public void Matmul(Tensor<float> a, bool transA, Tensor<float> b, bool transB, Tensor<float> c, float alpha,
        float beta,
        Tensor<float>? bias = null, bool relu = false)
    {
        int m = c.Shape[0], n = c.Shape[1], k = transA ? a.Shape[0] : a.Shape[1];
        if (bias != null)
        {
            if (beta != 0f) Kernels.Map<UnaryOps.MulScalar>(View(c), View(c), beta);
            var row = ((IlgpuStorage)bias.Storage).Buffer.View.SubView(bias.Offset, n);
            Kernels.CopyRows(row, 0, View(c), n, m, n, beta != 0f);
            beta = 1f;
        }
        Kernels.Matmul(transA, transB, m, n, k, alpha, View(a), a.Shape[1], View(b), b.Shape[1], beta, View(c), n);
        if (relu) Kernels.Map<UnaryOps.Relu>(View(c), View(c), 0f);
    }

    /// <inheritdoc/>
    public void Sum(Tensor<float> x, int axis, Tensor<float> y, float scale, bool accumulate)
    {
        int outer = 1, length = x.Length, inner = 1;
        if (axis >= 0) { (outer, inner) = x.Shape.Around(axis); length = x.Shape[axis]; }
        int need = GpuKernels.SumScratchLength(outer, length, inner);
        if (need == 0) { Kernels.SumAxis(View(x), outer, length, inner, View(y), scale, accumulate, default); return; }
        var scratch = pool.Rent(need);
        Kernels.SumAxis(View(x), outer, length, inner, View(y), scale, accumulate, scratch.Buffer.View);
        pool.Return(scratch);   // safe while queued: see DeviceBufferPool
    }

    /// <inheritdoc/>
    public void SumBackward(Tensor<float> dy, int axis, Tensor<float> dx, float scale)
    {
        if (axis < 0) { Kernels.BroadcastAxis(View(dy), 1, dx.Length, 1, View(dx), scale); return; }
        var (outer, inner) = dx.Shape.Around(axis);
        Kernels.BroadcastAxis(View(dy), outer, dx.Shape[axis], inner, View(dx), scale);
    }

    /// <inheritdoc/>
    public void Transpose(Tensor<float> x, Tensor<float> y, bool accumulate) =>
        Kernels.Transpose(View(x), x.Shape[0], x.Shape[1], View(y), accumulate);

    /// <inheritdoc/>
    public void BceWithLogits(Tensor<float> logits, Tensor<float> target, Tensor<float> loss) =>
        Kernels.BceWithLogits(View(logits), View(target), View(loss));

    /// <inheritdoc/>
    public void BceWithLogitsBackward(Tensor<float> logits, Tensor<float> target, Tensor<float> dLoss,
        Tensor<float>? dLogits, Tensor<float>? dTarget) =>
        Kernels.BceWithLogitsBackward(View(logits), View(target), View(dLoss), ViewOrEmpty(dLogits),
            ViewOrEmpty(dTarget));

    // The summed BCE as the elementwise kernels and a sum (and a broadcast of the scalar gradient) through pooled
    // scratch.
    /// <inheritdoc/>
    public void BceWithLogitsSum(Tensor<float> logits, Tensor<float> target, Tensor<float> sum, float scale)
    {
        int n = logits.Length, need = GpuKernels.SumScratchLength(1, n, 1);
        var loss = pool.Rent(n);
        var l = loss.Buffer.View.SubView(0, n);
        Kernels.BceWithLogits(View(logits), View(target), l);
        var scratch = need == 0 ? null : pool.Rent(need);
        Kernels.SumAxis(l, 1, n, 1, View(sum), scale, false, scratch?.Buffer.View ?? default);
        if (scratch != null) pool.Return(scratch);   // safe while queued: see DeviceBufferPool
        pool.Return(loss);
    }

    /// <inheritdoc/>
    public void BceWithLogitsSumBackward(Tensor<float> logits, Tensor<float> target, Tensor<float> dSum, float scale,
        Tensor<float>? dLogits, bool accumulateLogits, Tensor<float>? dTarget)
    {
        int n = logits.Length;
        var grad = pool.Rent(n);
        var dl = grad.Buffer.View.SubView(0, n);
        Kernels.Fill(dl, 0f);
        Kernels.BroadcastAxis(View(dSum), 1, n, 1, dl, scale);
        if (dLogits != null && !accumulateLogits) Fill(dLogits, 0f);
        Kernels.BceWithLogitsBackward(View(logits), View(target), dl, ViewOrEmpty(dLogits), ViewOrEmpty(dTarget));
        pool.Return(grad);
    }

    /// <inheritdoc/>
    public void GaussianKl(Tensor<float> mu, Tensor<float> logvar, Tensor<float> kl) =>
        Kernels.GaussianKl(View(mu), View(logvar), mu.Rows, mu.Shape.Last, View(kl));

    /// <inheritdoc/>
    public void GaussianKlBackward(Tensor<float> mu, Tensor<float> logvar, Tensor<float> dKl, Tensor<float>? dMu,
        Tensor<float>? dLogvar) =>
        Kernels.GaussianKlBackward(View(mu), View(logvar), View(dKl), mu.Rows, mu.Shape.Last, ViewOrEmpty(dMu),
            ViewOrEmpty(dLogvar));

    /// <inheritdoc/>
    public void SoftmaxCrossEntropy(Tensor<float> logits, Tensor<float> target, Tensor<float> loss) =>
        Kernels.SoftmaxCrossEntropy(View(logits), View(target), logits.Rows, logits.Shape.Last, View(loss));

    /// <inheritdoc/>
    public void SoftmaxCrossEntropyBackward(Tensor<float> logits, Tensor<float> target, Tensor<float> dLoss,
        Tensor<float>? dLogits, Tensor<float>? dTarget) =>
        Kernels.SoftmaxCrossEntropyBackward(View(logits), View(target), View(dLoss), logits.Rows, logits.Shape.Last,
            ViewOrEmpty(dLogits), ViewOrEmpty(dTarget));

    /// <inheritdoc/>
    public void SquaredDistance(Tensor<float> a, Tensor<float> b, Tensor<float> d) =>
        Kernels.SquaredDistance(View(a), a.Shape[0], View(b), b.Shape[0], a.Shape[1], View(d));

    /// <inheritdoc/>
    public void SquaredDistanceBackward(Tensor<float> a, Tensor<float> b, Tensor<float> d, Tensor<float> dD,
        Tensor<float>? da, Tensor<float>? db) =>
        Kernels.SquaredDistanceBackward(View(a), a.Shape[0], View(b), b.Shape[0], a.Shape[1], View(d), View(dD),
            ViewOrEmpty(da), ViewOrEmpty(db));

    /// <inheritdoc/>
    public void Mmd(Tensor<float> x, Tensor<float> y, MmdSpec spec, Tensor<float> result)
    {
        int n = x.Shape[0], m = y.Shape[0], d = x.Shape[1];
        var partials = pool.Rent(Kernels.MmdPartialCount(n, m));
        Kernels.Mmd(View(x), n, View(y), m, d, spec, ScaledC(spec, d), partials.Buffer.View, View(result));
        pool.Return(partials);   // safe while queued: see DeviceBufferPool
    }

    /// <inheritdoc/>
    public void MmdBackward(Tensor<float> x, Tensor<float> y, MmdSpec spec, Tensor<float> dResult, Tensor<float>? dx,
        Tensor<float>? dy)
    {
        int n = x.Shape[0], m = y.Shape[0], d = x.Shape[1];
        int need = Kernels.MmdBackwardScratchLength(n, m, d, dx != null, dy != null);
        var scratch = need > 0 ? pool.Rent(need) : null;
        Kernels.MmdBackward(View(x), n, View(y), m, d, spec, ScaledC(spec, d), View(dResult), ViewOrEmpty(dx),
            ViewOrEmpty(dy), scratch?.Buffer.View ?? default);
        if (scratch != null) pool.Return(scratch);   // safe while queued: see DeviceBufferPool
    }

    /// <summary>The spec's s·C constants on the device, uploaded once per (scales, bandwidth, d).</summary>
    ArrayView<float> ScaledC(MmdSpec spec, int d)
    {
        foreach (var e in scaledC)
            if (e.D == d && e.Bandwidth == spec.Bandwidth && e.Scales.AsSpan().SequenceEqual(spec.Scales))
                return e.Buffer.View;
        var buffer = Accelerator.Allocate1D(GpuKernels.ScaledC(spec, d));
        scaledC.Add((d, spec.Bandwidth, (double[])spec.Scales.Clone(), buffer));
        return buffer.View;
    }

    /// <inheritdoc/>
    public void Im2Col(Tensor<float> image, ConvGeometry g, Tensor<float> cols)
    {
        if (image.Length != g.ImageLength || cols.Length != g.ColsLength)
            throw new ArgumentException($"im2col: image {image.Shape} and cols {cols.Shape} do not fit {g}");
        Kernels.Im2Col(View(image), g, View(cols));
    }

    /// <inheritdoc/>
    public void Col2Im(Tensor<float> cols, ConvGeometry g, Tensor<float> image)
    {
        if (image.Length != g.ImageLength || cols.Length != g.ColsLength)
            throw new ArgumentException($"col2im: cols {cols.Shape} and image {image.Shape} do not fit {g}");
        Kernels.Col2Im(View(cols), g, View(image));
    }

    // The conv GEMMs as im2col / col2im kernels around the GEMM, through a pooled cols buffer (returned at once: safe
    // while the kernels are queued, see DeviceBufferPool).
    /// <inheritdoc/>
    public void ConvForward(Tensor<float> image, ConvGeometry g, Tensor<float> w, Tensor<float> y, float beta)
    {
        int m = w.Length / g.PatchLength;
        if (image.Length != g.ImageLength || w.Length != m * g.PatchLength || y.Length != g.Rows * m)
            throw new ArgumentException($"conv forward: image {image.Shape}, w {w.Shape}, y {y.Shape} do not fit {g}");
        var cols = pool.Rent(g.ColsLength);
        var c = cols.Buffer.View.SubView(0, g.ColsLength);
        Kernels.Im2Col(View(image), g, c);
        Kernels.Matmul(false, true, g.Rows, m, g.PatchLength, 1f, c, g.PatchLength, View(w), g.PatchLength, beta,
            View(y), m);
        pool.Return(cols);
    }

    /// <inheritdoc/>
    public void ConvBackwardData(Tensor<float> a, Tensor<float> w, ConvGeometry g, Tensor<float> image, bool accumulate)
    {
        int k = w.Length / g.PatchLength;
        if (image.Length != g.ImageLength || w.Length != k * g.PatchLength || a.Length != g.Rows * k)
            throw new ArgumentException($"conv backward data: a {a.Shape}, w {w.Shape}, image {image.Shape}: not {g}");
        var cols = pool.Rent(g.ColsLength);
        var c = cols.Buffer.View.SubView(0, g.ColsLength);
        Kernels.Matmul(false, false, g.Rows, g.PatchLength, k, 1f, View(a), k, View(w), g.PatchLength, 0f, c,
            g.PatchLength);
        if (!accumulate) Fill(image, 0f);
        Kernels.Col2Im(c, g, View(image));
        pool.Return(cols);
    }

    /// <inheritdoc/>
    public void ConvWeightGrad(Tensor<float> image, ConvGeometry g, Tensor<float> dy, Tensor<float> dw, bool accumulate)
    {
        int m = dw.Length / g.PatchLength;
        if (image.Length != g.ImageLength || dw.Length != m * g.PatchLength || dy.Length != g.Rows * m)
            throw new ArgumentException(
                $"conv weight gradient: image {image.Shape}, dy {dy.Shape} and dw {dw.Shape} do not fit {g}");
        var cols = pool.Rent(g.ColsLength);
        var c = cols.Buffer.View.SubView(0, g.ColsLength);
        Kernels.Im2Col(View(image), g, c);
        Kernels.Matmul(true, false, m, g.PatchLength, g.Rows, 1f, View(dy), m, c, g.PatchLength, accumulate ? 1f : 0f,
            View(dw), g.PatchLength);
        pool.Return(cols);
    }

    // Batch norm: x seen as (rows, C), C = the last axis. The column sums need scratch (partials per row chunk),
    // rented from the pool and returned at once: safe while the kernels are queued (see DeviceBufferPool).
    /// <inheritdoc/>
    public void BatchNormStats(Tensor<float> x, Tensor<float> mean, Tensor<float> var)
    {
        int rows = x.Rows, c = x.Shape.Last;
        var scratch = pool.Rent(GpuKernels.BatchNormScratchLength(rows, c));
        Kernels.BatchNormStats(View(x), rows, c, View(mean), View(var), scratch.Buffer.View);
        pool.Return(scratch);
    }

    // A fused leaky ReLU runs as its own kernel here: in place after the apply, and into a pooled gradient before the
    // backward.
    /// <inheritdoc/>
    public void BatchNormApply(Tensor<float> x, Tensor<float> mean, Tensor<float> var, double eps, Tensor<float> gamma,
        Tensor<float> beta,
        Tensor<float> y, float? leakySlope = null)
    {
        Kernels.BatchNormApply(View(x), x.Rows, x.Shape.Last, View(mean), View(var), (float)eps, View(gamma),
            View(beta), View(y));
        if (leakySlope is { } slope) Kernels.Map<UnaryOps.LeakyRelu>(View(y), View(y), slope);
    }

    /// <inheritdoc/>
    public void BatchNormBackward(Tensor<float> x, Tensor<float> mean, Tensor<float> var, double eps,
        Tensor<float> gamma, Tensor<float> dy,
        Tensor<float>? dx, Tensor<float>? dGamma, Tensor<float>? dBeta, bool accumulateDx = true,
            Tensor<float>? y = null, float? leakySlope = null)
    {
        int rows = x.Rows, c = x.Shape.Last;
        var scratch = pool.Rent(GpuKernels.BatchNormScratchLength(rows, c));
        IlgpuStorage? grad = null;
        var g = View(dy);
        if (leakySlope is { } slope)
        {
            // g = leaky'(z)·dy, read from y's sign (the same as z's for slope ≥ 0)
            grad = pool.Rent(x.Length);
            g = grad.Buffer.View.SubView(0, x.Length);
            Kernels.Fill(g, 0f);
            Kernels.MapBackward<UnaryOps.LeakyRelu>(View(y ?? throw new ArgumentNullException(nameof(y))), View(y),
                View(dy), g, slope);
        }
        if (dx != null && !accumulateDx) Fill(dx, 0f);
        Kernels.BatchNormBackward(View(x), rows, c, View(mean), View(var), (float)eps, View(gamma), g,
            ViewOrEmpty(dx), ViewOrEmpty(dGamma), ViewOrEmpty(dBeta), scratch.Buffer.View);
        if (grad != null) pool.Return(grad);
        pool.Return(scratch);
    }

    /// <inheritdoc/>
    public void BatchNormUpdateRunning(Tensor<float> mean, Tensor<float> var, int rows, double momentum,
        Tensor<float> runningMean, Tensor<float> runningVar) =>
        Kernels.BatchNormUpdateRunning(View(mean), View(var), rows, (float)momentum, View(runningMean),
            View(runningVar));

    /// <inheritdoc/>
    public void Normal(Tensor<float> t, ulong key, ulong counter) => Kernels.Normal(View(t), key, counter);
    /// <inheritdoc/>
    public void Uniform(Tensor<float> t, ulong key, ulong counter) => Kernels.Uniform(View(t), key, counter);

    /// <inheritdoc/>
    public void Adam(Tensor<float> param, Tensor<float> grad, Tensor<float> m, Tensor<float> v, double lr, double beta1,
        double beta2, double eps, long step) =>
        Kernels.Adam(View(param), View(grad), View(m), View(v), AdamArgs.For(lr, beta1, beta2, eps, 0,
            checked((int)step)));

    /// <summary>Frees the kept data sets, the pooled buffers, the stream and the ILGPU context.</summary>
    public void Dispose()
    {
        Kernels.Stream.Synchronize();
        foreach (var e in scaledC) e.Buffer.Dispose();
        scaledC.Clear();
        foreach (var r in keptRows) r.Dispose();
        keptRows.Clear();
        scalars?.Dispose();
        stagedFloats.Dispose();
        stagedInts.Dispose();
        nonFiniteFlag?.Dispose();
        pool.Dispose();
        Kernels.Stream.Dispose();
        Accelerator.Dispose();
        context.Dispose();
    }
}
