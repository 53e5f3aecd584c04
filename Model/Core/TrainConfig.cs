using System.Globalization;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Model;

public enum ReconLoss { Bernoulli, Gaussian }

/// <summary>
/// Everything that defines a run: architecture, loss weights, MMD, optimiser, schedule. Saved in every checkpoint
/// so a resumed run can refuse flags that disagree with it. Loss:
/// β·recon + (1 − α)·KL(q(z|x) ‖ p(z)) + (α + λ − 1)·MMD²(q(z) ‖ p(z)), each term a per-example sum averaged over the batch.
/// </summary>
public sealed record TrainConfig
{
    public int[] Hidden { get; init; } = [512, 256];
    public int Latent { get; init; } = 32;
    /// <summary>Pixels per image (rows × cols); set from the data.</summary>
    public int InputSize { get; init; } = 784;
    public double Alpha { get; init; } = 0;
    public double Lambda { get; init; } = 1000;
    public double Beta { get; init; } = 1;
    public ReconLoss Recon { get; init; } = ReconLoss.Bernoulli;
    public MmdKernel Kernel { get; init; } = MmdKernel.Imq;
    public double[] Scales { get; init; } = MmdSpec.WaeScales;
    public double Bandwidth { get; init; } = 1;
    public bool UnbiasedMmd { get; init; } = true;
    /// <summary>Prior samples drawn per step for the MMD; 0 means the batch size.</summary>
    public int PriorSamples { get; init; }
    public double LearningRate { get; init; } = 1e-3;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double AdamEps { get; init; } = 1e-8;
    public int Epochs { get; init; } = 10;
    public int Batch { get; init; } = 256;
    public ulong Seed { get; init; }

    public double KlWeight => 1 - Alpha;
    public double MmdWeight => Alpha + Lambda - 1;
    public MmdSpec Mmd => new(Kernel, Scales, Bandwidth, UnbiasedMmd);
    public int PriorCount(int batch) => PriorSamples > 0 ? PriorSamples : batch;

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
        static void Finite(double v, string name) { if (!double.IsFinite(v)) throw new UserError($"{name} must be a finite number, not {v.ToString(CultureInfo.InvariantCulture)}"); }
        Finite(Alpha, "--alpha"); Finite(Lambda, "--lambda"); Finite(Beta, "--beta"); Finite(LearningRate, "--lr");
        Finite(Beta1, "--beta1"); Finite(Beta2, "--beta2"); Finite(AdamEps, "--adam-eps"); Finite(Bandwidth, "--bandwidth");
        if (!(Lambda > 0)) throw new UserError($"--lambda must be > 0 (got {Lambda}); the InfoVAE paper's MNIST setting is 1000");
        if (MmdWeight < 0)
            throw new UserError($"the MMD weight α + λ − 1 = {MmdWeight:G4} is negative, which would maximise the divergence between q(z) and p(z); raise --lambda or --alpha so that α + λ ≥ 1");
        if (!(Beta > 0)) throw new UserError($"--beta (the reconstruction weight) must be > 0, not {Beta}");
        if (!(LearningRate > 0)) throw new UserError($"--lr must be > 0, not {LearningRate}");
        if (!(Beta1 >= 0 && Beta1 < 1) || !(Beta2 >= 0 && Beta2 < 1)) throw new UserError("Adam betas must be in [0, 1)");
        if (!(AdamEps > 0)) throw new UserError("--adam-eps must be > 0");
        if (Epochs <= 0) throw new UserError($"--epochs must be at least 1, not {Epochs}");
        if (Batch <= 0) throw new UserError($"--batch must be at least 1, not {Batch}");
        if (Latent <= 0) throw new UserError($"--latent must be at least 1, not {Latent}");
        if (InputSize <= 0) throw new UserError("images must have at least one pixel");
        if (Hidden.Length == 0 || Array.Exists(Hidden, h => h <= 0)) throw new UserError("--hidden must list one or more positive layer sizes, e.g. 512,256");
        if (PriorSamples < 0) throw new UserError("--prior-samples must be ≥ 0 (0 = the batch size)");
        if (Scales.Length == 0 || Array.Exists(Scales, s => !(s > 0) || !double.IsFinite(s))) throw new UserError("--scales must list positive numbers, e.g. 0.1,0.2,0.5,1,2,5,10");
        if (!(Bandwidth > 0)) throw new UserError("--bandwidth must be > 0");
        if (MmdWeight > 0 && UnbiasedMmd && (Batch < 2 || PriorSamples == 1))
            throw new UserError("the unbiased MMD estimator needs at least 2 samples per batch: use --batch 2 or more, or --mmd-estimator biased");
    }
}
