using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

/// <summary>
/// The fused loss terms (mirroring Kernels/Cpu/Losses): Bernoulli NLL from logits, elementwise, the Gaussian
/// KL against N(0, I) per row of (rows, Z) mu and logvar, and softmax cross-entropy per row of (rows, classes).
/// Z = latent size.
/// </summary>
public static class LossKernels
{
    /// <summary>
    /// loss = log1p(exp(−|z|)) + (z &gt; 0 ? (1 − t)·z : −t·z), the form of Kernels/Cpu/Losses (BceLinearOp): no ∞ − ∞
    /// at z = ±∞ (+∞ for 0 &lt; t &lt; 1; 0 when the side's weight is exactly 0), and no cancellation of z − t·z at
    /// |z| ≥ 1e4. (max(z, 0) − t·z, PyTorch's way of writing it, gives NaN at z = +∞.)
    /// </summary>
    public static void BceWithLogitsKernel(Index1D i, ArrayView<float> z, ArrayView<float> t, ArrayView<float> loss)
    {
        float zi = z[i], w = zi > 0f ? 1f - t[i] : -t[i];
        loss[i] = GpuMath.Log1p(XMath.Exp(-XMath.Abs(zi))) + (w == 0f ? 0f : w * zi);
    }

    /// <summary>dz += dl · (σ(z) − t).</summary>
    public static void BceWithLogitsGradZKernel(Index1D i, ArrayView<float> z, ArrayView<float> t, ArrayView<float> dl,
        ArrayView<float> dz) =>
        dz[i] += dl[i] * (GpuMath.Sigmoid(z[i]) - t[i]);

    /// <summary>dt += dl · (−z).</summary>
    public static void BceWithLogitsGradTKernel(Index1D i, ArrayView<float> z, ArrayView<float> dl,
        ArrayView<float> dt) =>
        dt[i] -= dl[i] * z[i];

    /// <summary>kl[r] = ½ Σ_j (exp(lv) + mu² − 1 − lv), one thread per row (Z is small: the latent size).</summary>
    public static void GaussianKlKernel(Index1D r, ArrayView<float> mu, ArrayView<float> logvar, ArrayView<float> kl,
        int z)
    {
        float s = 0f;
        for (int j = r * z; j < (r + 1) * z; j++) s += XMath.Exp(logvar[j]) + mu[j] * mu[j] - 1f - logvar[j];
        kl[r] = 0.5f * s;
    }

    /// <summary>dmu += dkl[row] · mu.</summary>
    public static void GaussianKlGradMuKernel(Index1D i, ArrayView<float> mu, ArrayView<float> dkl,
        ArrayView<float> dmu, int z) =>
        dmu[i] += dkl[i / z] * mu[i];

    /// <summary>dlogvar += dkl[row] · ½ (exp(lv) − 1).</summary>
    public static void GaussianKlGradLogvarKernel(Index1D i, ArrayView<float> logvar, ArrayView<float> dkl,
        ArrayView<float> dlogvar, int z) =>
        dlogvar[i] += dkl[i / z] * 0.5f * (XMath.Exp(logvar[i]) - 1f);

    /// <summary>
    /// loss[r] = Σ_c t·(lse − z) over a row of (rows, classes), one thread per row (classes is small: 10).
    /// </summary>
    public static void SoftmaxCrossEntropyKernel(Index1D r, ArrayView<float> z, ArrayView<float> t,
        ArrayView<float> loss, int classes)
    {
        float lse = RowLogSumExp(z, r * classes, classes), s = 0f;
        for (int j = r * classes; j < (r + 1) * classes; j++)
            if (t[j] != 0f) s += t[j] * (lse - z[j]);
        loss[r] = s;
    }

    /// <summary>dz += dl[row]·(softmax(z)·Σ_k t_k − t), one thread per row.</summary>
    public static void SoftmaxCrossEntropyGradZKernel(Index1D r, ArrayView<float> z, ArrayView<float> t,
        ArrayView<float> dl, ArrayView<float> dz, int classes)
    {
        int first = r * classes;
        float lse = RowLogSumExp(z, first, classes), mass = 0f, g = dl[r];
        for (int j = first; j < first + classes; j++) mass += t[j];
        for (int j = first; j < first + classes; j++) dz[j] += g * (XMath.Exp(z[j] - lse) * mass - t[j]);
    }

