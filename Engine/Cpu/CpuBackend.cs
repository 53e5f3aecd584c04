using System.Numerics;
using System.Numerics.Tensors;
using InfoVae.Kernels;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Engine.Cpu;

/// <summary>The SIMD CPU backend: tensors are pooled managed arrays, primitives run on Kernels/Cpu.</summary>
public sealed class CpuBackend<T> : IBackend<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The process-wide CPU backend of T, with its buffer pool.</summary>
    public static CpuBackend<T> Instance { get; } = new();

    readonly BufferPool<T> pool;
    /// <summary>A CPU backend with its own buffer pool (tests use one to count rentals).</summary>
    public CpuBackend() => pool = new BufferPool<T>(this);

    /// <inheritdoc/>
    public string Name => "cpu";
    /// <summary>The pooled buffers tensors of this backend live in.</summary>
    public BufferPool<T> Pool => pool;

    /// <inheritdoc/>
    public Storage<T> Rent(int length) => pool.Rent(length);
    /// <inheritdoc/>
    public void Return(Storage<T> storage) => pool.Return((CpuStorage<T>)storage);

    /// <summary>
    /// The tensor's elements; the tensor must be contiguous (ops make views contiguous before calling in).
    /// </summary>
    public static Span<T> Span(Tensor<T> t)
    {
        if (!t.IsContiguous) throw new InvalidOperationException($"{t} is a strided view; make it contiguous first");
        return ((CpuStorage<T>)t.Storage).Data.AsSpan(t.Offset, t.Length);
    }

    static Span<T> Row(Tensor<T> t, int r) => ((CpuStorage<T>)t.Storage).Data.AsSpan(t.Offset + r * t.RowStride,
        t.Shape.Last);

    /// <inheritdoc/>
    public void Upload(ReadOnlySpan<T> source, Tensor<T> destination) => source.CopyTo(Span(destination));
    /// <inheritdoc/>
    public void Download(Tensor<T> source, Span<T> destination) => Span(source).CopyTo(destination);
    /// <inheritdoc/>
    public void Fill(Tensor<T> t, T value) => Span(t).Fill(value);
    /// <inheritdoc/>
    public bool AllFinite(Tensor<T> t) => TensorPrimitives.IsFiniteAll<T>(Span(t));

    /// <inheritdoc/>
    public void CopyRows(Tensor<T> source, Tensor<T> destination, bool accumulate)
    {
        if (source.Shape.Last != destination.Shape.Last || source.Rows != destination.Rows)
            throw new ArgumentException(
                $"CopyRows: {source.Shape} and {destination.Shape} differ in rows or row length");
        if (destination.Length == 0) return;
        // Row by row costs ~17 ns a row: a (B, 28, 28, 1) gradient seed or a one-channel bias broadcast has 200k rows
        // of one element (ConvBench: 7 ms a step). Both contiguous: one run; a repeated scalar: one fill.
        if (source.IsContiguous && destination.IsContiguous)
        {
            Span<T> s = Span(source), d = Span(destination);
            if (accumulate) TensorPrimitives.Add(d, s, d); else s.CopyTo(d);
            return;
        }
        if (source.RowStride == 0 && source.Shape.Last == 1 && destination.IsContiguous)
        {
            T v = Row(source, 0)[0];
            var d = Span(destination);
            if (accumulate) TensorPrimitives.Add(d, v, d); else d.Fill(v);
            return;
        }
        for (int r = 0; r < source.Rows; r++)
        {
            if (accumulate) { var d = Row(destination, r); TensorPrimitives.Add(d, Row(source, r), d); }
            else Row(source, r).CopyTo(Row(destination, r));
        }
    }

    /// <inheritdoc/>
    public void Unary<TOp>(Tensor<T> x, Tensor<T> y, T p) where TOp : struct, IUnaryFunction
    {
        var xs = Span(x); var ys = Span(y);
        if (xs.IsEmpty) return;                   // TensorPrimitives.Sigmoid throws on an empty span
        TOp.Forward(xs, ys, p);
    }

    /// <inheritdoc/>
    public void UnaryBackward<TOp>(Tensor<T> x, Tensor<T> y, Tensor<T> dy, Tensor<T> dx, T p, bool accumulate = true)
        where TOp : struct, IUnaryFunction
    {
        var xs = Span(x); var ys = Span(y); var g = Span(dy); var d = Span(dx);
        if (d.IsEmpty) return;
        if (!accumulate)
        {
            if (TOp.BackwardOverwrite(xs, ys, g, d, p)) return;
            d.Clear();
        }
        TOp.Backward(xs, ys, g, d, p);
    }

    /// <inheritdoc/>
    public void Binary<TOp>(Tensor<T> a, Tensor<T> b, Tensor<T> c) where TOp : struct, IBinaryFunction
    {
        var sa = Span(a); var sb = Span(b); var sc = Span(c);
        if (a.Shape == b.Shape)
        {
            TOp.Forward(sa, sb, sc);
            return;
        }
        Span<int> dims = stackalloc int[4], stA = stackalloc int[4], stB = stackalloc int[4], dense = stackalloc int[4];
        TOp.Forward(sa, sb, sc, Index(c.Shape, a.Shape, b.Shape, dims, stA, stB, dense));
    }

    /// <inheritdoc/>
    public void BinaryBackward<TOp>(Tensor<T> a, Tensor<T> b, Tensor<T> dy, Tensor<T>? da, Tensor<T>? db)
        where TOp : struct, IBinaryFunction
    {
        var g = Span(dy);
        var sa = Span(a); var sb = Span(b);
        if (a.Shape == b.Shape)
        {
            if (da != null) TOp.BackwardA(sa, sb, g, Span(da));
            if (db != null) TOp.BackwardB(sa, sb, g, Span(db));
            return;
        }
        // Broadcast: form the full-shape gradient term, then sum it over the axes the operand was repeated along.
        Span<int> dims = stackalloc int[4], stA = stackalloc int[4], stB = stackalloc int[4], dense = stackalloc int[4];
        var index = Index(dy.Shape, a.Shape, b.Shape, dims, stA, stB, dense);
        var tmp = pool.Rent(g.Length);
        var t = tmp.Data.AsSpan(0, g.Length);
        if (da != null)
        {
            TOp.GradATerm(sa, sb, g, t, index);
            Broadcast.ReduceInto<T>(t, dims, stA, Span(da));
        }
        if (db != null)
        {
            TOp.GradBTerm(sa, sb, g, t, index);
            Broadcast.ReduceInto<T>(t, dims, stB, Span(db));
        }
        pool.Return(tmp);
    }

    /// <summary>The broadcast index space of output = a ∘ b, written into the four spans it returns views of.</summary>
    static BroadcastIndex Index(Shape output, Shape a, Shape b, Span<int> dims, Span<int> stA, Span<int> stB,
        Span<int> dense)
    {
        BroadcastStrides(output, a, dims, stA);
        BroadcastStrides(output, b, dims, stB);
        dense[0] = dims[1] * dims[2] * dims[3]; dense[1] = dims[2] * dims[3]; dense[2] = dims[3]; dense[3] = 1;
        return new BroadcastIndex(dims, stA, stB, dense);
    }

    /// <summary>
    /// Output dims padded to rank 4, and the operand's strides in that index space (0 where it is broadcast).
    /// </summary>
    static void BroadcastStrides(Shape output, Shape operand, Span<int> dims, Span<int> strides)
    {
        int pad = 4 - output.Rank, opPad = 4 - operand.Rank, stride = 1;
        for (int i = 3; i >= 0; i--)
        {
            dims[i] = i < pad ? 1 : output[i - pad];
            int od = i < opPad ? 1 : operand[i - opPad];
            strides[i] = od == 1 ? 0 : stride;
            stride *= od;
        }
    }

    /// <inheritdoc/>
    public void Matmul(Tensor<T> a, bool transA, Tensor<T> b, bool transB, Tensor<T> c, T alpha, T beta,
        Tensor<T>? bias = null, bool relu = false)
    {
        int m = c.Shape[0], n = c.Shape[1], k = transA ? a.Shape[0] : a.Shape[1];
        Gemm.Multiply(transA, transB, m, n, k, alpha, Span(a), a.Shape[1], Span(b), b.Shape[1], beta, Span(c), n,
            bias == null ? default : Span(bias), relu);
    }

    /// <inheritdoc/>
    public void Sum(Tensor<T> x, int axis, Tensor<T> y, T scale, bool accumulate)
    {
        if (axis < 0) { Reduce.SumAxis<T>(Span(x), 1, x.Length, 1, scale, accumulate, Span(y)); return; }
        var (outer, inner) = x.Shape.Around(axis);
        Reduce.SumAxis<T>(Span(x), outer, x.Shape[axis], inner, scale, accumulate, Span(y));
    }

    /// <inheritdoc/>
    public void SumBackward(Tensor<T> dy, int axis, Tensor<T> dx, T scale)
    {
        if (axis < 0) { Reduce.BroadcastAxis<T>(Span(dy), 1, dx.Length, 1, scale, Span(dx)); return; }
        var (outer, inner) = dx.Shape.Around(axis);
        Reduce.BroadcastAxis<T>(Span(dy), outer, dx.Shape[axis], inner, scale, Span(dx));
    }

    /// <inheritdoc/>
    public void Transpose(Tensor<T> x, Tensor<T> y, bool accumulate)
    {
        int r = x.Shape[0], c = x.Shape[1];
        var xs = Span(x); var ys = Span(y);
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++)
                ys[j * r + i] = accumulate ? ys[j * r + i] + xs[i * c + j] : xs[i * c + j];
    }

    /// <inheritdoc/>
    public void BceWithLogits(Tensor<T> logits, Tensor<T> target, Tensor<T> loss) =>
        Losses.BceWithLogits<T>(Span(logits), Span(target), Span(loss));

    /// <inheritdoc/>
    public void BceWithLogitsBackward(Tensor<T> logits, Tensor<T> target, Tensor<T> dLoss, Tensor<T>? dLogits,
        Tensor<T>? dTarget) =>
        Losses.BceWithLogitsBackward<T>(Span(logits), Span(target), Span(dLoss),
            dLogits == null ? default : Span(dLogits),
            dTarget == null ? default : Span(dTarget));

    /// <inheritdoc/>
    public void BceWithLogitsSum(Tensor<T> logits, Tensor<T> target, Tensor<T> sum, T scale) =>
        Span(sum)[0] = Losses.BceWithLogitsSum<T>(Span(logits), Span(target)) * scale;

    /// <inheritdoc/>
    public void BceWithLogitsSumBackward(Tensor<T> logits, Tensor<T> target, Tensor<T> dSum, T scale,
        Tensor<T>? dLogits, bool accumulateLogits, Tensor<T>? dTarget) =>
        Losses.BceWithLogitsSumBackward<T>(Span(logits), Span(target), Span(dSum)[0] * scale,
            dLogits == null ? default : Span(dLogits), accumulateLogits, dTarget == null ? default : Span(dTarget));

    /// <inheritdoc/>
    public void GaussianKl(Tensor<T> mu, Tensor<T> logvar, Tensor<T> kl) =>
        Losses.GaussianKl<T>(Span(mu), Span(logvar), mu.Rows, mu.Shape.Last, Span(kl));

    /// <inheritdoc/>
    public void GaussianKlBackward(Tensor<T> mu, Tensor<T> logvar, Tensor<T> dKl, Tensor<T>? dMu, Tensor<T>? dLogvar) =>
        Losses.GaussianKlBackward<T>(Span(mu), Span(logvar), Span(dKl), mu.Rows, mu.Shape.Last,
            dMu == null ? default : Span(dMu), dLogvar == null ? default : Span(dLogvar));

    /// <inheritdoc/>
    public void SoftmaxCrossEntropy(Tensor<T> logits, Tensor<T> target, Tensor<T> loss) =>
        Losses.SoftmaxCrossEntropy<T>(Span(logits), Span(target), logits.Rows, logits.Shape.Last, Span(loss));

    /// <inheritdoc/>
    public void SoftmaxCrossEntropyBackward(Tensor<T> logits, Tensor<T> target, Tensor<T> dLoss, Tensor<T>? dLogits,
        Tensor<T>? dTarget) =>
        Losses.SoftmaxCrossEntropyBackward<T>(Span(logits), Span(target), Span(dLoss), logits.Rows, logits.Shape.Last,
            dLogits == null ? default : Span(dLogits), dTarget == null ? default : Span(dTarget));

    /// <inheritdoc/>
    public void SquaredDistance(Tensor<T> a, Tensor<T> b, Tensor<T> d) =>
        PairwiseDistance.Forward<T>(Span(a), a.Shape[0], Span(b), b.Shape[0], a.Shape[1], Span(d));

    /// <inheritdoc/>
    public void SquaredDistanceBackward(Tensor<T> a, Tensor<T> b, Tensor<T> d, Tensor<T> dD, Tensor<T>? da,
        Tensor<T>? db) =>
        PairwiseDistance.Backward<T>(Span(a), a.Shape[0], Span(b), b.Shape[0], a.Shape[1], Span(d), Span(dD),
            da == null ? default : Span(da), db == null ? default : Span(db));

    /// <inheritdoc/>
    public void Mmd(Tensor<T> x, Tensor<T> y, MmdSpec spec, Tensor<T> result) =>
        Span(result)[0] = Kernels.Cpu.Mmd.Forward<T>(Span(x), x.Shape[0], Span(y), y.Shape[0], x.Shape[1], spec);

    /// <inheritdoc/>
    public void MmdBackward(Tensor<T> x, Tensor<T> y, MmdSpec spec, Tensor<T> dResult, Tensor<T>? dx, Tensor<T>? dy) =>
        Kernels.Cpu.Mmd.Backward<T>(Span(x), x.Shape[0], Span(y), y.Shape[0], x.Shape[1], spec, Span(dResult)[0],
            dx == null ? default : Span(dx), dy == null ? default : Span(dy));

    /// <inheritdoc/>
    public void Im2Col(Tensor<T> image, ConvGeometry g, Tensor<T> cols)
        => Kernels.Cpu.Im2Col.Copy<T>(Span(image), g, Span(cols));
    /// <inheritdoc/>
    public void Col2Im(Tensor<T> cols, ConvGeometry g, Tensor<T> image)
        => Kernels.Cpu.Col2Im.Accumulate<T>(Span(cols), g, Span(image));

    /// <inheritdoc/>
    public void ConvForward(Tensor<T> image, ConvGeometry g, Tensor<T> w, Tensor<T> y, T beta) =>
        ConvGemm.Forward<T>(Span(image), g, Span(w), w.Length / g.PatchLength, beta, Span(y));

    /// <inheritdoc/>
    public void ConvBackwardData(Tensor<T> a, Tensor<T> w, ConvGeometry g, Tensor<T> image, bool accumulate) =>
        ConvGemm.BackwardData<T>(Span(a), w.Length / g.PatchLength, Span(w), g, accumulate, Span(image));

    /// <inheritdoc/>
    public void ConvWeightGrad(Tensor<T> image, ConvGeometry g, Tensor<T> dy, Tensor<T> dw, bool accumulate) =>
        ConvGemm.WeightGrad<T>(Span(image), g, Span(dy), dw.Length / g.PatchLength, accumulate, Span(dw));

    /// <inheritdoc/>
    public void BatchNormStats(Tensor<T> x, Tensor<T> mean, Tensor<T> var) =>
        BatchNorm.Stats<T>(Span(x), x.Rows, x.Shape.Last, Span(mean), Span(var));

    /// <inheritdoc/>
    public void BatchNormApply(Tensor<T> x, Tensor<T> mean, Tensor<T> var, double eps, Tensor<T> gamma, Tensor<T> beta,
        Tensor<T> y,
        T? leakySlope = null)
    {
        if (leakySlope is { } slope)
            BatchNorm.ApplyLeakyRelu<T>(Span(x), x.Rows, x.Shape.Last, Span(mean), Span(var), eps, Span(gamma),
                Span(beta), slope, Span(y));
        else BatchNorm.Apply<T>(Span(x), x.Rows, x.Shape.Last, Span(mean), Span(var), eps, Span(gamma), Span(beta),
            Span(y));
    }

    /// <inheritdoc/>
    public void BatchNormBackward(Tensor<T> x, Tensor<T> mean, Tensor<T> var, double eps, Tensor<T> gamma, Tensor<T> dy,
        Tensor<T>? dx, Tensor<T>? dGamma, Tensor<T>? dBeta, bool accumulateDx = true, Tensor<T>? y = null,
            T? leakySlope = null)
    {
        Span<T> sdx = dx == null ? default : Span(dx), sdg = dGamma == null ? default : Span(dGamma),
            sdb = dBeta == null ? default : Span(dBeta);
        if (leakySlope is { } slope)
            BatchNorm.BackwardLeakyRelu<T>(Span(x),
                Span(y ?? throw new ArgumentNullException(nameof(y), "a fused leaky ReLU's backward needs its output")),
                x.Rows, x.Shape.Last, Span(mean), Span(var), eps, Span(gamma), slope, Span(dy), sdx, sdg, sdb,
                    accumulateDx);
        else BatchNorm.Backward<T>(Span(x), x.Rows, x.Shape.Last, Span(mean), Span(var), eps, Span(gamma), Span(dy),
            sdx, sdg, sdb, accumulateDx);
    }

    /// <inheritdoc/>
    public void BatchNormUpdateRunning(Tensor<T> mean, Tensor<T> var, int rows, double momentum, Tensor<T> runningMean,
        Tensor<T> runningVar) =>
        BatchNorm.UpdateRunning<T>(Span(mean), Span(var), rows, momentum, Span(runningMean), Span(runningVar));

    /// <inheritdoc/>
    public void Normal(Tensor<T> t, ulong key, ulong counter) => Philox.Normal(key, counter, Span(t));
    /// <inheritdoc/>
    public void Uniform(Tensor<T> t, ulong key, ulong counter) => Philox.Uniform(key, counter, Span(t));

    /// <inheritdoc/>
    public void Adam(Tensor<T> param, Tensor<T> grad, Tensor<T> m, Tensor<T> v, double lr, double beta1, double beta2,
        double eps, long step) =>
        Kernels.Cpu.Adam.Step<T>(Span(param), Span(grad), Span(m), Span(v), lr, beta1, beta2, eps, step);
}
