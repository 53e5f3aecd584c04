using InfoVae.Engine;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Model;

/// <summary>The full test-set report of `infovae eval`.</summary>
public sealed record EvalReport(int Images, double Total, double Recon, double Kl, double Mmd, double Elbo,
    int IwSamples, double IwNll, int ActiveUnits, int Latent, double MutualInformation);

/// <summary>
/// Test-set metrics beyond the loss terms. B = images in a chunk, K = importance samples, Z = latent, D = pixels.
/// - IW-NLL: −log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x) (Burda et al. 2015); the 2π terms of log p(z) and
///   log q(z|x) cancel. K = 1 gives the negative ELBO.
/// - Active units: dimensions whose Cov_x(E_q[z|x]) = Var_x(mu) exceeds 0.01 (Burda et al.).
/// - Mutual information I_q(x; z) = E[log q(z|x)] − E[log q(z)], q(z) the mixture over a batch (He et al. 2019's
/// calc_mi).
/// </summary>
public static class Evaluation
{
    public static EvalReport Run(InfoVaeNet<float> net, LabeledImages test, int iwSamples,
        Action<string>? progress = null)
    {
        var loss = LossTerms(net, test);
        int z = net.Config.Latent, n = test.Count;
        var mu = new float[new Shape(n, z).Length]; var lv = new float[mu.Length];
        Encode(net, test, mu, lv);
        progress?.Invoke("importance sampling");
        var perImage = IwNll(net, test, mu, lv, iwSamples);
        double nll = 0;
        foreach (var v in perImage) nll += v;
        nll /= n;
        int active = ActiveUnits(mu, n, z);
        double mi = MutualInformation(mu, lv, n, z, net.Config.Seed);
        return new EvalReport(n, loss.Total, loss.Recon, loss.Kl, loss.Mmd, -(loss.Recon + loss.Kl), iwSamples, nll,
            active, z, mi);
    }

    /// <summary>
    /// Test-set loss terms in batches of <paramref name="batch"/> with noise fixed by the seed (the same numbers every
    /// evaluation), each a per-image mean; the MMD² (and the discriminator's loss) is the mean of the per-batch
    /// estimates. The noise is the PyTorch
    /// twin's: a generator seeded with the seed, eps then prior samples for each batch in turn.
    /// </summary>
    public static StepMetrics LossTerms(InfoVaeNet<float> net, LabeledImages data, int batch = 1000)
    {
        double recon = 0, kl = 0, mmd = 0, adversarial = 0, discriminator = 0; int batches = 0;
        var tape = Tape<float>.Current;
        var noise = new TorchGenerator(net.Config.Seed);
        var host = new float[new Shape(Math.Max(batch, net.Config.PriorCount(batch)), net.Config.Latent).Length];
        using (tape.NoGrad())
        {
            for (int start = 0, b; start < data.Count; start += b, batches++)
            {
                b = Math.Min(batch, data.Count - start);
                // Never a last chunk of 1 image (10 001 test images): the unbiased MMD has no estimate from one sample.
                if (data.Count - start - b == 1 && b > 2) b--;
                try
                {
                    var x = tape.Scratch(new Shape(b, data.PixelsPerImage), net.Backend);
                    x.CopyFrom(data.Pixels.AsSpan(start * data.PixelsPerImage, b * data.PixelsPerImage));
                    Tensor<float> Randn(Shape shape)
                    {
                        var t = tape.Scratch(shape, net.Backend);
                        noise.Normal(host.AsSpan(0, shape.Length));
                        t.CopyFrom(host.AsSpan(0, shape.Length));
                        return t;
                    }
                    var eps = Randn(new Shape(b, net.Config.Latent));
                    var prior = Randn(new Shape(net.Config.PriorCount(b), net.Config.Latent));
                    var terms = net.Loss(x, eps, prior);
                    tape.CheckAnomalies();
                    var t = Trainer.Read(terms);
                    recon += t.Recon * b; kl += t.Kl * b; mmd += t.Mmd;
                    adversarial += t.Adversarial * b; discriminator += t.Discriminator;
                }
                finally { tape.Reset(); }
            }
        }
        recon /= data.Count; kl /= data.Count; mmd /= batches; adversarial /= data.Count; discriminator /= batches;
        var c = net.Config;
        double total = c.Beta * recon + c.KlWeight * kl + c.MmdWeight * mmd + c.AdversarialWeight * adversarial;
        return new StepMetrics(total, recon, kl, mmd, adversarial, discriminator);
    }

