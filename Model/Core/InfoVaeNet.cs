using System.Numerics;
using InfoVae.Engine;
using InfoVae.Engine.Distributed;

namespace InfoVae.Model;

/// <summary>
/// The loss terms of one batch (scalars on the tape) and the tensors a caller may want to look at. With the
/// adversarial divergence, <see cref="Adversarial"/> is the generator loss (in <see cref="Total"/>) and
/// <see cref="Discriminator"/> the discriminator's own loss (not in Total: backward from Total + Discriminator).
/// </summary>
public readonly record struct LossTerms<T>(Tensor<T> Total, Tensor<T> Recon, Tensor<T> Kl, Tensor<T> Mmd,
    Tensor<T> Logits, Tensor<T> Mu, Tensor<T> Logvar, Tensor<T> Z,
    Tensor<T>? Adversarial = null, Tensor<T>? Discriminator = null)
    where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>
/// The InfoVAE: an encoder whose output (B, 2Z) splits into mu and logvar, the reparameterised
/// z = mu + exp(logvar / 2)·eps, and a mirrored decoder ending in logits (B, D). The encoder and decoder are an
/// MLP D → H… → 2Z (ReLU between layers) or, with <see cref="Architecture.Conv"/>, the strided convolutions with
/// batch norm of <see cref="ConvArch"/>. B = batch, D = pixels, Z = latent, M = prior samples.
/// </summary>
public sealed class InfoVaeNet<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public TrainConfig Config { get; }
    public Parameters<T> Params { get; }
    /// <summary>The latent discriminator of <see cref="Divergence.Adversarial"/>; null with the MMD.</summary>
    public Discriminator<T>? Disc { get; }
    public IBackend<T> Backend { get; }
    readonly int encoderLayers, decoderLayers;
    /// <summary>
    /// Config.Mmd builds a new record on every read: kept once so that a training step allocates nothing.
    /// </summary>
    readonly Kernels.Cpu.MmdSpec mmdSpec;
    // The conv net's layers (null for the MLP), looked up by name once.
    readonly ConvLayer[]? encConv, decConv;
    readonly int[] encConvW = [], decConvW = [];
    readonly NormIndex[] encNorm = [], decNorm = [];
    readonly int encLinW, encLinB, decLinW, decConvBias;

    /// <summary>
    /// PyTorch's module.train() / module.eval(): batch norm normalises with the batch's statistics and updates its
    /// running averages while true, and uses the running averages while false (evaluation, pictures, the eval
    /// command). The trainer sets it around each step; everything else sees false. The MLP has no such layer.
    /// </summary>
    public bool Training { get; set; }

    /// <summary>
    /// The ranks of a data-parallel run, each holding a replica of this net and its share of every batch
    /// (<see cref="SingleProcess"/> for one process). In training, batch norm's statistics and the MMD² then span every
    /// rank's rows, so the ranks together compute the loss and gradients of one process on the whole batch.
    /// </summary>
    public ICommunicator Replicas { get; set; } = SingleProcess.Instance;
    T[] hostZ = [], hostAllZ = [];
    int[] zCounts = [];

    /// <summary>
    /// The net of <paramref name="config"/>; with <paramref name="weightsOf"/>, an in-process replica of that net: its
    /// weights and Adam's moments are that net's (<see cref="Parameters{T}"/>), its gradients and batch-norm buffers
    /// its own. The adversarial divergence's discriminator has no replicas.
    /// </summary>
    public InfoVaeNet(TrainConfig config, IBackend<T> backend, InfoVaeNet<T>? weightsOf = null)
    {
        Config = config; Backend = backend;
        if (weightsOf != null && config.Divergence == Divergence.Adversarial)
            throw new ArgumentException("the adversarial divergence trains without replicas", nameof(weightsOf));
        Params = new Parameters<T>(ParameterLayout.For(config), backend, weightsOf?.Params);
        if (config.Divergence == Divergence.Adversarial)
            Disc = new Discriminator<T>(config.Latent, config.DiscHidden, backend);
        encoderLayers = config.Hidden.Length + 1;
        decoderLayers = config.Hidden.Length + 1;
        mmdSpec = config.Mmd;
        if (config.Arch == Architecture.Conv)
        {
            var p = Params;
            encConv = ConvArch.Encoder(config.Channels); decConv = ConvArch.Decoder(config.Channels);
            encConvW = Enumerable.Range(0, encConv.Length).Select(i => p.IndexOf(ConvArch.EncoderConv(i)
                + ".weight")).ToArray();
            decConvW = Enumerable.Range(0, decConv.Length).Select(i => p.IndexOf(ConvArch.DecoderConv(i)
                + ".weight")).ToArray();
            NormIndex Norm(string name) => p.Norms[p.NormNames.ToList().IndexOf(name)];
            encNorm = Enumerable.Range(0, encConv.Length).Select(i => Norm(ConvArch.EncoderNorm(i))).ToArray();
            decNorm = [Norm(ConvArch.DecoderLinearNorm),
                .. Enumerable.Range(0, decConv.Length - 1).Select(i => Norm(ConvArch.DecoderNorm(i)))];
            encLinW = p.IndexOf(ConvArch.EncoderLinear + ".weight");
            encLinB = p.IndexOf(ConvArch.EncoderLinear + ".bias");
            decLinW = p.IndexOf(ConvArch.DecoderLinear + ".weight");
            decConvBias = p.IndexOf(ConvArch.DecoderConv(decConv.Length - 1) + ".bias");
        }
    }

    /// <summary>x (B, D) → mu, logvar (B, Z), copied out of the last layer's (B, 2Z) output.</summary>
    public (Tensor<T> Mu, Tensor<T> Logvar) Encode(Tensor<T> x)
    {
        int z = Config.Latent;
        if (encConv != null)
        {
            return Split(EncodeConv(x), z);
        }
        var h = x;
        for (int i = 0; i < encoderLayers; i++)
            h = Ops.Linear(h, Params.Tensors[2 * i], Params.Tensors[2 * i + 1], relu: i < encoderLayers - 1);
        return Split(h, z);
    }

    /// <summary>mu and logvar made contiguous once here, rather than by each of the five ops that read them.</summary>
    static (Tensor<T> Mu, Tensor<T> Logvar) Split(Tensor<T> h, int z) => (h.Slice(0, z).Contiguous(),
        h.Slice(z, z).Contiguous());

    /// <summary>x (B, 784) = (B, 28, 28, 1) → (B, 2Z) through the conv encoder.</summary>
    Tensor<T> EncodeConv(Tensor<T> x)
    {
        int b = x.Shape[0];
        var t = Params.Tensors;
        var h = x.Reshape(b, ConvArch.Side, ConvArch.Side, 1);
        for (int i = 0; i < encConv!.Length; i++)
        {
            var l = encConv[i];
            h = Ops.Conv2d(h, t[encConvW[i]], null, l.Stride, l.Pad);          // (B, OutSize, OutSize, Out)
            h = NormAndActivate(h, encNorm[i]);
        }
        h = h.Reshape(b, ConvArch.Flat(Config.Channels));                      // NHWC flatten: column p·c3 + c
        return Ops.Linear(h, t[encLinW], t[encLinB]);
    }

    /// <summary>z (B, Z) → logits (B, 784) through the conv decoder.</summary>
    Tensor<T> DecodeConv(Tensor<T> z)
    {
        int b = z.Shape[0];
        var t = Params.Tensors;
        var h = Ops.Linear(z, t[decLinW], null);                                // (B, 16·c3)
        h = h.Reshape(b, ConvArch.Bottom, ConvArch.Bottom, Config.Channels[2]);
        h = NormAndActivate(h, decNorm[0]);
        for (int i = 0; i < decConv!.Length; i++)
        {
            var l = decConv[i];
            bool last = i == decConv.Length - 1;
            h = Ops.ConvTranspose2d(h, t[decConvW[i]], last ? t[decConvBias] : null, l.Stride, l.Pad, 0);
            if (!last) h = NormAndActivate(h, decNorm[i + 1]);
        }
        return h.Reshape(b, ConvArch.Side * ConvArch.Side);                    // C = 1: NHWC is the (B, D) image
    }

    /// <summary>
    /// Batch norm over the channels (training or running statistics, as <see cref="Training"/> says), then leaky ReLU,
    /// as one fused op (the same numbers as the two in sequence, in half the passes over memory).
    /// </summary>
    Tensor<T> NormAndActivate(Tensor<T> h, NormIndex n)
    {
        var p = Params;
        h = Ops.BatchNorm(h, p.Tensors[n.Gamma], p.Tensors[n.Beta], p.Buffers[n.RunningMean], p.Buffers[n.RunningVar],
            Training,
            ConvArch.Momentum, ConvArch.NormEps, Training ? Replicas : null, leakySlope: ConvArch.LeakySlope);
        if (Training) p.BatchesTracked[n.Layer]++;
        return h;
    }

    /// <summary>
    /// z (B, Z) → logits (B, D) of the Bernoulli (or, through a sigmoid, the Gaussian mean) over pixels.
    /// </summary>
    public Tensor<T> Decode(Tensor<T> z)
    {
        if (decConv != null) return DecodeConv(z);
        var h = z;
        int first = 2 * encoderLayers;
        for (int i = 0; i < decoderLayers; i++)
            h = Ops.Linear(h, Params.Tensors[first + 2 * i], Params.Tensors[first + 2 * i + 1], relu: i < decoderLayers
                - 1);
        return h;
    }

    /// <summary>z = mu + exp(logvar / 2)·eps.</summary>
    public static Tensor<T> Reparameterize(Tensor<T> mu, Tensor<T> logvar, Tensor<T> eps)
        => mu + (logvar * T.CreateTruncating(0.5)).Exp() * eps;

    /// <summary>
    /// β·recon + (1 − α)·KL + (α + λ − 1)·MMD²(z, prior): recon and KL are per-example sums averaged over the batch;
    /// the MMD² is one batch-level estimate between the sampled z (not mu) and fresh N(0, I) samples, added once.
    /// eps (B, Z) and prior (M, Z) are the caller's draws, so a test can inject PyTorch's.
    /// <para>
    /// With the adversarial divergence the last term is (α + λ − 1)·(generator loss of z), through the discriminator
    /// frozen, and the MMD² is only reported. The discriminator's loss on a detached copy of z and on the prior
    /// samples comes back separately: one backward from Total + Discriminator gives the VAE the gradient of Total
    /// alone and the discriminator that of its loss alone, which is PyTorch's "VAE step with D frozen, then D step
    /// on z.detach()" (the discriminator's step sees the z of the encoder before its update).
    /// </para>
    /// </summary>
    public LossTerms<T> Loss(Tensor<T> x, Tensor<T> eps, Tensor<T> prior) =>
        Loss(x, eps, prior, BatchShare.Whole(x.Shape[0]));

    /// <summary>
    /// The loss of this rank's <paramref name="share"/> of a batch spread over <see cref="Replicas"/>: x and eps hold
    /// its rows, prior the whole batch's samples (every rank draws the same). Recon and KL are this rank's sums over
    /// the whole batch's size, so the ranks' terms add up to the batch's; the MMD² is that of the whole batch (z
    /// gathered from every rank, each rank's own rows put back in through <see cref="Ops.ReplaceRows"/>), the same
    /// number on every rank, and its gradient reaches this rank's rows only. Summed over the ranks, the parameters'
    /// gradients are those of one process on the whole batch.
    /// </summary>
    public LossTerms<T> Loss(Tensor<T> x, Tensor<T> eps, Tensor<T> prior, BatchShare share)
    {
        int b = share.Total;
        T invB = T.One / T.CreateTruncating(b);
        var (mu, logvar) = Encode(x);
        var z = Reparameterize(mu, logvar, eps);
        var logits = Decode(z);
        Tensor<T> recon = Config.Recon == ReconLoss.Bernoulli
            ? Ops.BceWithLogitsSum(logits, x, invB)
            : GaussianRecon(logits, x) * invB;
        var kl = Ops.GaussianKl(mu, logvar).ScaledSum(invB);
        var total = Weighted(recon, Config.Beta) + Weighted(kl, Config.KlWeight);
        var spec = mmdSpec;
        Tensor<T> mmd;
        if (Config.MmdWeight > 0 || (b >= 2 && prior.Shape[0] >= 2) || !spec.Unbiased)
        {
            mmd = Ops.Mmd(share.Count == b ? z : Gathered(z, share), prior, spec);
            if (Config.MmdWeight != 0) total = total + mmd * T.CreateTruncating(Config.MmdWeight);
        }
        else mmd = kl * T.Zero;   // an ELBO run on batch 1: no unbiased estimate exists, and none is needed
        if (Disc is null) return new LossTerms<T>(total, recon, kl, mmd, logits, mu, logvar, z);
        var generator = Disc.GeneratorLoss(z);
        total = total + generator * T.CreateTruncating(Config.AdversarialWeight);
        var detached = Tape<T>.Current.Scratch(z.Shape, Backend);
        Backend.CopyRows(z, detached, accumulate: false);
        var discriminator = Disc.Loss(detached, prior);
        return new LossTerms<T>(total, recon, kl, mmd, logits, mu, logvar, z, generator, discriminator);
    }

    /// <summary>The whole batch's z (B, Z): every rank's rows gathered, this rank's own z in its place.</summary>
    Tensor<T> Gathered(Tensor<T> z, BatchShare share)
    {
        int latent = Config.Latent, ranks = Replicas.Size;
        if (hostZ.Length < share.Count * latent) hostZ = new T[share.Count * latent];
        if (hostAllZ.Length < share.Total * latent) hostAllZ = new T[share.Total * latent];
        if (zCounts.Length != ranks) zCounts = new int[ranks];
        for (int r = 0; r < ranks; r++) zCounts[r] = BatchShare.Of(share.Total, r, ranks).Count * latent;
        var local = hostZ.AsSpan(0, share.Count * latent);
        var all = hostAllZ.AsSpan(0, share.Total * latent);
        z.CopyTo(local);
        Replicas.Allgather<T>(local, all, zCounts);
        var others = Tape<T>.Current.Scratch(new Shape(share.Total, latent), Backend);
        others.CopyFrom(all);
        return Ops.ReplaceRows(others, z, share.Offset);
    }

    /// <summary>
    /// w·t, or t itself when w = 1 (the defaults' β and 1 − α): ×1 is exact, so only the launches go.
    /// </summary>
    static Tensor<T> Weighted(Tensor<T> t, double w) => w == 1 ? t : t * T.CreateTruncating(w);

    /// <summary>½ Σ (x − σ(logits))² over everything: a unit-variance Gaussian NLL without its constant.</summary>
    static Tensor<T> GaussianRecon(Tensor<T> logits, Tensor<T> x)
    {
        var d = logits.Sigmoid() - x;
        return (d * d).Sum() * T.CreateTruncating(0.5);
    }

    /// <summary>Zeroes the gradients (lazily) of the VAE and of the discriminator, if any.</summary>
    public void ZeroGrad()
    {
        Params.ZeroGrad();
        Disc?.Params.ZeroGrad();
    }

    /// <summary>
    /// Adam over the flat buffers (one call for all parameters), then the discriminator's own Adam, if any;
    /// <paramref name="step"/> counts from 1 (both take a step every training step). A gradient that holds a NaN or
    /// ±∞ (a loss can be finite while its gradient is not) throws a <see cref="NonFiniteException"/> naming the
    /// parameter before Adam writes anything, so no NaN reaches the weights or the moments.
    /// </summary>
    public void AdamStep(long step)
    {
        Span<T> flags = stackalloc T[2];
        if (Disc is { } d)
            Backend.ReadScalars([Params.FlagNonFiniteGradient(), d.Params.FlagNonFiniteGradient()], flags);
        else Backend.ReadScalars([Params.FlagNonFiniteGradient()], flags);
        AdamStep(step, gradientsFinite: T.IsZero(flags[0]) && T.IsZero(flags[1]));
    }

    /// <summary>
    /// <see cref="AdamStep(long)"/> when the caller has already read both nets' <see
    /// cref="Parameters{T}.FlagNonFiniteGradient"/> flags (the trainer reads them with the loss terms, so that a GPU
    /// step waits once): <paramref name="gradientsFinite"/> is whether both were 0.
    /// </summary>
    public void AdamStep(long step, bool gradientsFinite)
    {
        if (!gradientsFinite)
        {
            // Both nets are checked before either steps, so a failing check leaves every weight as it was.
            Params.ThrowIfNonFiniteGradient();
            Disc?.Params.ThrowIfNonFiniteGradient();
            throw new InvalidOperationException("a gradient flag was set, but every gradient reads back finite");
        }
        Backend.Adam(Params.All, Params.AllGrad, Params.AllM, Params.AllV, Config.LearningRate, Config.Beta1,
            Config.Beta2, Config.AdamEps, step);
        Disc?.AdamStep(step, Config);
    }
}
