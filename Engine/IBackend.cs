using System.Numerics;
using InfoVae.Kernels;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Engine;

/// <summary>
/// Where tensors live and how the primitives run on them. Ops (Engine/Ops) are written once against this
/// interface; the CPU backend runs them on Kernels/Cpu, a GPU backend on Kernels/Gpu. Tensors handed to a
/// backend are contiguous unless a method says otherwise. A method that takes a gradient destination adds into it
/// (+=) unless it has an accumulate flag or a beta (Sum, CopyRows, Transpose, Matmul): with accumulate false or
/// beta 0 it overwrites, which ops use for a gradient that is logically zero but never cleared
/// (<see cref="Tensor{T}.GradForWrite"/>).
/// </summary>
public interface IBackend<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The --device name: cpu, cuda or ilgpu-cpu.</summary>
    string Name { get; }

    /// <summary>
    /// A buffer of at least <paramref name="length"/> elements from the pool; contents are undefined.
    /// </summary>
    Storage<T> Rent(int length);
    /// <summary>Gives a buffer from <see cref="Rent"/> back to the pool.</summary>
    void Return(Storage<T> storage);

    /// <summary>destination = source; the caller may reuse <paramref name="source"/> as soon as this returns.</summary>
    void Upload(ReadOnlySpan<T> source, Tensor<T> destination);
    /// <summary>destination = the tensor's elements; waits for the device.</summary>
    void Download(Tensor<T> source, Span<T> destination);

    /// <summary>
    /// values[i] = scalars[i]'s one element, in one transfer: a GPU backend waits for the device once, not once per
    /// value (the training step's loss terms). The default reads them one by one.
    /// </summary>
    void ReadScalars(ReadOnlySpan<Tensor<T>> scalars, Span<T> values)
    {
        for (int i = 0; i < scalars.Length; i++) values[i] = scalars[i].Item();
    }

    /// <summary>
    /// A data set of rows of <paramref name="rowLength"/> kept where this backend computes, for batches gathered by
    /// index (<see cref="IRowGather{T}"/>). The default gathers on the host and uploads each batch; a GPU backend
    /// uploads the data once. The caller must not change <paramref name="data"/> afterwards.
    /// </summary>
    IRowGather<T> KeepRows(T[] data, int rowLength) => new HostRows<T>(data, rowLength);
    /// <summary>Every element of t = value.</summary>
    void Fill(Tensor<T> t, T value);

    /// <summary>
    /// False when some element is NaN or ±∞ (the tape's anomaly mode asks after every op); waits for the device.
    /// </summary>
    bool AllFinite(Tensor<T> t);
    /// <summary>
    /// flag (one element) = 1 when some element of x is NaN or ±∞, else 0, queued like any op so that it can be read
    /// with other scalars (<see cref="ReadScalars"/>: one wait on a GPU). The default waits, as <see
    /// cref="AllFinite"/>.
    /// </summary>
    void FlagNonFinite(Tensor<T> x, Tensor<T> flag) => Fill(flag, AllFinite(x) ? T.Zero : T.One);

    /// <summary>
    /// dst (=|+=) src, both of the same rows × last-axis shape, each with its own row stride (views allowed).
    /// </summary>
    void CopyRows(Tensor<T> source, Tensor<T> destination, bool accumulate);

    /// <summary>y = f(x, p) elementwise, f the op struct <typeparamref name="TOp"/> (Kernels/UnaryOps.cs).</summary>
    void Unary<TOp>(Tensor<T> x, Tensor<T> y, T p) where TOp : struct, IUnaryFunction;
    /// <summary>dx += dy · f'(x) for y = f(x); y is the saved forward output. accumulate false writes dx
    /// instead.</summary>
    void UnaryBackward<TOp>(Tensor<T> x, Tensor<T> y, Tensor<T> dy, Tensor<T> dx, T p, bool accumulate = true)
        where TOp : struct, IUnaryFunction;

    /// <summary>c = a ∘ b with NumPy broadcasting to c's shape, ∘ the op struct <typeparamref name="TOp"/>
    /// (Kernels/BinaryOps.cs).</summary>
    void Binary<TOp>(Tensor<T> a, Tensor<T> b, Tensor<T> c) where TOp : struct, IBinaryFunction;
    /// <summary>da += reduce(dy · ∂c/∂a), db likewise, summing over the axes each input was broadcast along.</summary>
    void BinaryBackward<TOp>(Tensor<T> a, Tensor<T> b, Tensor<T> dy, Tensor<T>? da, Tensor<T>? db)
        where TOp : struct, IBinaryFunction;

    /// <summary>
    /// c = alpha · op(a) · op(b) + beta · c for 2-D tensors; with a <paramref name="bias"/> (one value per column of c)
    /// c = alpha · op(a) · op(b) + (beta · c + bias), then with <paramref name="relu"/> max(c, 0): a linear layer's
    /// epilogue.
    /// </summary>
    void Matmul(Tensor<T> a, bool transA, Tensor<T> b, bool transB, Tensor<T> c, T alpha, T beta,
        Tensor<T>? bias = null, bool relu = false);

    /// <summary>
    /// y (=|+=) scale · Σ over <paramref name="axis"/> of x (axis = -1 with y a scalar: over everything).
    /// </summary>
    void Sum(Tensor<T> x, int axis, Tensor<T> y, T scale, bool accumulate);
    /// <summary>dx += scale · dy broadcast back along the axis that Sum reduced (axis = -1: everything).</summary>
    void SumBackward(Tensor<T> dy, int axis, Tensor<T> dx, T scale);

    /// <summary>y (=|+=) xᵀ for 2-D x.</summary>
    void Transpose(Tensor<T> x, Tensor<T> y, bool accumulate);

    /// <summary>loss[i] = softplus(z[i]) − t[i]·z[i], computed stably.</summary>
    void BceWithLogits(Tensor<T> logits, Tensor<T> target, Tensor<T> loss);
    /// <summary>dLogits += dLoss·(σ(z) − t), dTarget += −dLoss·z; a null side is skipped.</summary>
    void BceWithLogitsBackward(Tensor<T> logits, Tensor<T> target, Tensor<T> dLoss, Tensor<T>? dLogits,
        Tensor<T>? dTarget);

    /// <summary>sum (a scalar) = scale · Σ_i softplus(z) − t·z over every element (Σ, then × scale):
    /// <see cref="BceWithLogits"/> summed, with no elementwise tensor.</summary>
    void BceWithLogitsSum(Tensor<T> logits, Tensor<T> target, Tensor<T> sum, T scale);
    /// <summary>With g = dSum·scale: dLogits (+)= g·(σ(z) − t) (accumulateLogits false writes it), dTarget += −g·z;
    /// dSum is the scalar upstream gradient.</summary>
    void BceWithLogitsSumBackward(Tensor<T> logits, Tensor<T> target, Tensor<T> dSum, T scale, Tensor<T>? dLogits,
        bool accumulateLogits, Tensor<T>? dTarget);

    /// <summary>kl[r] = −½ Σ_j (1 + lv − mu² − exp(lv)) over the last axis of (rows, Z) mu and logvar.</summary>
    void GaussianKl(Tensor<T> mu, Tensor<T> logvar, Tensor<T> kl);
    /// <summary>dMu += dKl·mu, dLogvar += dKl·(exp(lv) − 1)/2 per row; a null side is skipped.</summary>
    void GaussianKlBackward(Tensor<T> mu, Tensor<T> logvar, Tensor<T> dKl, Tensor<T>? dMu, Tensor<T>? dLogvar);

    /// <summary>
    /// loss[r] = Σ_c t[r,c]·(log Σ_k exp(z[r,k]) − z[r,c]) over the last axis of (rows, C) logits z and target
    /// weights t: the cross-entropy of t under softmax(z).
    /// </summary>
    void SoftmaxCrossEntropy(Tensor<T> logits, Tensor<T> target, Tensor<T> loss);
    /// <summary>
    /// dLogits += dLoss[r]·(t_sum[r]·softmax(z[r]) − t[r]), dTarget += dLoss[r]·(logsumexp(z[r]) − z[r]); a null side
    /// is skipped.
    /// </summary>
    void SoftmaxCrossEntropyBackward(Tensor<T> logits, Tensor<T> target, Tensor<T> dLoss, Tensor<T>? dLogits,
        Tensor<T>? dTarget);

    /// <summary>d (n, m) = max(0, ‖a_i‖² + ‖b_j‖² − 2 a_i·b_j) for a (n, k), b (m, k).</summary>
    void SquaredDistance(Tensor<T> a, Tensor<T> b, Tensor<T> d);
    /// <summary>
    /// da += Σ_j 2·dD_ij·(a_i − b_j), db −= likewise, where the forward's d is > 0 (the clamp passes nothing).
    /// </summary>
    void SquaredDistanceBackward(Tensor<T> a, Tensor<T> b, Tensor<T> d, Tensor<T> dD, Tensor<T>? da, Tensor<T>? db);

    /// <summary>Writes MMD²(x, y) into the scalar <paramref name="result"/>.</summary>
    void Mmd(Tensor<T> x, Tensor<T> y, MmdSpec spec, Tensor<T> result);
    /// <summary>dx, dy += dResult·∂MMD²/∂x, ∂/∂y; a null side is skipped.</summary>
    void MmdBackward(Tensor<T> x, Tensor<T> y, MmdSpec spec, Tensor<T> dResult, Tensor<T>? dx, Tensor<T>? dy);

    /// <summary>
    /// cols (Rows, KH·KW·C) = im2col(image (N, H, W, C)), overwriting cols; channels-last (see <see
    /// cref="ConvGeometry"/>).
    /// </summary>
    void Im2Col(Tensor<T> image, ConvGeometry g, Tensor<T> cols);
    /// <summary>
    /// image (N, H, W, C) += col2im(cols (Rows, KH·KW·C)), the adjoint of <see cref="Im2Col"/>; deterministic (a
    /// gather, no atomics).
    /// </summary>
    void Col2Im(Tensor<T> cols, ConvGeometry g, Tensor<T> image);

    /// <summary>
    /// y (Rows, M) = im2col(image)·wᵀ + beta·y with w (M, KH·KW·C) (any shape of that many elements): the GEMM of
    /// conv2d's forward and of conv-transpose2d's input gradient. The CPU fuses the im2col into it, chunk by chunk.
    /// </summary>
    void ConvForward(Tensor<T> image, ConvGeometry g, Tensor<T> w, Tensor<T> y, T beta);
    /// <summary>
    /// image (N, H, W, C) (=|+=) col2im(a·w) with a (Rows, K), w (K, KH·KW·C): conv2d's input gradient and
    /// conv-transpose2d's forward; accumulate false overwrites the image.
    /// </summary>
    void ConvBackwardData(Tensor<T> a, Tensor<T> w, ConvGeometry g, Tensor<T> image, bool accumulate);
    /// <summary>dw (M, KH·KW·C) (=|+=) dyᵀ·im2col(image) with dy (Rows, M): the weight gradient of conv2d and
    /// conv-transpose2d.</summary>
    void ConvWeightGrad(Tensor<T> image, ConvGeometry g, Tensor<T> dy, Tensor<T> dw, bool accumulate);

    /// <summary>
    /// Per-column batch mean and biased variance (÷ R) of x seen as (R, C) with C = the last axis; mean, var: (C).
    /// </summary>
    void BatchNormStats(Tensor<T> x, Tensor<T> mean, Tensor<T> var);
    /// <summary>
    /// y = (x − mean)·gamma/√(var + eps) + beta per column of x seen as (R, C); y has x's shape. With a
    /// <paramref name="leakySlope"/> (≥ 0) the leaky ReLU that follows is fused in: y = z > 0 ? z : slope·z.
    /// </summary>
    void BatchNormApply(Tensor<T> x, Tensor<T> mean, Tensor<T> var, double eps, Tensor<T> gamma, Tensor<T> beta,
        Tensor<T> y,
                        T? leakySlope = null);
    /// <summary>
    /// Training-mode batch-norm backward: with xhat = (x − mean)/√(var + eps), dBeta += Σ_r g, dGamma += Σ_r g·xhat,
    /// dx (+)= gamma/√(var + eps)·(g − mean_r(g) − xhat·mean_r(g·xhat)) (accumulateDx false overwrites dx), where g =
    /// dy, or with a fused leaky ReLU (<paramref name="leakySlope"/>, its output <paramref name="y"/>), g = y > 0 ? dy
    /// : slope·dy.
    /// </summary>
    void BatchNormBackward(Tensor<T> x, Tensor<T> mean, Tensor<T> var, double eps, Tensor<T> gamma, Tensor<T> dy,
                           Tensor<T>? dx, Tensor<T>? dGamma, Tensor<T>? dBeta, bool accumulateDx = true,
                               Tensor<T>? y = null, T? leakySlope = null);
    /// <summary>PyTorch's running statistics: rm = (1 − m)·rm + m·mean; rv = (1 − m)·rv + m·var·R/(R − 1).</summary>
    void BatchNormUpdateRunning(Tensor<T> mean, Tensor<T> var, int rows, double momentum, Tensor<T> runningMean,
        Tensor<T> runningVar);

    /// <summary>
    /// Standard normal draws from Philox4x32-10 with this key, starting at counter block <paramref name="counter"/>.
    /// </summary>
    void Normal(Tensor<T> t, ulong key, ulong counter);
    /// <summary>Uniform draws in [0, 1) from Philox4x32-10.</summary>
    void Uniform(Tensor<T> t, ulong key, ulong counter);

    /// <summary>
    /// One Adam step (PyTorch's form) on flat, equally long parameter, gradient and moment tensors; step counts from 1.
    /// </summary>
    void Adam(Tensor<T> param, Tensor<T> grad, Tensor<T> m, Tensor<T> v, double lr, double beta1, double beta2,
        double eps, long step);
}