    /// <summary>mu and logvar (N, Z) of every image, in chunks of 1000, without gradients.</summary>
    public static void Encode(InfoVaeNet<float> net, LabeledImages data, Span<float> mu, Span<float> logvar)
    {
        var tape = Tape<float>.Current;
        int z = net.Config.Latent, d = data.PixelsPerImage;
        using var _ = tape.NoGrad();
        for (int s = 0; s < data.Count; s += 1000)
        {
            int b = Math.Min(1000, data.Count - s);
            var x = tape.Scratch(new Shape(b, d), net.Backend);
            x.CopyFrom(data.Pixels.AsSpan(s * d, b * d));
            var (m, l) = net.Encode(x);
            m.Contiguous().CopyTo(mu.Slice(s * z, b * z));
            l.Contiguous().CopyTo(logvar.Slice(s * z, b * z));
            tape.Reset();
        }
    }

    /// <summary>
    /// The importance-weighted bound on −log p(x) of each image (nats), with <paramref name="k"/> samples: the terms
    /// whose mean <see cref="Run"/> reports as IW-NLL (the same draws, so the same numbers). An anomaly score.
    /// </summary>
    public static double[] IwNll(InfoVaeNet<float> net, LabeledImages data, int k)
    {
        int z = net.Config.Latent;
        var mu = new float[data.Count * z]; var lv = new float[data.Count * z];
        Encode(net, data, mu, lv);
        return IwNll(net, data, mu, lv, k);
    }

    static double[] IwNll(InfoVaeNet<float> net, LabeledImages data, float[] mu, float[] lv, int k)
    {
        var tape = Tape<float>.Current;
        int z = net.Config.Latent, d = data.PixelsPerImage;
        // Images per decoder call: chunk·K rows. The conv decoder's largest scratch is its (rows·49, 16·c1) column
        // matrix (200 MB at 2000 rows and c1 = 32), so it takes fewer rows at a time.
        int chunk = Math.Max(1, (net.Config.Arch == Architecture.Conv ? 500 : 2000) / k);
        var zs = new float[new Shape(chunk * k, z).Length]; var xs = new float[new Shape(chunk * k, d).Length];
        var logw = new double[k];
        var eps = new float[zs.Length];
        ulong key = RandomStreams.Key(net.Config.Seed, RandomStreams.Eval + 200);
        var nll = new double[data.Count];
        using var _ = tape.NoGrad();
        for (int s = 0; s < data.Count; s += chunk)
        {
            int b = Math.Min(chunk, data.Count - s), rows = b * k;
            Philox.Normal<float>(key, (ulong)s << 20, eps.AsSpan(0, rows * z));
            for (int i = 0; i < b; i++)
                for (int j = 0; j < k; j++)
                {
                    int r = i * k + j;
                    for (int q = 0; q < z; q++)
                    {
                        int src = (s + i) * z + q;
                        zs[r * z + q] = mu[src] + MathF.Exp(0.5f * lv[src]) * eps[r * z + q];
                    }
                    data.Image(s + i).CopyTo(xs.AsSpan(r * d, d));
                }
            var zt = tape.Scratch(new Shape(rows, z), net.Backend); zt.CopyFrom(zs.AsSpan(0, rows * z));
            var xt = tape.Scratch(new Shape(rows, d), net.Backend); xt.CopyFrom(xs.AsSpan(0, rows * d));
            var logits = net.Decode(zt);
            var nllPx = net.Config.Recon == ReconLoss.Bernoulli
                ? Ops.BceWithLogits(logits, xt).Sum(1).ToArray()
                : GaussianNll(logits, xt, d);
            tape.Reset();
            for (int i = 0; i < b; i++)
            {
                for (int j = 0; j < k; j++)
                {
                    int r = i * k + j;
                    double logPz = 0, logQ = 0;
                    for (int q = 0; q < z; q++)
                    {
                        double zz = zs[r * z + q], e = eps[r * z + q];
                        logPz -= 0.5 * zz * zz;
                        logQ -= 0.5 * (e * e + lv[(s + i) * z + q]);
                    }
                    logw[j] = -nllPx[r] + logPz - logQ;
                }
                nll[s + i] = -(LogSumExp(logw) - Math.Log(k));
            }
        }
        return nll;
    }

