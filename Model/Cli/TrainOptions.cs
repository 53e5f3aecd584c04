using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Model.Cli;

/// <summary>
/// The flags of `infovae train`. Each is exactly one of three kinds (Tests/Model/ResumeMatrixTests.cs holds every
/// flag to that, and runs a kill-and-resume case for each):
/// - <see cref="Stored"/>: part of the run. Its value is in <see cref="TrainConfig"/> (config.json and every
///   checkpoint); --resume restores it and refuses the flag given again with another value. --data is stored as
///   its files' SHA-256 (<see cref="RunData"/>).
/// - <see cref="ChangeableOnResume"/>: may differ on --resume, each for the reason given there (named in --help).
/// - --out and --resume themselves.
/// Adding a flag: the Option below and in <see cref="All"/>; its field in TrainConfig, set in <see cref="ToConfig"/>;
/// its entry in <see cref="Stored"/> (or, with the reason, in <see cref="ChangeableOnResume"/>); its case in the
/// resume matrix, which fails until it has one.
/// </summary>
public sealed class TrainOptions
{
    public readonly Option<string?> Data = new("--data")
    {
        Description = "Folder with the four IDX files (gzipped or not): Fashion-MNIST, MNIST, ... "
            + $"(default: {DataSet.DefaultFolder}; "
            + "--resume: the run's own, checked by SHA-256)",
    };
    public readonly Option<string?> Out =
        new("--out") { Description = "Run folder to create (default: runs/<date>-<time>)" };
    public readonly Option<string?> Resume = new("--resume");
    public readonly Option<string> Preset =
        new("--preset")
        {
            Description = "infovae | elbo | beta-vae | mmd-vae: sets α, λ (and β) to that special case",
            DefaultValueFactory = _ => "infovae"
        };
    public readonly Option<double?> Alpha = new("--alpha") { Description = "α: the KL weight is 1 − α (default 0)" };
    public readonly Option<double?> Lambda =
        new("--lambda") { Description = "λ: the MMD weight is α + λ − 1 (default 1000)" };
    public readonly Option<double?> Beta = new("--beta") { Description = "β: the reconstruction weight (default 1)" };
    public readonly Option<string> Divergence = new("--divergence")
    {
        Description = "D(q(z) ‖ p(z)) in the loss: mmd | adversarial (a latent discriminator, Jensen-Shannon)",
        DefaultValueFactory = _ => "mmd",
    };
    public readonly Option<string> DiscHidden = new("--disc-hidden")
    {
        Description = "--divergence adversarial: the discriminator's hidden layer sizes",
        DefaultValueFactory = _ => "512,512",
    };
    public readonly Option<double> DiscLr = new("--disc-lr")
    {
        Description = "--divergence adversarial: the discriminator's Adam learning rate",
        DefaultValueFactory = _ => 1e-3,
    };
    public readonly Option<string> Recon =
        new("--recon")
        {
            Description = "bernoulli (BCE with logits) | gaussian (MSE)",
            DefaultValueFactory = _ => "bernoulli"
        };
    public readonly Option<string> Kernel = new("--kernel")
    {
        Description = "MMD kernel: imq | rbf",
        DefaultValueFactory = _ => "imq"
    };
    public readonly Option<string?> Scales =
        new("--scales") { Description = "MMD kernel scales (default 0.1,0.2,0.5,1,2,5,10 for imq, 1 for rbf)" };
    public readonly Option<double> Bandwidth = new("--bandwidth")
    {
        Description = "MMD bandwidth: C = 2·Z·bandwidth²",
        DefaultValueFactory = _ => 1.0
    };
    public readonly Option<string> Estimator = new("--mmd-estimator")
    {
        Description = "unbiased | biased",
        DefaultValueFactory = _ => "unbiased"
    };
    public readonly Option<int> PriorSamples =
        new("--prior-samples")
        {
            Description = "N(0, I) samples per step for the MMD (0 = batch size)",
            DefaultValueFactory = _ => 0
        };
    public readonly Option<string> Arch =
        new("--arch")
        {
            Description = "mlp | conv (28×28 images: strided convolutions with batch norm, see --channels)",
            DefaultValueFactory = _ => "mlp"
        };
    public readonly Option<string> Channels =
        new("--channels")
        {
            Description = "--arch conv: channels of the three encoder convolutions (the decoder mirrors them)",
            DefaultValueFactory = _ => "32,64,128"
        };
    public readonly Option<string> Hidden =
        new("--hidden")
        {
            Description = "Hidden layer sizes of the encoder (the decoder mirrors them)",
            DefaultValueFactory = _ => "512,256"
        };
    public readonly Option<int> Latent = new("--latent")
    {
        Description = "Latent size Z",
        DefaultValueFactory = _ => 32
    };
    public readonly Option<double> Lr = new("--lr")
    {
        Description = "Adam learning rate",
        DefaultValueFactory = _ => 1e-3
    };
    public readonly Option<double> Beta1 = new("--beta1") { Description = "Adam β1", DefaultValueFactory = _ => 0.9 };
    public readonly Option<double> Beta2 = new("--beta2") { Description = "Adam β2", DefaultValueFactory = _ => 0.999 };
    public readonly Option<double> AdamEps = new("--adam-eps")
    {
        Description = "Adam ε",
        DefaultValueFactory = _ => 1e-8
    };
    public readonly Option<int> Epochs = new("--epochs")
    {
        Description = "Passes over the training set (--resume: may be raised to extend the run)",
        DefaultValueFactory = _ => 10,
    };
    public readonly Option<int> Batch =
        new("--batch")
        {
            Description = "Images per step (the last batch of an epoch may be smaller)",
            DefaultValueFactory = _ => 256
        };
    public readonly Option<ulong> Seed =
        new("--seed")
        {
            Description = "Seed of every random draw (init, shuffle, noise)",
            DefaultValueFactory = _ => 0UL
        };
    public readonly Option<int> Limit =
        new("--limit")
        {
            Description = "Train on the first N training images only (0 = all)",
            DefaultValueFactory = _ => 0
        };
    public readonly Option<int> CheckpointEvery =
        new("--checkpoint-every")
        {
            Description = "Also checkpoint every N steps (0 = at the end of each epoch only)",
            DefaultValueFactory = _ => 0
        };
    public readonly Option<int> LogEvery = new("--log-every")
    {
        Description = "Write a run.jsonl line (and, when stdout is not a terminal, a progress line) every N steps "
            + "(0 = none)",
        DefaultValueFactory = _ => 50,
    };
    public readonly Option<string> Device = new("--device")
    {
        Description = "auto | cpu | cuda | ilgpu-cpu (--resume: may change; the rest of the run is then not "
            + "bit-identical)",
        DefaultValueFactory = _ => "auto",
    };
    public readonly Option<int> Threads = new("--threads")
    {
        Description = "CPU threads (default: all cores; under mpirun or srun, per rank: the node's cores divided by "
            + "its ranks; --resume: may change)",
        DefaultValueFactory = _ => Environment.ProcessorCount,
    };
    public readonly Option<int?> Replicas = new("--replicas")
    {
        Description = "In-process data-parallel replicas: each batch split into N shares computed side by side, a "
            + "core each, their gradients added in order (default: 2 for the MLP on the CPU at batch 256-512, else "
            + "1; the numbers depend on N, never on --threads)",
    };
    public readonly Option<bool> NoPictures = new("--no-pictures")
    {
        Description = "Skip the pictures after each epoch (--resume: restored; --no-pictures false draws them again)",
    };
    public readonly Option<bool> DetectAnomaly = new("--detect-anomaly")
    {
        Description = "Check every op's output and gradient for NaN/∞ and stop at the first bad op "
            + "(slow: for debugging; this invocation only)",
    };
    /// <summary>For `infovae sweep`: stop (save and exit 130, as on Ctrl+C) when standard input closes.</summary>
    public readonly Option<bool> StopWhenStdinCloses = new("--stop-when-stdin-closes")
    {
        Description = "Save and stop when standard input closes (used by infovae sweep)", Hidden = true,
    };

