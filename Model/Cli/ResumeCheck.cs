using System.CommandLine;
using System.CommandLine.Parsing;

namespace InfoVae.Model.Cli;

/// <summary>
/// On --resume the run's saved config rules: every stored flag (<see cref="TrainOptions.Stored"/>) comes back from
/// it, and one given again must agree with it; only <see cref="TrainOptions.ChangeableOnResume"/> may differ.
/// </summary>
public static class ResumeCheck
{
    /// <summary>The config to continue with: the saved one, with the changeable flags that were given.</summary>
    public static TrainConfig AgreesWithFlags(TrainConfig saved, TrainOptions o, ParseResult r)
    {
        bool Given(Option opt) => r.GetResult(opt) is OptionResult { Implicit: false };
        if (Given(o.Out))
            throw new UserError("--out and --resume together: the resumed run stays in its own folder; drop --out");
        if (saved.Arch == Architecture.Conv && Given(o.Hidden))
            throw new UserError(
                "--hidden sets the MLP's layers, but the run being resumed is a conv net; drop the flag");
        if (saved.Arch == Architecture.Mlp && Given(o.Channels))
            throw new UserError(
                "--channels sets the conv net's layers, but the run being resumed is an MLP; drop the flag");
        o.CheckDivergenceFlags(r, saved.Divergence, resuming: true);
        var flags = o.ToConfig(r);
        // Configs written before runs recorded their data also lack these: they come from the flags, as they did then.
        bool legacy = saved.Data == null;
        Option[] unrecordedBefore = [o.Limit, o.LogEvery, o.CheckpointEvery, o.NoPictures];
        foreach (var (opt, read) in o.Stored)
        {
            if (!Given(opt) || opt == o.Data || o.ChangeableOnResume.ContainsKey(opt)) continue;
            if (legacy && unrecordedBefore.Contains(opt)) continue;
            string was = read(saved), now = read(flags);
            if (was != now)
            {
                string typed = string.Join(" ", r.GetResult(opt)!.Tokens.Select(t => t.Value));
                throw new UserError($"{opt.Name} {typed} disagrees with the run being resumed ({was}); "
                    + "drop the flag or start a new run");
            }
        }
        // The stored flags that may change: given, they replace the saved value (and config.json says so from then on).
        var resumed = saved with
        {
            Epochs = Given(o.Epochs) ? flags.Epochs : saved.Epochs,
            Pictures = Given(o.NoPictures) || legacy ? flags.Pictures : saved.Pictures,
        };
        if (legacy)
            resumed = resumed with
            {
                Limit = flags.Limit,
                LogEvery = flags.LogEvery,
                CheckpointEvery = flags.CheckpointEvery,
            };
        return resumed;
    }
}