    /// <summary>dt += dl[row]·(lse − z), one thread per row.</summary>
    public static void SoftmaxCrossEntropyGradTKernel(Index1D r, ArrayView<float> z, ArrayView<float> dl,
        ArrayView<float> dt, int classes)
    {
        int first = r * classes;
        float lse = RowLogSumExp(z, first, classes), g = dl[r];
        for (int j = first; j < first + classes; j++) dt[j] += g * (lse - z[j]);
    }

    /// <summary>log Σ exp(z[first .. first + n)), shifted by the maximum.</summary>
    static float RowLogSumExp(ArrayView<float> z, int first, int n)
    {
        float max = float.NegativeInfinity, s = 0f;
        for (int j = first; j < first + n; j++) max = XMath.Max(max, z[j]);
        for (int j = first; j < first + n; j++) s += XMath.Exp(z[j] - max);
        return max + XMath.Log(s);
    }
}

public sealed partial class GpuKernels
{
    /// <summary>loss = softplus(z) − t·z elementwise.</summary>
    public void BceWithLogits(ArrayView<float> z, ArrayView<float> t, ArrayView<float> loss)
    {
        if (loss.Length == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>>(LossKernels.BceWithLogitsKernel)(Stream,
            Threads(loss), z, t, loss);
    }

    /// <summary>An empty dz or dt skips that side.</summary>
    public void BceWithLogitsBackward(ArrayView<float> z, ArrayView<float> t, ArrayView<float> dl, ArrayView<float> dz,
        ArrayView<float> dt)
    {
        if (dz.Length > 0)
            Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                ArrayView<float>>(LossKernels.BceWithLogitsGradZKernel)(Stream, Threads(dz), z, t, dl, dz);
        if (dt.Length > 0)
            Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>>(LossKernels.BceWithLogitsGradTKernel)(Stream,
                Threads(dt), z, dl, dt);
    }

    /// <summary>mu, logvar: (rows, z); kl: rows.</summary>
    public void GaussianKl(ArrayView<float> mu, ArrayView<float> logvar, int rows, int z, ArrayView<float> kl)
    {
        if (rows == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(LossKernels.GaussianKlKernel)(Stream, rows, mu,
            logvar, kl, z);
    }

    /// <summary>dmu += dkl·mu, dlogvar += dkl·(exp(logvar) − 1)/2 per row; an empty view skips that side.</summary>
    public void GaussianKlBackward(ArrayView<float> mu, ArrayView<float> logvar, ArrayView<float> dkl, int rows, int z,
        ArrayView<float> dmu, ArrayView<float> dlogvar)
    {
        int n = Threads(rows, z);
        if (n == 0) return;
        if (dmu.Length > 0)
            Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                int>(LossKernels.GaussianKlGradMuKernel)(Stream, n, mu, dkl, dmu, z);
        if (dlogvar.Length > 0)
            Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>,
                int>(LossKernels.GaussianKlGradLogvarKernel)(Stream, n, logvar, dkl, dlogvar, z);
    }

    /// <summary>z, t: (rows, classes); loss: rows.</summary>
    public void SoftmaxCrossEntropy(ArrayView<float> z, ArrayView<float> t, int rows, int classes,
        ArrayView<float> loss)
    {
        if (rows == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(LossKernels.SoftmaxCrossEntropyKernel)(Stream,
            rows, z, t, loss, classes);
    }

    /// <summary>An empty dz or dt skips that side.</summary>
    public void SoftmaxCrossEntropyBackward(ArrayView<float> z, ArrayView<float> t, ArrayView<float> dl, int rows,
        int classes, ArrayView<float> dz, ArrayView<float> dt)
    {
        if (rows == 0) return;
        if (dz.Length > 0)
            Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(
                LossKernels.SoftmaxCrossEntropyGradZKernel)(Stream, rows, z, t, dl, dz, classes);
        if (dt.Length > 0)
            Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, int>(
                LossKernels.SoftmaxCrossEntropyGradTKernel)(Stream, rows, z, dl, dt, classes);
    }
}
