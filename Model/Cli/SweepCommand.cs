using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using InfoVae.Kernels.Cpu;
using InfoVae.Model.IO;
using InfoVae.Model.Sweep;

namespace InfoVae.Model.Cli;

/// <summary>
/// `infovae sweep`: trains a grid over α × λ × divergence (and a list of presets) for each seed as ordinary run
/// folders under --out, as `infovae train` child processes, --jobs at a time; evaluates each run on the test set;
/// writes sweep.md, sweep.jsonl, pareto.png and grid.png. Run again with the same flags, it skips the runs that are
/// finished, resumes the ones that were stopped (`train --resume`) and trains the rest.
/// </summary>
public static class SweepCommand
{
    public static Command Build()
    {
        var t = new TrainOptions();
        var o = new Options();
        var cmd = new Command("sweep", "Train and compare a grid of α, λ and divergences (and presets) over seeds: "
            + "sweep.md, sweep.jsonl, pareto.png, grid.png");
        foreach (var opt in o.All) cmd.Options.Add(opt);
        foreach (var opt in Passed(t)) cmd.Options.Add(opt);
        cmd.SetAction(r => Run(o, t, r));
        return cmd;
    }

    sealed class Options
    {
        public readonly Option<string> Out = new("--out")
        {
            Description = "The sweep's folder: a run folder per training, then sweep.md, sweep.jsonl, pareto.png and "
                + "grid.png",
            Required = true,
        };
        public readonly Option<string?> Alphas = new("--alpha")
        {
            Description = "α values of the grid, comma-separated (0 if only --lambda is given)",
        };
        public readonly Option<string?> Lambdas = new("--lambda")
        {
            Description = "λ values of the grid (1000 if only --alpha is given)",
        };
        public readonly Option<string> Divergences = new("--divergence")
        {
            Description = "The grid's divergences: mmd, adversarial or mmd,adversarial",
            DefaultValueFactory = _ => "mmd",
        };
        public readonly Option<string?> Presets = new("--presets")
        {
            Description = "Presets to train as well: elbo, beta-vae, infovae, mmd-vae (with the MMD)",
        };
        public readonly Option<string> Seeds = new("--seeds")
        {
            Description = "Seeds: each setting is trained once per seed", DefaultValueFactory = _ => "0",
        };
        public readonly Option<int> Jobs = new("--jobs")
        {
            Description = "Trainings at once (the --threads are split between them)", DefaultValueFactory = _ => 1,
        };
        public readonly Option<int> IwSamples = new("--iw-samples")
        {
            Description = "Importance samples per image for the IW-NLL", DefaultValueFactory = _ => 100,
        };

        public readonly Option<string?> Classifier = new("--classifier")
        {
            Description = "Classifier whose features FID, KID and IS use (default: the shipped Fashion-MNIST one)",
        };

        public IEnumerable<Option> All => [Out, Alphas, Lambdas, Divergences, Presets, Seeds, Jobs, IwSamples,
            Classifier];
    }

    /// <summary>The train flags a sweep passes to every run (those it sets per run are its own options).</summary>
    static IEnumerable<Option> Passed(TrainOptions t)
    {
        Option[] own = [t.Out, t.Resume, t.Preset, t.Alpha, t.Lambda, t.Seed, t.Divergence, t.StopWhenStdinCloses];
        return t.All.Where(opt => !own.Contains(opt));
    }

    static int Run(Options o, TrainOptions t, ParseResult r)
    {
        int threads = r.GetValue(t.Threads), jobs = r.GetValue(o.Jobs), iw = r.GetValue(o.IwSamples);
        if (threads < 1) throw new UserError($"--threads must be at least 1, not {threads}");
        if (jobs < 1)
            throw new UserError($"--jobs must be at least 1, not {jobs}; it is how many trainings run at once");
        if (iw < 1) throw new UserError($"--iw-samples must be at least 1, not {iw}; the default is 100");
        var (points, skipped) = Plan(o, r);
        var shared = SharedFlags(t, r, points);
        string outDir = r.GetValue(o.Out)!;
        if (File.Exists(outDir)) throw new UserError($"--out {outDir} is a file; give a folder for the sweep");
        var data = DataSet.Load(r.GetValue(t.Data) ?? DataSet.DefaultFolder);
        // Every run gets the data folder by name, so a resumed one is checked against it (by its files' SHA-256).
        if (!shared.Common.Contains(t.Data.Name)) shared.Common.AddRange([t.Data.Name, data.Folder]);
        int perJob = Math.Max(1, threads / jobs);
        var (queue, finished, resumed) = Check(points, outDir, shared, data, perJob);
        try { Directory.CreateDirectory(outDir); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"cannot create the sweep folder {outDir}: {e.Message.TrimEnd('.')}; "
                + "choose an --out folder that you can write to");
        }

