using InfoVae.Engine;
using InfoVae.Kernels;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Tests.Support;

/// <summary>
/// An <see cref="IBackend{T}"/> that hands every call to another one; override a method to plant a fault in one op.
/// Tensors made on it keep the inner backend's storage, and ops call back through it (a tensor's Backend is the one
/// it was made on), so a planted fault reaches every op and whole model that uses the method.
/// </summary>
public class ForwardingBackend(IBackend<float> inner, string name) : IBackend<float>
{
    protected IBackend<float> Inner => inner;
    public string Name => name;
    public virtual Storage<float> Rent(int length) => inner.Rent(length);
    public virtual void Return(Storage<float> storage) => inner.Return(storage);
    public virtual void Upload(ReadOnlySpan<float> source, Tensor<float> destination) =>
        inner.Upload(source, destination);
    public virtual void Download(Tensor<float> source, Span<float> destination) => inner.Download(source, destination);
    public virtual void Fill(Tensor<float> t, float value) => inner.Fill(t, value);
    public virtual bool AllFinite(Tensor<float> t) => inner.AllFinite(t);
    public virtual void CopyRows(Tensor<float> source, Tensor<float> destination, bool accumulate) =>
        inner.CopyRows(source, destination, accumulate);
    public virtual void Unary(UnaryOp op, Tensor<float> x, Tensor<float> y, float p) => inner.Unary(op, x, y, p);
    public virtual void UnaryBackward(UnaryOp op, Tensor<float> x, Tensor<float> y, Tensor<float> dy,
        Tensor<float> dx, float p, bool accumulate = true) =>
        inner.UnaryBackward(op, x, y, dy, dx, p, accumulate);
    public virtual void Binary(BinaryOp op, Tensor<float> a, Tensor<float> b, Tensor<float> c) =>
        inner.Binary(op, a, b, c);
    public virtual void BinaryBackward(BinaryOp op, Tensor<float> a, Tensor<float> b, Tensor<float> dy,
        Tensor<float>? da, Tensor<float>? db) =>
        inner.BinaryBackward(op, a, b, dy, da, db);
    public virtual void Matmul(Tensor<float> a, bool transA, Tensor<float> b, bool transB, Tensor<float> c,
        float alpha, float beta, Tensor<float>? bias = null, bool relu = false) =>
        inner.Matmul(a, transA, b, transB, c, alpha, beta, bias, relu);
    public virtual void Sum(Tensor<float> x, int axis, Tensor<float> y, float scale, bool accumulate) =>
        inner.Sum(x, axis, y, scale, accumulate);
    public virtual void SumBackward(Tensor<float> dy, int axis, Tensor<float> dx, float scale) =>
        inner.SumBackward(dy, axis, dx, scale);
    public virtual void Transpose(Tensor<float> x, Tensor<float> y, bool accumulate) =>
        inner.Transpose(x, y, accumulate);
    public virtual void BceWithLogits(Tensor<float> logits, Tensor<float> target, Tensor<float> loss) =>
        inner.BceWithLogits(logits, target, loss);
    public virtual void BceWithLogitsBackward(Tensor<float> logits, Tensor<float> target, Tensor<float> dLoss,
        Tensor<float>? dLogits, Tensor<float>? dTarget) =>
        inner.BceWithLogitsBackward(logits, target, dLoss, dLogits, dTarget);
    public virtual void BceWithLogitsSum(Tensor<float> logits, Tensor<float> target, Tensor<float> sum, float scale) =>
        inner.BceWithLogitsSum(logits, target, sum, scale);
    public virtual void BceWithLogitsSumBackward(Tensor<float> logits, Tensor<float> target, Tensor<float> dSum,
        float scale, Tensor<float>? dLogits, bool accumulateLogits, Tensor<float>? dTarget) =>
        inner.BceWithLogitsSumBackward(logits, target, dSum, scale, dLogits, accumulateLogits, dTarget);
    public virtual void SoftmaxCrossEntropy(Tensor<float> logits, Tensor<float> target, Tensor<float> loss) =>
        inner.SoftmaxCrossEntropy(logits, target, loss);
    public virtual void SoftmaxCrossEntropyBackward(Tensor<float> logits, Tensor<float> target, Tensor<float> dLoss,
        Tensor<float>? dLogits, Tensor<float>? dTarget) =>
        inner.SoftmaxCrossEntropyBackward(logits, target, dLoss, dLogits, dTarget);
    public virtual void GaussianKl(Tensor<float> mu, Tensor<float> logvar, Tensor<float> kl) =>
        inner.GaussianKl(mu, logvar, kl);
    public virtual void GaussianKlBackward(Tensor<float> mu, Tensor<float> logvar, Tensor<float> dKl,
        Tensor<float>? dMu, Tensor<float>? dLogvar) =>
        inner.GaussianKlBackward(mu, logvar, dKl, dMu, dLogvar);
    public virtual void SquaredDistance(Tensor<float> a, Tensor<float> b, Tensor<float> d) =>
        inner.SquaredDistance(a, b, d);
    public virtual void SquaredDistanceBackward(Tensor<float> a, Tensor<float> b, Tensor<float> d,
        Tensor<float> dD, Tensor<float>? da, Tensor<float>? db) =>
        inner.SquaredDistanceBackward(a, b, d, dD, da, db);
    public virtual void Mmd(Tensor<float> x, Tensor<float> y, MmdSpec spec, Tensor<float> result) =>
        inner.Mmd(x, y, spec, result);
    public virtual void MmdBackward(Tensor<float> x, Tensor<float> y, MmdSpec spec, Tensor<float> dResult,
        Tensor<float>? dx, Tensor<float>? dy) =>
        inner.MmdBackward(x, y, spec, dResult, dx, dy);
    public virtual void Im2Col(Tensor<float> image, ConvGeometry g, Tensor<float> cols) => inner.Im2Col(image, g, cols);
    public virtual void Col2Im(Tensor<float> cols, ConvGeometry g, Tensor<float> image) => inner.Col2Im(cols, g, image);
    public virtual void ConvForward(Tensor<float> image, ConvGeometry g, Tensor<float> w, Tensor<float> y,
        float beta) =>
        inner.ConvForward(image, g, w, y, beta);
    public virtual void ConvBackwardData(Tensor<float> a, Tensor<float> w, ConvGeometry g, Tensor<float> image,
        bool accumulate) =>
        inner.ConvBackwardData(a, w, g, image, accumulate);
    public virtual void ConvWeightGrad(Tensor<float> image, ConvGeometry g, Tensor<float> dy, Tensor<float> dw,
        bool accumulate) =>
        inner.ConvWeightGrad(image, g, dy, dw, accumulate);
    public virtual void BatchNormStats(Tensor<float> x, Tensor<float> mean, Tensor<float> var) =>
        inner.BatchNormStats(x, mean, var);
    public virtual void BatchNormApply(Tensor<float> x, Tensor<float> mean, Tensor<float> var, double eps,
        Tensor<float> gamma, Tensor<float> beta, Tensor<float> y, float? leakySlope = null) =>
        inner.BatchNormApply(x, mean, var, eps, gamma, beta, y, leakySlope);
    public virtual void BatchNormBackward(Tensor<float> x, Tensor<float> mean, Tensor<float> var, double eps,
        Tensor<float> gamma, Tensor<float> dy, Tensor<float>? dx, Tensor<float>? dGamma, Tensor<float>? dBeta,
        bool accumulateDx = true, Tensor<float>? y = null, float? leakySlope = null) =>
        inner.BatchNormBackward(x, mean, var, eps, gamma, dy, dx, dGamma, dBeta, accumulateDx, y, leakySlope);
    public virtual void BatchNormUpdateRunning(Tensor<float> mean, Tensor<float> var, int rows, double momentum,
        Tensor<float> runningMean, Tensor<float> runningVar) =>
        inner.BatchNormUpdateRunning(mean, var, rows, momentum, runningMean, runningVar);
    public virtual void Normal(Tensor<float> t, ulong key, ulong counter) => inner.Normal(t, key, counter);
    public virtual void Uniform(Tensor<float> t, ulong key, ulong counter) => inner.Uniform(t, key, counter);
    public virtual void Adam(Tensor<float> param, Tensor<float> grad, Tensor<float> m, Tensor<float> v, double lr,
        double beta1, double beta2, double eps, long step) =>
        inner.Adam(param, grad, m, v, lr, beta1, beta2, eps, step);
}