    /// <summary>
    /// −log p(x | z = mu) of each image (nats): the reconstruction error of decoding the posterior mean, with no
    /// sampling (Bernoulli: the summed binary cross-entropy; Gaussian: the unit-variance NLL with its constant).
    /// </summary>
    public static double[] ReconstructionErrors(InfoVaeNet<float> net, LabeledImages data)
    {
        var tape = Tape<float>.Current;
        int d = data.PixelsPerImage;
        var errors = new double[data.Count];
        using var _ = tape.NoGrad();
        for (int s = 0; s < data.Count; s += 1000)
        {
            int b = Math.Min(1000, data.Count - s);
            try
            {
                var x = tape.Scratch(new Shape(b, d), net.Backend);
                x.CopyFrom(data.Pixels.AsSpan(s * d, b * d));
                var logits = net.Decode(net.Encode(x).Mu);
                var rows = net.Config.Recon == ReconLoss.Bernoulli
                    ? Ops.BceWithLogits(logits, x).Sum(1).ToArray()
                    : GaussianNll(logits, x, d);
                for (int i = 0; i < b; i++) errors[s + i] = rows[i];
            }
            finally { tape.Reset(); }
        }
        return errors;
    }

    // Unit-variance Gaussian NLL of x under mean σ(logits), including its constant, per row.
    static float[] GaussianNll(Tensor<float> logits, Tensor<float> x, int d)
    {
        var diff = logits.Sigmoid() - x;
        var half = (diff * diff).Sum(1).ToArray();
        float c = (float)(0.5 * d * Math.Log(2 * Math.PI));
        for (int i = 0; i < half.Length; i++) half[i] = 0.5f * half[i] + c;
        return half;
    }

    public static int ActiveUnits(ReadOnlySpan<float> mu, int n, int z, double threshold = 0.01)
    {
        int active = 0;
        for (int q = 0; q < z; q++)
        {
            double m = 0, s = 0;
            for (int i = 0; i < n; i++) m += mu[i * z + q];
            m /= n;
            for (int i = 0; i < n; i++) { double v = mu[i * z + q] - m; s += v * v; }
            if (s / Math.Max(1, n - 1) > threshold) active++;
        }
        return active;
    }

    /// <summary>He et al.'s estimator over batches of 1000: one z_i ~ q(z|x_i) each, q(z) the batch mixture.</summary>
    public static double MutualInformation(float[] mu, float[] lv, int n, int z, ulong seed)
    {
        const int batch = 1000;
        double sum = 0; int batches = 0;
        var eps = new double[new Shape(batch, z).Length];
        for (int s = 0; s < n; s += batch, batches++)
        {
            int b = Math.Min(batch, n - s);
            Philox.Normal<double>(RandomStreams.Key(seed, RandomStreams.Eval + 300), (ulong)s, eps.AsSpan(0, b * z));
            double negEntropy = 0, logQz = 0;
            var lq = new double[b];
            for (int i = 0; i < b; i++)
            {
                for (int q = 0; q < z; q++) negEntropy += -0.5 * (Math.Log(2 * Math.PI) + 1 + lv[(s + i) * z + q]);
                for (int j = 0; j < b; j++)
                {
                    double l = 0;
                    for (int q = 0; q < z; q++)
                    {
                        int a = (s + i) * z + q, c = (s + j) * z + q;
                        double zi = mu[a] + Math.Exp(0.5 * lv[a]) * eps[i * z + q];
                        double dz = zi - mu[c];
                        l -= 0.5 * (dz * dz / Math.Exp(lv[c]) + Math.Log(2 * Math.PI) + lv[c]);
                    }
                    lq[j] = l;
                }
                logQz += LogSumExp(lq) - Math.Log(b);
            }
            sum += (negEntropy - logQz) / b;
        }
        return sum / batches;
    }

    static double LogSumExp(ReadOnlySpan<double> v)
    {
        double max = double.NegativeInfinity;
        foreach (var x in v) max = Math.Max(max, x);
        if (double.IsNegativeInfinity(max)) return max;
        double s = 0;
        foreach (var x in v) s += Math.Exp(x - max);
        return max + Math.Log(s);
    }
}