        string command = "infovae " + string.Join(" ", r.Tokens.Select(k => Quote(k.Value)));
        Console.WriteLine($"sweep: {points.Count} runs in {outDir}: {finished.Count} finished, {resumed} to resume, "
            + $"{queue.Count - resumed} to train; {Math.Min(jobs, Math.Max(1, queue.Count))} at a time, "
            + $"{perJob} thread(s) each");
        using var stop = new StopSignal();
        var (done, stopped) = new SweepRunner(jobs, () => stop.Requested, Console.WriteLine).Run(queue);
        if (stopped)
        {
            Console.WriteLine($"sweep stopped; the runs saved where they were. Continue with: {command}");
            return stop.ExitCode;
        }
        var failed = done.Where(d => d.ExitCode != 0).ToList();
        var trained = done.Where(d => d.ExitCode == 0).Select(d => d.Job.Name).ToHashSet();

        Workers.MaxThreads = threads;
        var (cnet, cinfo) = ClassifierCommand.Load(r.GetValue(o.Classifier));
        var quality = SampleQuality.TryCreate(cnet, cinfo, data.Test, data.Folder, out var qualitySkipped);
        var results = points.Where(p => finished.Contains(p) || trained.Contains(p.Name))
            .Select(p => RunResult.Evaluate(p, Path.Combine(outDir, p.Name), data, iw, quality, qualitySkipped,
                Console.WriteLine)).ToList();
        var notes = new List<string>
        {
            $"Data: {data.Folder}, {data.Train.Count:N0} training and {data.Test.Count:N0} test images; "
            + $"IW-NLL with K = {iw}.",
        };
        notes.AddRange(results.Select(x => x.QualityNote).OfType<string>().Distinct());
        notes.AddRange(skipped.Select(s => $"Skipped {s.Point.Name}: {s.Why}."));
        notes.AddRange(failed.Select(f => $"Failed {f.Job.Name} (exit code {f.ExitCode}): {f.LastLine}"));
        if (results.Count > 0)
            foreach (var path in SweepReport.Write(outDir, results, command, notes, data.Test.Rows, data.Test.Cols))
                Console.WriteLine($"wrote {path}");
        if (failed.Count > 0)
            throw new UserError($"{failed.Count} of {points.Count} runs failed "
                + $"({string.Join("; ", failed.Select(f => $"{f.Job.Name}: {f.LastLine}"))}); "
                + "their logs are train.log in their folders; fix the cause and run the same sweep again to retry "
                + "them");
        return 0;
    }

    /// <summary>The sweep's runs from its lists; prints a line for each grid point the objective refuses.</summary>
    static (List<SweepPoint> Points, List<(SweepPoint Point, string Why)> Skipped) Plan(Options o, ParseResult r)
    {
        string? alphaText = r.GetValue(o.Alphas), lambdaText = r.GetValue(o.Lambdas);
        string? presetText = r.GetValue(o.Presets);
        if (alphaText == null && lambdaText == null && presetText == null)
            throw new UserError("a sweep needs a grid, presets or both: give --alpha and --lambda (e.g. --alpha 0,1 "
                + "--lambda 1,1000), --presets (e.g. --presets elbo,beta-vae), or both");
        bool grid = alphaText != null || lambdaText != null;
        var alphas = grid ? List(alphaText ?? "0", "--alpha", double.Parse) : [];
        var lambdas = grid ? List(lambdaText ?? "1000", "--lambda", double.Parse) : [];
        var divergences = List(r.GetValue(o.Divergences)!, "--divergence", (s, _) => TrainOptions.ParseDivergence(s));
        var presets = presetText != null ? List(presetText, "--presets", (s, _) => s) : [];
        foreach (var p in presets) TrainConfig.Preset(p);           // an unknown name is refused here
        var seeds = List(r.GetValue(o.Seeds)!, "--seeds", ulong.Parse);

        var (points, skipped) = SweepPoint.Plan(alphas, lambdas, divergences, presets, seeds);
        foreach (var (p, why) in skipped) Console.WriteLine($"sweep: skipping {p.Name}: {why}");
        if (points.Count == 0)
            throw new UserError("every point of this sweep was skipped (see above); choose α and λ with α + λ ≥ 1 "
                + "(and α + λ > 1 for --divergence adversarial)");
        return (points, skipped);
    }

    /// <summary>
    /// Every run checked as `train` would check it, before any is started (a flag one of them refuses costs
    /// nothing): finished runs are left alone, stopped ones resumed, the others trained.
    /// </summary>
    static (List<SweepJob> Queue, List<SweepPoint> Finished, int Resumed) Check(List<SweepPoint> points, string outDir,
        (List<string> Common, List<string> MmdOnly, List<string> DiscOnly) shared, DataSet data, int perJob)
    {
        var queue = new List<SweepJob>();
        var finished = new List<SweepPoint>();
        int resumed = 0;
        foreach (var p in points)
        {
            string folder = Path.Combine(outDir, p.Name), log = Path.Combine(folder, "train.log");
            var own = p.Divergence == Divergence.Adversarial ? shared.DiscOnly : shared.MmdOnly;
            var flags = p.Flags().Concat(shared.Common).Concat(own).ToList();
            string[] child = ["--threads", $"{perJob}", "--stop-when-stdin-closes"];
            var checkpoint = Path.Combine(folder, "checkpoint.safetensors");
            if (!File.Exists(checkpoint))
            {
                var (options, parsed) = TrainCommand.Parse(["--out", folder, .. flags]);
                _ = TrainCommand.FitData(TrainCommand.FreshConfig(options, parsed), data);
                queue.Add(new SweepJob(p.Name, ["train", "--out", folder, .. flags, .. child], log, "training"));
                continue;
            }
            var run = RunFolder.Open(folder);
            var (resumeOptions, resumeParsed) = TrainCommand.Parse(["--resume", folder, .. flags]);
            TrainConfig config;
            try { (_, config, _) = TrainCommand.Resumed(run, resumeOptions, resumeParsed); }
            catch (UserError e)
            {
                throw new UserError($"{folder} holds a run that this sweep cannot continue ({e.Message}); "
                    + "give the sweep the flags it was started with, or another --out");
            }
            var at = Position(checkpoint);
            if (at.Epoch >= config.Epochs && at.NextBatch == 0) { finished.Add(p); continue; }
            resumed++;
            queue.Add(new SweepJob(p.Name, ["train", "--resume", folder, .. flags, .. child], log,
                $"resuming at epoch {at.Epoch + 1}, step {at.Step}"));
        }
        return (queue, finished, resumed);
    }

    /// <summary>
    /// The train flags given to the sweep, as tokens for each run: the MMD's settings go to MMD runs only, the
    /// discriminator's to adversarial runs only, and one that no run of this sweep can use is refused.
    /// </summary>
    static (List<string> Common, List<string> MmdOnly, List<string> DiscOnly) SharedFlags(TrainOptions t, ParseResult r,
        List<SweepPoint> points)
    {
        var common = new List<string>(); var mmd = new List<string>(); var disc = new List<string>();
        Option[] mmdFlags = [t.Kernel, t.Scales, t.Bandwidth, t.Estimator], discFlags = [t.DiscHidden, t.DiscLr];
        foreach (var opt in Passed(t))
        {
            if (opt == t.Threads || r.GetResult(opt) is not OptionResult { Implicit: false } given) continue;
            var list = mmdFlags.Contains(opt) ? mmd : discFlags.Contains(opt) ? disc : common;
            if (list == mmd && points.All(p => p.Divergence != Divergence.Mmd))
                throw new UserError($"{opt.Name} is a setting of the MMD, but every run of this sweep is adversarial; "
                    + $"drop {opt.Name}");
            if (list == disc && points.All(p => p.Divergence != Divergence.Adversarial))
                throw new UserError($"{opt.Name} is a setting of the adversarial divergence's discriminator, but no "
                    + $"run of this sweep is adversarial; add --divergence mmd,adversarial, or drop {opt.Name}");
            list.Add(opt.Name);
            list.AddRange(given.Tokens.Select(k => k.Value));
        }
        return (common, mmd, disc);
    }

    static Checkpoint.Position Position(string checkpoint)
    {
        const string again = "delete the run's folder to train it again";
        var meta = SafeTensors.Read(checkpoint, $"restore it from a backup, or {again}").Metadata;
        long Read(string key) =>
            meta.TryGetValue(key, out var v)
            && long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                ? n
                : throw new UserError($"{checkpoint}: metadata '{key}' is missing or not a count; {again}");
        return new Checkpoint.Position(Read("step"), (int)Read("epoch"), (int)Read("next_batch"));
    }

    static T[] List<T>(string text, string flag, Func<string, IFormatProvider, T> parse)
    {
        try
        {
            var items = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(s => parse(s, CultureInfo.InvariantCulture)).ToArray();
            return items.Length > 0 ? items
                : throw new UserError($"{flag} is empty; give one value or more, comma-separated");
        }
        catch (FormatException) { throw new UserError($"{flag} '{text}' is not a comma-separated list of numbers"); }
        catch (OverflowException) { throw new UserError($"{flag} '{text}' has a number out of range"); }
    }

    static string Quote(string s) =>
        s.Length > 0 && s.All(c => char.IsLetterOrDigit(c) || "-_.,/=:+".Contains(c)) ? s : $"'{s}'";
}
