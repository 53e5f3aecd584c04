using System.Numerics;
using InfoVae.Engine;

namespace InfoVae.Model;

/// <summary>The loss terms of one batch (scalars on the tape) and the tensors a caller may want to look at.</summary>
public readonly record struct LossTerms<T>(Tensor<T> Total, Tensor<T> Recon, Tensor<T> Kl, Tensor<T> Mmd,
    Tensor<T> Logits, Tensor<T> Mu, Tensor<T> Logvar, Tensor<T> Z) where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>
/// The InfoVAE: an MLP encoder D → H… → 2Z (ReLU between layers) whose output splits into mu and logvar, the
/// reparameterised z = mu + exp(logvar / 2)·eps, and a mirrored MLP decoder Z → …H → D ending in logits.
/// B = batch, D = pixels, Z = latent, M = prior samples.
/// </summary>
public sealed class InfoVaeNet<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public TrainConfig Config { get; }
    public Parameters<T> Params { get; }
    public IBackend<T> Backend { get; }
    readonly int encoderLayers, decoderLayers;
    /// <summary>Config.Mmd builds a new record on every read: kept once so that a training step allocates nothing.</summary>
    readonly Kernels.Cpu.MmdSpec mmdSpec;

    public InfoVaeNet(TrainConfig config, IBackend<T> backend)
    {
        Config = config; Backend = backend;
        Params = new Parameters<T>(config, backend);
        encoderLayers = config.Hidden.Length + 1;
        decoderLayers = config.Hidden.Length + 1;
        mmdSpec = config.Mmd;
    }

    /// <summary>x (B, D) → mu, logvar (B, Z), copied out of the last layer's (B, 2Z) output.</summary>
    public (Tensor<T> Mu, Tensor<T> Logvar) Encode(Tensor<T> x)
    {
        var h = x;
        for (int i = 0; i < encoderLayers; i++)
        {
            h = Ops.Linear(h, Params.Tensors[2 * i], Params.Tensors[2 * i + 1]);
            if (i < encoderLayers - 1) h = h.Relu();
        }
        int z = Config.Latent;
        // Made contiguous once here rather than by each of the five ops that read them.
        return (h.Slice(0, z).Contiguous(), h.Slice(z, z).Contiguous());
    }

    /// <summary>z (B, Z) → logits (B, D) of the Bernoulli (or, through a sigmoid, the Gaussian mean) over pixels.</summary>
    public Tensor<T> Decode(Tensor<T> z)
    {
        var h = z;
        int first = 2 * encoderLayers;
        for (int i = 0; i < decoderLayers; i++)
        {
            h = Ops.Linear(h, Params.Tensors[first + 2 * i], Params.Tensors[first + 2 * i + 1]);
            if (i < decoderLayers - 1) h = h.Relu();
        }
        return h;
    }

    /// <summary>z = mu + exp(logvar / 2)·eps.</summary>
    public static Tensor<T> Reparameterize(Tensor<T> mu, Tensor<T> logvar, Tensor<T> eps) => mu + (logvar * T.CreateTruncating(0.5)).Exp() * eps;

    /// <summary>
    /// β·recon + (1 − α)·KL + (α + λ − 1)·MMD²(z, prior): recon and KL are per-example sums averaged over the batch;
    /// the MMD² is one batch-level estimate between the sampled z (not mu) and fresh N(0, I) samples, added once.
    /// eps (B, Z) and prior (M, Z) are the caller's draws, so a test can inject PyTorch's.
    /// </summary>
    public LossTerms<T> Loss(Tensor<T> x, Tensor<T> eps, Tensor<T> prior)
    {
        int b = x.Shape[0];
        T invB = T.One / T.CreateTruncating(b);
        var (mu, logvar) = Encode(x);
        var z = Reparameterize(mu, logvar, eps);
        var logits = Decode(z);
        Tensor<T> recon = Config.Recon == ReconLoss.Bernoulli
            ? Ops.BceWithLogits(logits, x).Sum() * invB
            : GaussianRecon(logits, x) * invB;
        var kl = Ops.GaussianKl(mu, logvar).Sum() * invB;
        var total = recon * T.CreateTruncating(Config.Beta) + kl * T.CreateTruncating(Config.KlWeight);
        var spec = mmdSpec;
        Tensor<T> mmd;
        if (Config.MmdWeight > 0 || (b >= 2 && prior.Shape[0] >= 2) || !spec.Unbiased)
        {
            mmd = Ops.Mmd(z, prior, spec);
            if (Config.MmdWeight != 0) total = total + mmd * T.CreateTruncating(Config.MmdWeight);
        }
        else mmd = kl * T.Zero;   // an ELBO run on batch 1: no unbiased estimate exists, and none is needed
        return new LossTerms<T>(total, recon, kl, mmd, logits, mu, logvar, z);
    }

    /// <summary>½ Σ (x − σ(logits))² over everything: a unit-variance Gaussian NLL without its constant.</summary>
    static Tensor<T> GaussianRecon(Tensor<T> logits, Tensor<T> x)
    {
        var d = logits.Sigmoid() - x;
        return (d * d).Sum() * T.CreateTruncating(0.5);
    }

    /// <summary>Adam over the flat buffers (one call for all parameters); <paramref name="step"/> counts from 1.</summary>
    public void AdamStep(long step)
    {
        Params.MaterializeGrads();
        Backend.Adam(Params.All, Params.AllGrad, Params.AllM, Params.AllV, Config.LearningRate, Config.Beta1, Config.Beta2, Config.AdamEps, step);
    }
}
