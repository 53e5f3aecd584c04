using System.Globalization;
using System.Text.Json.Serialization;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Model;

public enum ReconLoss { Bernoulli, Gaussian }

/// <summary>
/// The encoder and decoder: fully connected layers, or strided (transposed) convolutions for 28 × 28 images.
/// </summary>
public enum Architecture { Mlp, Conv }

/// <summary>
/// D(q(z) ‖ p(z)) in the loss: the MMD², or the Jensen-Shannon divergence through a latent discriminator trained
/// alongside (adversarial autoencoders; the InfoVAE paper's adversarial variant).
/// </summary>
public enum Divergence { Mmd, Adversarial }

/// <summary>
/// Everything that defines a run: architecture, loss weights, divergence, optimiser, schedule, logging, and the data
/// it trains on. Written to the run's config.json and into every checkpoint (snake_case keys, see
/// <see cref="RunJson"/>); --resume restores it whole and refuses flags that disagree with it. Loss:
/// β·recon + (1 − α)·KL(q(z|x) ‖ p(z)) + (α + λ − 1)·D(q(z) ‖ p(z)), each term a per-example sum averaged over the
/// batch; D is the MMD² or, with <see cref="Divergence.Adversarial"/>, the discriminator's generator loss.
/// A flag's "0 = none / all / the batch size" is null here, so the file never writes a default as 0.
/// </summary>
public sealed record TrainConfig
{
    /// <summary>Absent from the config.json of runs made before the conv net existed: those are MLPs.</summary>
    public Architecture Arch { get; init; } = Architecture.Mlp;
    /// <summary>The MLP's hidden layer sizes (encoder order; the decoder mirrors them).</summary>
    public int[] Hidden { get; init; } = [512, 256];
    /// <summary>
    /// The conv net's channels after each of its three encoder convolutions (the decoder mirrors them).
    /// </summary>
    public int[] Channels { get; init; } = [32, 64, 128];
    public int Latent { get; init; } = 32;
    /// <summary>Pixels per image (rows × cols); set from the data.</summary>
    public int InputSize { get; init; } = 784;
    public double Alpha { get; init; } = 0;
    public double Lambda { get; init; } = 1000;
    public double Beta { get; init; } = 1;
    public ReconLoss Recon { get; init; } = ReconLoss.Bernoulli;
    public MmdKernel Kernel { get; init; } = MmdKernel.Imq;
    public double[] Scales { get; init; } = [.. MmdSpec.WaeScales];
    public double Bandwidth { get; init; } = 1;
    public bool UnbiasedMmd { get; init; } = true;
    /// <summary>Prior samples drawn per step for the MMD; null: as many as the step's batch has images.</summary>
    public int? PriorSamples { get; init; }
    public Divergence Divergence { get; init; } = Divergence.Mmd;
    /// <summary>The discriminator's hidden layer sizes (adversarial divergence): Z → 512 → 512 → 1.</summary>
    public int[] DiscHidden { get; init; } = [512, 512];
    /// <summary>The discriminator's Adam learning rate (it shares β1, β2 and ε with the VAE's Adam).</summary>
    public double DiscLearningRate { get; init; } = 1e-3;
    public double LearningRate { get; init; } = 1e-3;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double AdamEps { get; init; } = 1e-8;
    public int Epochs { get; init; } = 10;
    public int Batch { get; init; } = 256;
    public ulong Seed { get; init; }
    /// <summary>Train on the first N training images only; null: all of them.</summary>
    public int? Limit { get; init; }
    /// <summary>A run.jsonl line (and a progress line if stdout is not a terminal) every N steps; null: none.</summary>
    public int? LogEvery { get; init; } = 50;
    /// <summary>A checkpoint every N steps besides the one at each epoch's end; null: at epochs' ends only.</summary>
    public int? CheckpointEvery { get; init; }
    /// <summary>The six pictures after each epoch (output only: they change no weight, draw or checkpoint).</summary>
    public bool Pictures { get; init; } = true;
    /// <summary>The data the run trains on (folder, sizes, SHA-256 of each file); null in older runs.</summary>
    public DataFingerprint? Data { get; init; }
    /// <summary>
    /// The ranks that trained the run last (mpirun -np N; 1 without MPI). Recorded, but not part of the run's
    /// definition: N ranks compute what one process computes (only the summation order differs), so --resume may use
    /// another N and then records that one. Absent from older configs: 1.
    /// </summary>
    public int WorldSize { get; init; } = 1;
    /// <summary>
    /// In-process data-parallel replicas (<see cref="Engine.Distributed.LocalReplicas"/>, `--replicas`): each batch
    /// is split into this many shares, computed side by side on threads of their own (one core each) or by turns, and
    /// their gradients added in replica order. Part of the run's definition: the rounding depends on it, never on
    /// --threads. Absent from older configs: 1 (the whole batch at once).
    /// </summary>
    public int Replicas { get; init; } = 1;

