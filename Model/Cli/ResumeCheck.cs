using System.CommandLine;
using System.CommandLine.Parsing;

namespace InfoVae.Model.Cli;

/// <summary>On --resume the run's saved config rules; a flag given again must agree with it (except --epochs, which may extend the run).</summary>
public static class ResumeCheck
{
    public static TrainConfig AgreesWithFlags(TrainConfig saved, TrainOptions o, ParseResult r)
    {
        bool Given(Option opt) => r.GetResult(opt) is OptionResult { Implicit: false };
        var flags = o.ToConfig(r);
        void Same<TV>(Option opt, TV savedValue, TV flagValue, Func<TV, string>? show = null)
        {
            if (!Given(opt)) return;
            show ??= v => v switch
            {
                double[] d => string.Join(",", d), int[] i => string.Join(",", i), Enum e => e.ToString().ToLowerInvariant(),
                bool unbiased => unbiased ? "unbiased" : "biased",    // the only bool among the flags: --mmd-estimator
                _ => v?.ToString() ?? "",
            };
            if (show(savedValue) != show(flagValue))
                throw new UserError($"{opt.Name} {show(flagValue)} disagrees with the run being resumed ({show(savedValue)}); drop the flag or start a new run");
        }
        if (Given(o.Out)) throw new UserError("--out and --resume together: the resumed run stays in its own folder; drop --out");
        foreach (var opt in new Option[] { o.Preset, o.Alpha, o.Lambda, o.Beta })
            if (Given(opt)) { Same(o.Alpha, saved.Alpha, flags.Alpha); Same(o.Lambda, saved.Lambda, flags.Lambda); Same(o.Beta, saved.Beta, flags.Beta); }
        if (Given(o.Preset) && (saved.Alpha, saved.Lambda, saved.Beta) != (flags.Alpha, flags.Lambda, flags.Beta))
            throw new UserError($"--preset {r.GetValue(o.Preset)} disagrees with the run being resumed (α = {saved.Alpha}, λ = {saved.Lambda}, β = {saved.Beta}); drop the flag or start a new run");
        Same(o.Divergence, saved.Divergence, flags.Divergence);
        o.CheckDivergenceFlags(r, saved.Divergence, resuming: true);
        Same(o.DiscHidden, saved.DiscHidden, flags.DiscHidden);
        Same(o.DiscLr, saved.DiscLearningRate, flags.DiscLearningRate);
        Same(o.Recon, saved.Recon, flags.Recon);
        Same(o.Kernel, saved.Kernel, flags.Kernel);
        Same(o.Scales, saved.Scales, flags.Scales);
        Same(o.Bandwidth, saved.Bandwidth, flags.Bandwidth);
        Same(o.Estimator, saved.UnbiasedMmd, flags.UnbiasedMmd);
        Same(o.PriorSamples, saved.PriorSamples, flags.PriorSamples);
        if (Given(o.Arch) && saved.Arch != flags.Arch)
            throw new UserError($"--arch {r.GetValue(o.Arch)} disagrees with the run being resumed ({saved.Arch.ToString().ToLowerInvariant()}); drop the flag or start a new run");
        if (saved.Arch == Architecture.Conv && Given(o.Hidden))
            throw new UserError("--hidden sets the MLP's layers, but the run being resumed is a conv net; drop the flag");
        if (saved.Arch == Architecture.Mlp && Given(o.Channels))
            throw new UserError("--channels sets the conv net's layers, but the run being resumed is an MLP; drop the flag");
        Same(o.Hidden, saved.Hidden, flags.Hidden);
        Same(o.Channels, saved.Channels, flags.Channels);
        Same(o.Latent, saved.Latent, flags.Latent);
        Same(o.Lr, saved.LearningRate, flags.LearningRate);
        Same(o.Beta1, saved.Beta1, flags.Beta1);
        Same(o.Beta2, saved.Beta2, flags.Beta2);
        Same(o.AdamEps, saved.AdamEps, flags.AdamEps);
        Same(o.Batch, saved.Batch, flags.Batch);
        Same(o.Seed, saved.Seed, flags.Seed);
        return Given(o.Epochs) ? saved with { Epochs = flags.Epochs } : saved;
    }
}