    public IEnumerable<Option> All => [Data, Out, Resume, Preset, Alpha, Lambda, Beta, Divergence, DiscHidden, DiscLr,
        Recon, Kernel, Scales, Bandwidth, Estimator, PriorSamples,
        Arch, Hidden, Channels, Latent, Lr, Beta1, Beta2, AdamEps, Epochs, Batch, Seed, Limit, CheckpointEvery,
        LogEvery, Device, Threads, Replicas, NoPictures, DetectAnomaly, StopWhenStdinCloses];

    /// <summary>
    /// The flags that are part of the run, each with how it reads back from a config in the flag's own syntax
    /// ("--hidden 512,256", "--prior-samples 0"): --resume compares that with the flag's value, and restores the
    /// config whole. --data is compared by its files' SHA-256 once they are read (<see cref="RunData"/>).
    /// </summary>
    public IReadOnlyDictionary<Option, Func<TrainConfig, string>> Stored { get; }

    /// <summary>The flags that may differ on --resume, and why that leaves the run what it was.</summary>
    public IReadOnlyDictionary<Option, string> ChangeableOnResume { get; }

    public TrainOptions()
    {
        static string N(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        static string Lower(Enum e) => e.ToString().ToLowerInvariant();
        Stored = new Dictionary<Option, Func<TrainConfig, string>>
        {
            [Data] = c => c.Data?.Folder ?? "",
            [Preset] = c => $"α = {N(c.Alpha)}, λ = {N(c.Lambda)}, β = {N(c.Beta)}",
            [Alpha] = c => N(c.Alpha), [Lambda] = c => N(c.Lambda), [Beta] = c => N(c.Beta),
            [Recon] = c => Lower(c.Recon), [Kernel] = c => Lower(c.Kernel),
            [Scales] = c => string.Join(",", c.Scales.Select(N)), [Bandwidth] = c => N(c.Bandwidth),
            [Estimator] = c => c.UnbiasedMmd ? "unbiased" : "biased", [PriorSamples] = c => $"{c.PriorSamples ?? 0}",
            [Arch] = c => Lower(c.Arch), [Hidden] = c => string.Join(",", c.Hidden),
            [Channels] = c => string.Join(",", c.Channels), [Latent] = c => $"{c.Latent}",
            [Lr] = c => N(c.LearningRate), [Beta1] = c => N(c.Beta1), [Beta2] = c => N(c.Beta2),
            [AdamEps] = c => N(c.AdamEps), [Epochs] = c => $"{c.Epochs}", [Batch] = c => $"{c.Batch}",
            [Seed] = c => $"{c.Seed}", [Limit] = c => $"{c.Limit ?? 0}",
            [CheckpointEvery] = c => $"{c.CheckpointEvery ?? 0}", [LogEvery] = c => $"{c.LogEvery ?? 0}",
            [NoPictures] = c => c.Pictures ? "false" : "true", [Replicas] = c => $"{c.Replicas}",
            [Divergence] = c => c.Divergence == Model.Divergence.Adversarial ? "adversarial" : "mmd",
            [DiscHidden] = c => string.Join(",", c.DiscHidden), [DiscLr] = c => N(c.DiscLearningRate),
        };
        ChangeableOnResume = new Dictionary<Option, string>
        {
            [Epochs] = "a larger number extends the run (stored: a later --resume goes on to it)",
            [Threads] = "the numbers are the same, bit for bit, on any number of threads",
            [Device] = "the run is the same computation on another device, only rounded differently (a note says so)",
            [NoPictures] = "pictures are output only: drawn from their own random streams, they change no weight, "
                + "draw or checkpoint (stored: a later --resume keeps the choice)",
            [DetectAnomaly] = "it only checks the numbers, and changes none of them",
            [StopWhenStdinCloses] = "it only says when to stop, as Ctrl+C would (infovae sweep's own flag)",
        };
        Resume.Description = "Continue the run in this folder from its last checkpoint, with the flags and data it was "
            + "started with (config.json); a flag given again must agree, except "
            + string.Join(", ", ChangeableOnResume.Keys.Select(o => o.Name));
    }

    /// <summary>
    /// The run's config from the flags (input size comes from the data later). Without --replicas, 2 where that
    /// trains faster (<see cref="TrainConfig.DefaultReplicas"/>; <paramref name="onCpu"/>: on the CPU backend), else 1.
    /// </summary>
    public TrainConfig ToConfig(ParseResult r, bool onCpu = true)
    {
        var (a, l, b) = TrainConfig.Preset(r.GetValue(Preset)!);
        var kernel = r.GetValue(Kernel) switch
        {
            "imq" => MmdKernel.Imq,
            "rbf" => MmdKernel.Rbf,
            var k => throw new UserError($"unknown --kernel '{k}': use imq or rbf")
        };
        string? scales = r.GetValue(Scales);
        return new TrainConfig
        {
            Alpha = r.GetValue(Alpha) ?? a, Lambda = r.GetValue(Lambda) ?? l, Beta = r.GetValue(Beta) ?? b,
            Recon = r.GetValue(Recon) switch
            {
                "bernoulli" => ReconLoss.Bernoulli,
                "gaussian" => ReconLoss.Gaussian,
                var x => throw new UserError($"unknown --recon '{x}': use bernoulli or gaussian")
            },
            Divergence = ParseDivergence(r.GetValue(Divergence)!),
            DiscHidden = ParseList(r.GetValue(DiscHidden)!, "--disc-hidden", int.Parse),
            DiscLearningRate = r.GetValue(DiscLr),
            Kernel = kernel,
            Scales = scales != null ? ParseList(scales, "--scales", double.Parse) : kernel == MmdKernel.Imq
                ? [.. MmdSpec.WaeScales] : [1.0],
            Bandwidth = r.GetValue(Bandwidth),
            UnbiasedMmd = r.GetValue(Estimator) switch
            {
                "unbiased" => true,
                "biased" => false,
                var x => throw new UserError($"unknown --mmd-estimator '{x}': use unbiased or biased")
            },
            PriorSamples = NoneIfZero(r.GetValue(PriorSamples)),
            Arch = r.GetValue(Arch) switch
            {
                "mlp" => Architecture.Mlp,
                "conv" => Architecture.Conv,
                var x => throw new UserError($"unknown --arch '{x}': use mlp or conv")
            },
            Hidden = ParseList(r.GetValue(Hidden)!, "--hidden", int.Parse),
            Channels = ParseList(r.GetValue(Channels)!, "--channels", int.Parse),
            Latent = r.GetValue(Latent), LearningRate = r.GetValue(Lr), Beta1 = r.GetValue(Beta1),
            Beta2 = r.GetValue(Beta2), AdamEps = r.GetValue(AdamEps),
            Epochs = r.GetValue(Epochs), Batch = r.GetValue(Batch), Seed = r.GetValue(Seed),
            Limit = NoneIfZero(r.GetValue(Limit)), LogEvery = NoneIfZero(r.GetValue(LogEvery)),
            CheckpointEvery = NoneIfZero(r.GetValue(CheckpointEvery)),
            Pictures = !r.GetValue(NoPictures),
            Replicas = r.GetValue(Replicas) ?? TrainConfig.DefaultReplicas(r.GetValue(Arch) == "mlp"
                ? Architecture.Mlp : Architecture.Conv, ParseDivergence(r.GetValue(Divergence)!), r.GetValue(Batch),
                onCpu, Distributed.Launch.IsParallel()),
        };
    }

    /// <summary>A flag's 0 ("none", "all", "the batch size") is null in the config.</summary>
    static int? NoneIfZero(int value) => value == 0 ? null : value;

    /// <summary>
    /// A fresh run: --hidden shapes only the MLP and --channels only the conv net; giving the other one is a mistake.
    /// </summary>
    public void CheckArchFlags(ParseResult r, TrainConfig config)
    {
        bool Given(Option opt) => r.GetResult(opt) is OptionResult { Implicit: false };
        if (config.Arch == Architecture.Conv && Given(Hidden))
            throw new UserError("--hidden sets the MLP's layers, but this is --arch conv: set its layers with "
                + "--channels (e.g. --channels 32,64,128), or drop --hidden");
        if (config.Arch == Architecture.Mlp && Given(Channels))
            throw new UserError("--channels sets the conv net's layers, but this is --arch mlp (the default): add "
                + "--arch conv, or drop --channels");
    }

    public static Model.Divergence ParseDivergence(string name) => name switch
    {
        "mmd" => Model.Divergence.Mmd,
        "adversarial" => Model.Divergence.Adversarial,
        _ => throw new UserError($"unknown --divergence '{name}': use mmd or adversarial"),
    };

    /// <summary>
    /// The MMD's flags shape nothing with the adversarial divergence, and the discriminator's nothing with the MMD:
    /// giving one of them is a mistake (checked on a fresh run against the flags, on resume against the saved run).
    /// </summary>
    public void CheckDivergenceFlags(ParseResult r, Model.Divergence divergence, bool resuming = false)
    {
        bool Given(Option opt) => r.GetResult(opt) is OptionResult { Implicit: false };
        string run = resuming ? "the run being resumed" : "this run";
        if (divergence == Model.Divergence.Adversarial)
        {
            foreach (var opt in new Option[] { Kernel, Scales, Bandwidth, Estimator })
                if (Given(opt))
                    throw new UserError($"{opt.Name} is a setting of the MMD, but {run} uses --divergence adversarial "
                        + $"(a discriminator, no kernel); drop {opt.Name}"
                        + (resuming ? "" : ", or use --divergence mmd"));
        }
        else
        {
            foreach (var opt in new Option[] { DiscHidden, DiscLr })
                if (Given(opt))
                    throw new UserError($"{opt.Name} is a setting of the adversarial divergence's discriminator, "
                        + $"but {run} uses the MMD (--divergence mmd, the default); "
                        + $"{(resuming ? "" : "add --divergence adversarial, or ")}drop {opt.Name}");
        }
    }

    internal static TV[] ParseList<TV>(string text, string flag, Func<string, IFormatProvider, TV> parse)
    {
        try
        {
            return text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(s => parse(s, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (FormatException) { throw new UserError($"{flag} '{text}' is not a comma-separated list of numbers"); }
        catch (OverflowException) { throw new UserError($"{flag} '{text}' has a number out of range"); }
    }
}