    /// <summary>
    /// `--replicas` when not given: 2 where two replicas side by side trained faster than the whole batch on two
    /// threads, else 1. That is the MLP at batch 256 to 512 on the CPU of one process (measured on two cores, one
    /// step, ours / whole batch: batch 128 1.04, 256 0.89-0.92, 512 0.90, 1024 0.98-1.05, 64 1.09: smaller shares
    /// run the GEMMs less well, and at 1024 the whole batch's GEMMs already scale). The conv net's kernels scale 1.8×
    /// over two cores and its batch norm would meet the other replica 14 times a step; a GPU computes the whole batch
    /// at once; MPI ranks are replicas already; the adversarial discriminator has none.
    /// </summary>
    public static int DefaultReplicas(Architecture arch, Divergence divergence, int batch, bool onCpu, bool mpi) =>
        onCpu && !mpi && arch == Architecture.Mlp && divergence == Divergence.Mmd && batch is >= 256 and <= 512
            ? 2 : 1;
    /// <summary>The rows of each batch that each rank takes (for the reader; follows from the two above).</summary>
    public int RowsPerRank => WorldSize > 0 ? Batch / WorldSize : 0;

    [JsonIgnore] public double KlWeight => 1 - Alpha;
    /// <summary>α + λ − 1: the weight of the divergence term, whichever divergence it is.</summary>
    [JsonIgnore] public double DivergenceWeight => Alpha + Lambda - 1;
    /// <summary>The MMD²'s weight in the loss: 0 with the adversarial divergence (the MMD² only reported).</summary>
    [JsonIgnore] public double MmdWeight => Divergence == Divergence.Mmd ? DivergenceWeight : 0;
    /// <summary>The generator loss's weight in the loss: 0 with the MMD divergence.</summary>
    [JsonIgnore] public double AdversarialWeight => Divergence == Divergence.Adversarial ? DivergenceWeight : 0;
    [JsonIgnore] public MmdSpec Mmd => new(Kernel, Scales, Bandwidth, UnbiasedMmd);
    public int PriorCount(int batch) => PriorSamples ?? batch;

    /// <summary>
    /// "MLP 784-512-256-32" or "conv net 32-64-128-32 (28×28)": the model in a few words (banner, mismatch messages).
    /// </summary>
    public string Describe() => Arch == Architecture.Conv
        ? $"conv net {string.Join("-", Channels ?? [])}-{Latent} ({ConvArch.Side}×{ConvArch.Side})"
        : $"MLP {InputSize}-{string.Join("-", Hidden ?? [])}-{Latent}";

    /// <summary>The special cases of the InfoVAE objective (Zhao et al. §3), as (α, λ, β).</summary>
    public static (double Alpha, double Lambda, double Beta) Preset(string name, double betaVae = 4) => name switch
    {
        "infovae" => (0, 1000, 1),
        "elbo" => (0, 1, 1),            // plain VAE: the MMD weight α + λ − 1 is 0
        "beta-vae" => (1 - betaVae, betaVae, 1),  // KL weight β, no MMD
        "mmd-vae" => (1, 1000, 1),      // no per-example KL (Zhao's MMD-VAE)
        _ => throw new UserError($"unknown preset '{name}': use infovae, elbo, beta-vae or mmd-vae"),
    };

