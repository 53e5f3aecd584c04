using System.Numerics;
using System.Numerics.Tensors;
using InfoVae.Kernels;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Engine.Cpu;

/// <summary>The SIMD CPU backend: tensors are pooled managed arrays, primitives run on Kernels/Cpu.</summary>
public sealed class CpuBackend<T> : IBackend<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static CpuBackend<T> Instance { get; } = new();

    readonly BufferPool<T> pool;
    public CpuBackend() => pool = new BufferPool<T>(this);

    public string Name => "cpu";
    public BufferPool<T> Pool => pool;

    public Storage<T> Rent(int length) => pool.Rent(length);
    public void Return(Storage<T> storage) => pool.Return((CpuStorage<T>)storage);

    /// <summary>The tensor's elements; the tensor must be contiguous (ops make views contiguous before calling in).</summary>
    public static Span<T> Span(Tensor<T> t)
    {
        if (!t.IsContiguous) throw new InvalidOperationException($"{t} is a strided view; make it contiguous first");
        return ((CpuStorage<T>)t.Storage).Data.AsSpan(t.Offset, t.Length);
    }

    static Span<T> Row(Tensor<T> t, int r) => ((CpuStorage<T>)t.Storage).Data.AsSpan(t.Offset + r * t.RowStride, t.Shape.Last);

    public void Upload(ReadOnlySpan<T> source, Tensor<T> destination) => source.CopyTo(Span(destination));
    public void Download(Tensor<T> source, Span<T> destination) => Span(source).CopyTo(destination);
    public void Fill(Tensor<T> t, T value) => Span(t).Fill(value);
    public bool AllFinite(Tensor<T> t) => TensorPrimitives.IsFiniteAll<T>(Span(t));

    public void CopyRows(Tensor<T> source, Tensor<T> destination, bool accumulate)
    {
        if (source.Shape.Last != destination.Shape.Last || source.Rows != destination.Rows)
            throw new ArgumentException($"CopyRows: {source.Shape} and {destination.Shape} differ in rows or row length");
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

    public void Unary(UnaryOp op, Tensor<T> x, Tensor<T> y, T p)
    {
        var xs = Span(x); var ys = Span(y);
        if (xs.IsEmpty) return;                   // TensorPrimitives.Sigmoid throws on an empty span
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Negate(xs, ys); break;
            case UnaryOp.Exp: TensorPrimitives.Exp(xs, ys); break;
            case UnaryOp.Log: TensorPrimitives.Log(xs, ys); break;
            case UnaryOp.Sqrt: TensorPrimitives.Sqrt(xs, ys); break;
            case UnaryOp.Relu: Simd.Map<T, ReluOp<T>>(xs, ys); break;
            case UnaryOp.LeakyRelu: Simd.Map<T, LeakyReluOp<T>>(xs, p, ys); break;
            case UnaryOp.Sigmoid: TensorPrimitives.Sigmoid(xs, ys); break;
            case UnaryOp.Tanh:
                // Not TensorPrimitives.Tanh (System.Numerics.Tensors 10.0.0): near 0 it is far off (tanh(0) = −6e-8 in
                // float, tanh of a tiny double is −0; Tests/Engine/UnaryForwardTests). No model uses tanh, so the C
                // library's, element by element, within an ulp.
                for (int i = 0; i < xs.Length; i++) ys[i] = T.Tanh(xs[i]);
                break;
            case UnaryOp.AddScalar: Simd.Map<T, AddScalarOp<T>>(xs, p, ys); break;
            case UnaryOp.MulScalar: Simd.Map<T, MulScalarOp<T>>(xs, p, ys); break;
            case UnaryOp.Softplus: Losses.Softplus<T>(xs, ys); break;
            default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    public void UnaryBackward(UnaryOp op, Tensor<T> x, Tensor<T> y, Tensor<T> dy, Tensor<T> dx, T p,
        bool accumulate = true)
    {
        var xs = Span(x); var ys = Span(y); var g = Span(dy); var d = Span(dx);
        if (!accumulate)
        {
            if (op is UnaryOp.Relu or UnaryOp.LeakyRelu)
            {
                Simd.Apply<T, LeakyReluGradOp<T>>(xs, xs, g, op == UnaryOp.Relu ? T.Zero : p, d);
                return;
            }
            d.Clear();
        }
        T half = T.CreateTruncating(0.5);
        switch (op)
        {
            case UnaryOp.Neg: TensorPrimitives.Subtract(d, g, d); break;
            case UnaryOp.Exp: Simd.Accumulate<T, MulAccOp<T>>(ys, ys, g, T.One, d); break;
            case UnaryOp.Log: Simd.Accumulate<T, DivAccOp<T>>(xs, xs, g, T.One, d); break;
            case UnaryOp.Sqrt: Simd.Accumulate<T, DivAccOp<T>>(ys, ys, g, half, d); break;
            case UnaryOp.Relu: Simd.Accumulate<T, LeakyReluGradOp<T>>(xs, xs, g, T.Zero, d); break;
            case UnaryOp.LeakyRelu: Simd.Accumulate<T, LeakyReluGradOp<T>>(xs, xs, g, p, d); break;
            case UnaryOp.Sigmoid: Simd.Accumulate<T, SigmoidGradOp<T>>(xs, ys, g, d); break;
            case UnaryOp.Tanh: Simd.Accumulate<T, TanhGradOp<T>>(xs, ys, g, d); break;
            case UnaryOp.AddScalar: TensorPrimitives.Add(d, g, d); break;
            case UnaryOp.MulScalar: TensorPrimitives.MultiplyAdd(g, p, d, d); break;
            case UnaryOp.Softplus:
            {
                // d softplus / dx = σ(x)
                var s = pool.Rent(xs.Length);
                var ss = s.Data.AsSpan(0, xs.Length);
                TensorPrimitives.Sigmoid(xs, ss);
                TensorPrimitives.MultiplyAdd(ss, g, d, d);
                pool.Return(s);
                break;
            }
            default: throw new ArgumentOutOfRangeException(nameof(op), op, null);
        }
    }

    public void Binary(BinaryOp op, Tensor<T> a, Tensor<T> b, Tensor<T> c)
    {
        var sa = Span(a); var sb = Span(b); var sc = Span(c);
        if (a.Shape == b.Shape)
        {
            switch (op)
            {
                case BinaryOp.Add: TensorPrimitives.Add(sa, sb, sc); break;
                case BinaryOp.Sub: TensorPrimitives.Subtract(sa, sb, sc); break;
                case BinaryOp.Mul: TensorPrimitives.Multiply(sa, sb, sc); break;
                case BinaryOp.Div: TensorPrimitives.Divide(sa, sb, sc); break;
            }
            return;
        }
        Span<int> dims = stackalloc int[4], stA = stackalloc int[4], stB = stackalloc int[4];
        BroadcastStrides(c.Shape, a.Shape, dims, stA);
        BroadcastStrides(c.Shape, b.Shape, dims, stB);
        switch (op)
        {
            case BinaryOp.Add: Broadcast.Binary<T, AddOp<T>>(sa, stA, sb, stB, dims, sc); break;
            case BinaryOp.Sub: Broadcast.Binary<T, SubOp<T>>(sa, stA, sb, stB, dims, sc); break;
            case BinaryOp.Mul: Broadcast.Binary<T, MulOp<T>>(sa, stA, sb, stB, dims, sc); break;
            case BinaryOp.Div: Broadcast.Binary<T, DivOp<T>>(sa, stA, sb, stB, dims, sc); break;
        }
    }

    public void BinaryBackward(BinaryOp op, Tensor<T> a, Tensor<T> b, Tensor<T> dy, Tensor<T>? da, Tensor<T>? db)
    {
        var g = Span(dy);
        var sa = Span(a); var sb = Span(b);
        if (a.Shape == b.Shape)
        {
            if (da != null)
            {
                var d = Span(da);
                switch (op)
                {
                    case BinaryOp.Add or BinaryOp.Sub: TensorPrimitives.Add(d, g, d); break;
                    case BinaryOp.Mul: Simd.Accumulate<T, MulAccOp<T>>(sb, sb, g, T.One, d); break;
                    case BinaryOp.Div: Simd.Accumulate<T, DivAccOp<T>>(sb, sb, g, T.One, d); break;
                }
            }
            if (db != null)
            {
                var d = Span(db);
                switch (op)
                {
                    case BinaryOp.Add: TensorPrimitives.Add(d, g, d); break;
                    case BinaryOp.Sub: TensorPrimitives.Subtract(d, g, d); break;
                    case BinaryOp.Mul: Simd.Accumulate<T, MulAccOp<T>>(sa, sa, g, T.One, d); break;
                    case BinaryOp.Div: Simd.Accumulate<T, DivisorGradOp<T>>(sa, sb, g, d); break;
                }
            }
            return;
        }
        // Broadcast: form the full-shape gradient term, then sum it over the axes the operand was repeated along.
        Span<int> dims = stackalloc int[4], stA = stackalloc int[4], stB = stackalloc int[4];
        BroadcastStrides(dy.Shape, a.Shape, dims, stA);
        BroadcastStrides(dy.Shape, b.Shape, dims, stB);
        var tmp = pool.Rent(g.Length);
        var t = tmp.Data.AsSpan(0, g.Length);
        if (da != null)
        {
            switch (op)
            {
                case BinaryOp.Add or BinaryOp.Sub: g.CopyTo(t); break;
                case BinaryOp.Mul: Broadcast.Binary<T, MulOp<T>>(g, ContiguousStrides(dims), sb, stB, dims, t); break;
                case BinaryOp.Div: Broadcast.Binary<T, DivOp<T>>(g, ContiguousStrides(dims), sb, stB, dims, t); break;
            }
            Broadcast.ReduceInto<T>(t, dims, stA, Span(da));
        }
        if (db != null)
        {
            switch (op)
            {
                case BinaryOp.Add: g.CopyTo(t); break;
                case BinaryOp.Sub: TensorPrimitives.Negate(g, t); break;
                case BinaryOp.Mul: Broadcast.Binary<T, MulOp<T>>(g, ContiguousStrides(dims), sa, stA, dims, t); break;
                case BinaryOp.Div:
                    // −dy · a / b²
                    Broadcast.Binary<T, MulOp<T>>(g, ContiguousStrides(dims), sa, stA, dims, t);
                    var b2 = pool.Rent(g.Length); var sq = b2.Data.AsSpan(0, g.Length);
                    Broadcast.Binary<T, MulOp<T>>(sb, stB, sb, stB, dims, sq);
                    TensorPrimitives.Divide(t, sq, t); TensorPrimitives.Negate(t, t);
                    pool.Return(b2);
                    break;
            }
            Broadcast.ReduceInto<T>(t, dims, stB, Span(db));
        }
        pool.Return(tmp);
    }

    static int[] ContiguousStrides(ReadOnlySpan<int> dims) => [dims[1] * dims[2] * dims[3], dims[2] * dims[3], dims[3], 1];

    /// <summary>Output dims padded to rank 4, and the operand's strides in that index space (0 where it is broadcast).</summary>
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

    public void Matmul(Tensor<T> a, bool transA, Tensor<T> b, bool transB, Tensor<T> c, T alpha, T beta,
        Tensor<T>? bias = null, bool relu = false)
    {
        int m = c.Shape[0], n = c.Shape[1], k = transA ? a.Shape[0] : a.Shape[1];
        Gemm.Multiply(transA, transB, m, n, k, alpha, Span(a), a.Shape[1], Span(b), b.Shape[1], beta, Span(c), n,
            bias == null ? default : Span(bias), relu);
    }

    public void Sum(Tensor<T> x, int axis, Tensor<T> y, T scale, bool accumulate)
    {
        if (axis < 0) { Reduce.SumAxis<T>(Span(x), 1, x.Length, 1, scale, accumulate, Span(y)); return; }
        var (outer, inner) = x.Shape.Around(axis);
        Reduce.SumAxis<T>(Span(x), outer, x.Shape[axis], inner, scale, accumulate, Span(y));
    }

    public void SumBackward(Tensor<T> dy, int axis, Tensor<T> dx, T scale)
    {
        if (axis < 0) { Reduce.BroadcastAxis<T>(Span(dy), 1, dx.Length, 1, scale, Span(dx)); return; }
        var (outer, inner) = dx.Shape.Around(axis);
        Reduce.BroadcastAxis<T>(Span(dy), outer, dx.Shape[axis], inner, scale, Span(dx));
    }

    public void Transpose(Tensor<T> x, Tensor<T> y, bool accumulate)
    {
        int r = x.Shape[0], c = x.Shape[1];
        var xs = Span(x); var ys = Span(y);
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++)
                ys[j * r + i] = accumulate ? ys[j * r + i] + xs[i * c + j] : xs[i * c + j];
    }

    public void BceWithLogits(Tensor<T> logits, Tensor<T> target, Tensor<T> loss) =>
        Losses.BceWithLogits<T>(Span(logits), Span(target), Span(loss));

    public void BceWithLogitsBackward(Tensor<T> logits, Tensor<T> target, Tensor<T> dLoss, Tensor<T>? dLogits, Tensor<T>? dTarget) =>
        Losses.BceWithLogitsBackward<T>(Span(logits), Span(target), Span(dLoss), dLogits == null ? default : Span(dLogits),
            dTarget == null ? default : Span(dTarget));

    public void BceWithLogitsSum(Tensor<T> logits, Tensor<T> target, Tensor<T> sum, T scale) =>
        Span(sum)[0] = Losses.BceWithLogitsSum<T>(Span(logits), Span(target)) * scale;

    public void BceWithLogitsSumBackward(Tensor<T> logits, Tensor<T> target, Tensor<T> dSum, T scale,
        Tensor<T>? dLogits, bool accumulateLogits, Tensor<T>? dTarget) =>
        Losses.BceWithLogitsSumBackward<T>(Span(logits), Span(target), Span(dSum)[0] * scale,
            dLogits == null ? default : Span(dLogits), accumulateLogits, dTarget == null ? default : Span(dTarget));

    public void GaussianKl(Tensor<T> mu, Tensor<T> logvar, Tensor<T> kl) =>
        Losses.GaussianKl<T>(Span(mu), Span(logvar), mu.Rows, mu.Shape.Last, Span(kl));

    public void GaussianKlBackward(Tensor<T> mu, Tensor<T> logvar, Tensor<T> dKl, Tensor<T>? dMu, Tensor<T>? dLogvar) =>
        Losses.GaussianKlBackward<T>(Span(mu), Span(logvar), Span(dKl), mu.Rows, mu.Shape.Last,
            dMu == null ? default : Span(dMu), dLogvar == null ? default : Span(dLogvar));

    public void SoftmaxCrossEntropy(Tensor<T> logits, Tensor<T> target, Tensor<T> loss) =>
        Losses.SoftmaxCrossEntropy<T>(Span(logits), Span(target), logits.Rows, logits.Shape.Last, Span(loss));

    public void SoftmaxCrossEntropyBackward(Tensor<T> logits, Tensor<T> target, Tensor<T> dLoss, Tensor<T>? dLogits,
        Tensor<T>? dTarget) =>
        Losses.SoftmaxCrossEntropyBackward<T>(Span(logits), Span(target), Span(dLoss), logits.Rows, logits.Shape.Last,
            dLogits == null ? default : Span(dLogits), dTarget == null ? default : Span(dTarget));

    public void SquaredDistance(Tensor<T> a, Tensor<T> b, Tensor<T> d) =>
        PairwiseDistance.Forward<T>(Span(a), a.Shape[0], Span(b), b.Shape[0], a.Shape[1], Span(d));

    public void SquaredDistanceBackward(Tensor<T> a, Tensor<T> b, Tensor<T> d, Tensor<T> dD, Tensor<T>? da, Tensor<T>? db) =>
        PairwiseDistance.Backward<T>(Span(a), a.Shape[0], Span(b), b.Shape[0], a.Shape[1], Span(d), Span(dD),
            da == null ? default : Span(da), db == null ? default : Span(db));

    public void Mmd(Tensor<T> x, Tensor<T> y, MmdSpec spec, Tensor<T> result) =>
        Span(result)[0] = Kernels.Cpu.Mmd.Forward<T>(Span(x), x.Shape[0], Span(y), y.Shape[0], x.Shape[1], spec);

    public void MmdBackward(Tensor<T> x, Tensor<T> y, MmdSpec spec, Tensor<T> dResult, Tensor<T>? dx, Tensor<T>? dy) =>
        Kernels.Cpu.Mmd.Backward<T>(Span(x), x.Shape[0], Span(y), y.Shape[0], x.Shape[1], spec, Span(dResult)[0],
            dx == null ? default : Span(dx), dy == null ? default : Span(dy));

    public void Im2Col(Tensor<T> image, ConvGeometry g, Tensor<T> cols) => Kernels.Cpu.Im2Col.Copy<T>(Span(image), g, Span(cols));
    public void Col2Im(Tensor<T> cols, ConvGeometry g, Tensor<T> image) => Kernels.Cpu.Col2Im.Accumulate<T>(Span(cols), g, Span(image));

    public void ConvForward(Tensor<T> image, ConvGeometry g, Tensor<T> w, Tensor<T> y, T beta) =>
        ConvGemm.Forward<T>(Span(image), g, Span(w), w.Length / g.PatchLength, beta, Span(y));

    public void ConvBackwardData(Tensor<T> a, Tensor<T> w, ConvGeometry g, Tensor<T> image, bool accumulate) =>
        ConvGemm.BackwardData<T>(Span(a), w.Length / g.PatchLength, Span(w), g, accumulate, Span(image));

    public void ConvWeightGrad(Tensor<T> image, ConvGeometry g, Tensor<T> dy, Tensor<T> dw, bool accumulate) =>
        ConvGemm.WeightGrad<T>(Span(image), g, Span(dy), dw.Length / g.PatchLength, accumulate, Span(dw));

    public void BatchNormStats(Tensor<T> x, Tensor<T> mean, Tensor<T> var) =>
        BatchNorm.Stats<T>(Span(x), x.Rows, x.Shape.Last, Span(mean), Span(var));

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

    public void BatchNormUpdateRunning(Tensor<T> mean, Tensor<T> var, int rows, double momentum, Tensor<T> runningMean, Tensor<T> runningVar) =>
        BatchNorm.UpdateRunning<T>(Span(mean), Span(var), rows, momentum, Span(runningMean), Span(runningVar));

    public void Normal(Tensor<T> t, ulong key, ulong counter) => Philox.Normal(key, counter, Span(t));
    public void Uniform(Tensor<T> t, ulong key, ulong counter) => Philox.Uniform(key, counter, Span(t));

    public void Adam(Tensor<T> param, Tensor<T> grad, Tensor<T> m, Tensor<T> v, double lr, double beta1, double beta2, double eps, long step) =>
        Kernels.Cpu.Adam.Step<T>(Span(param), Span(grad), Span(m), Span(v), lr, beta1, beta2, eps, step);
}