    /// <summary>Refuses settings that cannot train, with one line that says what to change.</summary>
    public void Validate()
    {
        var d = new TrainConfig();   // the defaults, offered as the fix
        static string Num(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
        static void Finite(double v, string name, double example)
        {
            if (!double.IsFinite(v))
                throw new UserError($"{name} must be a finite number, not {Num(v)}; give one such as {name} "
                    + $"{Num(example)}");
        }
        Finite(Alpha, "--alpha", d.Alpha); Finite(Lambda, "--lambda", d.Lambda); Finite(Beta, "--beta", d.Beta);
        Finite(LearningRate, "--lr", d.LearningRate);
        Finite(Beta1, "--beta1", d.Beta1); Finite(Beta2, "--beta2", d.Beta2); Finite(AdamEps, "--adam-eps", d.AdamEps);
        Finite(Bandwidth, "--bandwidth", d.Bandwidth);
        if (!(Lambda > 0))
            throw new UserError($"--lambda must be > 0 (got {Num(Lambda)}); the InfoVAE paper's MNIST setting is "
                + "--lambda 1000");
        string divergence = Divergence == Divergence.Mmd ? "MMD" : "divergence";
        if (DivergenceWeight < 0)
            throw new UserError($"the {divergence} weight α + λ − 1 = {DivergenceWeight:G4} is negative, which would "
                + "maximise the divergence between q(z) and p(z); raise --lambda or --alpha so that α + λ ≥ 1");
        if (!Enum.IsDefined(Divergence))
            throw new UserError($"unknown divergence '{Divergence}': use --divergence mmd or --divergence adversarial");
        if (Divergence == Divergence.Adversarial)
        {
            if (DivergenceWeight == 0)
                throw new UserError("--divergence adversarial with the divergence weight α + λ − 1 = 0 "
                    + $"(α = {Num(Alpha)}, λ = {Num(Lambda)}) trains a discriminator that never reaches the encoder; "
                    + "raise --lambda (e.g. --lambda 10) or drop --divergence adversarial");
            if (DiscHidden is null || DiscHidden.Length == 0 || Array.Exists(DiscHidden, h => h <= 0))
                throw new UserError("--disc-hidden must list one or more positive layer sizes, "
                    + $"not '{string.Join(",", DiscHidden ?? [])}'; e.g. --disc-hidden 512,512");
            Finite(DiscLearningRate, "--disc-lr", d.DiscLearningRate);
            if (!(DiscLearningRate > 0))
                throw new UserError($"--disc-lr must be > 0, not {Num(DiscLearningRate)}; "
                    + $"the default is {Num(d.DiscLearningRate)}");
        }
        if (!(Beta > 0))
            throw new UserError($"--beta (the reconstruction weight) must be > 0, not {Num(Beta)}; the default is "
                + $"{Num(d.Beta)}");
        if (!(LearningRate > 0))
            throw new UserError($"--lr must be > 0, not {Num(LearningRate)}; the default is {Num(d.LearningRate)}");
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1))
            throw new UserError($"--beta1 and --beta2 must be in [0, 1), not {Num(Beta1)} and {Num(Beta2)}; the "
                + $"defaults are {Num(d.Beta1)} and {Num(d.Beta2)}");
        if (!(AdamEps > 0))
            throw new UserError($"--adam-eps must be > 0, not {Num(AdamEps)}; the default is {Num(d.AdamEps)}");
        if (Epochs <= 0) throw new UserError($"--epochs must be at least 1, not {Epochs}; the default is {d.Epochs}");
        if (Batch <= 0) throw new UserError($"--batch must be at least 1, not {Batch}; the default is {d.Batch}");
        if (Latent <= 0) throw new UserError($"--latent must be at least 1, not {Latent}; the default is {d.Latent}");
        if (InputSize <= 0)
            throw new UserError($"images must have at least one pixel, not {InputSize}; use a data set of real images");
        if (!Enum.IsDefined(Arch)) throw new UserError($"unknown architecture '{Arch}': use --arch mlp or --arch conv");
        if (Hidden.Length == 0 || Array.Exists(Hidden, h => h <= 0))
            throw new UserError($"--hidden must list one or more positive layer sizes, not "
                + $"'{string.Join(",", Hidden)}'; e.g. --hidden 512,256");
        if (Arch == Architecture.Conv)
        {
            if (Channels.Length != ConvArch.Depth || Array.Exists(Channels, c => c <= 0))
                throw new UserError($"--channels must list {ConvArch.Depth} positive channel counts (one per encoder "
                    + $"convolution; the decoder mirrors them), not '{string.Join(",", Channels)}'; e.g. --channels "
                    + "32,64,128");
            if (InputSize != ConvArch.Side * ConvArch.Side)
                throw new UserError($"--arch conv takes {ConvArch.Side}×{ConvArch.Side} images "
                    + $"({ConvArch.Side * ConvArch.Side} pixels), not {InputSize} pixels per image; use --arch mlp "
                    + "for other sizes");
        }
        if (PriorSamples < 1)
            throw new UserError($"--prior-samples must be ≥ 0 (0 = the batch size), not {PriorSamples}");
        if (Limit < 1) throw new UserError($"--limit must be ≥ 0 (0 = all images), not {Limit}");
        if (LogEvery < 1) throw new UserError($"--log-every must be ≥ 0 (0 = no step lines), not {LogEvery}");
        if (CheckpointEvery < 1)
            throw new UserError($"--checkpoint-every must be ≥ 0 (0 = at the end of each epoch only), "
                + $"not {CheckpointEvery}");
        if (WorldSize < 1)
            throw new UserError($"world_size must be at least 1 (the ranks that train), not {WorldSize}");
        if (Replicas < 1 || Replicas > 8)
            throw new UserError($"--replicas must be 1 to 8, not {Replicas}; the default is 2 for the MLP on the CPU "
                + "at batch 256-512");
        if (Replicas > 1 && Divergence == Divergence.Adversarial)
            throw new UserError("--divergence adversarial trains without in-process replicas: use --replicas 1");
        if (Replicas > 1 && WorldSize > 1)
            throw new UserError($"--replicas {Replicas} under mpirun: each rank trains its rows as one replica; "
                + "use --replicas 1, or more ranks");
        if (Scales.Length == 0 || Array.Exists(Scales, s => !(s > 0) || !double.IsFinite(s)))
            throw new UserError($"--scales must list positive numbers, not '{string.Join(",", Scales.Select(Num))}'; "
                + "e.g. --scales 0.1,0.2,0.5,1,2,5,10");
        if (!(Bandwidth > 0))
            throw new UserError($"--bandwidth must be > 0, not {Num(Bandwidth)}; the default is {Num(d.Bandwidth)}");
        if (MmdWeight > 0 && UnbiasedMmd && (Batch < 2 || PriorSamples == 1))
            throw new UserError("the unbiased MMD estimator needs at least 2 samples per batch: use --batch 2 or more,"
                + " or --mmd-estimator biased");
    }

    /// <summary>
    /// Refuses images the architecture cannot take: the conv net's strides and paddings are laid out for 28 × 28.
    /// </summary>
    public void CheckImageShape(int rows, int cols, string folder)
    {
        if (Arch == Architecture.Conv && (rows != ConvArch.Side || cols != ConvArch.Side))
            throw new UserError($"--arch conv takes {ConvArch.Side}×{ConvArch.Side} images, but the data in {folder} "
                + $"are {rows}×{cols}; use --arch mlp for other sizes, or 28×28 data (MNIST, Fashion-MNIST)");
    }

    /// <summary>
    /// The test-set evaluation needs 2 images for the unbiased MMD (it splits its chunks so that none holds 1).
    /// </summary>
    public void CheckTestImages(int test)
    {
        if (MmdWeight > 0 && UnbiasedMmd && test < 2)
            throw new UserError($"the test set has {test} image, but the unbiased MMD estimator needs at least 2: use "
                + "a test set with more images");
    }

    /// <summary>
    /// Refuses a data set these settings cannot use: the unbiased MMD needs 2 images in every batch, the last batch
    /// of an epoch included (evaluation splits its chunks so that none holds 1 image, which needs 2 test images).
    /// </summary>
    public void CheckImageCounts(int train, int test)
    {
        if (!(MmdWeight > 0 && UnbiasedMmd)) return;
        const string biased = "or --mmd-estimator biased";
        if (train < 2)
            throw new UserError($"the training set has {train} image, but the unbiased MMD estimator needs at least 2 "
                + $"per batch: use more images (a larger --limit) {biased}");
        CheckTestImages(test);
        if (Batch < train && train % Batch == 1)
        {
            int suggest = Enumerable.Range(Batch + 1, train - Batch).Concat(Enumerable.Range(2, Batch - 2).Reverse())
                .First(b => train % b != 1);
            throw new UserError($"{train} training images in batches of {Batch} leave a last batch of 1 image, which "
                + "the unbiased MMD estimator "
                + $"cannot use: use --batch {suggest} (any size that does not leave 1 over), a different --limit, "
                    + $"{biased}");
        }
    }
}
