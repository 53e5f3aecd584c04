using System.CommandLine;
using System.CommandLine.Parsing;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Distributed;
using InfoVae.Kernels.Cpu;
using InfoVae.Model.Distributed;
using Spectre.Console;

namespace InfoVae.Model.Cli;

/// <summary>`infovae train`: trains with a progress bar, logs, evaluates every epoch, checkpoints and draws.</summary>
public static class TrainCommand
{
    public static Command Build()
    {
        var (cmd, o) = Create();
        cmd.SetAction(r => Run(o, r));
        return cmd;
    }

    static (Command, TrainOptions) Create()
    {
        var o = new TrainOptions();
        var cmd = new Command("train", "Train an InfoVAE (defaults: Fashion-MNIST, MLP 784-512-256-32 or --arch conv, "
            + "α = 0, λ = 1000, IMQ MMD, 10 epochs)");
        foreach (var opt in o.All) cmd.Options.Add(opt);
        return (cmd, o);
    }

    /// <summary>
    /// A `train` command line (without the word train) parsed as train parses it, for the sweep to check its runs'
    /// flags.
    /// </summary>
    internal static (TrainOptions Options, ParseResult Result) Parse(IReadOnlyList<string> args)
    {
        var (cmd, o) = Create();
        var r = cmd.Parse(args);
        if (r.Errors.Count > 0)
            throw new UserError(string.Join(" ", r.Errors.Select(e => e.Message.TrimEnd('.') + "."))
                + " Run 'infovae train --help' for the options.");
        return (o, r);
    }

    /// <summary>A fresh run's config from its flags, checked before any data is loaded (a bad flag is cheap).</summary>
    internal static TrainConfig FreshConfig(TrainOptions o, ParseResult r, bool onCpu = true)
    {
        var config = o.ToConfig(r, onCpu);
        o.CheckArchFlags(r, config);
        o.CheckDivergenceFlags(r, config.Divergence);
        config.Validate();
        return config;
    }

    /// <summary>
    /// A fresh run's config fitted to its data (all of it, as loaded: the input size and fingerprint come from the
    /// images) and checked against it; returns it with the training images the run will use (--limit).
    /// </summary>
    internal static (TrainConfig Config, DataSet Data) FitData(TrainConfig config, DataSet data)
    {
        config.CheckImageShape(data.Train.Rows, data.Train.Cols, data.Folder);
        config = config with { InputSize = data.Train.PixelsPerImage, Data = data.Fingerprint };
        data = data.LimitTrain(config.Limit ?? 0);
        config.Validate();
        config.CheckImageCounts(data.Train.Count, data.Test.Count);
        return (config, data);
    }

    /// <summary>
    /// A run being resumed: its saved config, the config to continue with (checked against the flags given again)
    /// and the run's own data, found and checked by its fingerprint, with the training images it uses.
    /// </summary>
    internal static (TrainConfig Saved, TrainConfig Config, DataSet Data) Resumed(RunFolder run, TrainOptions o,
        ParseResult r)
    {
        var (saved, config) = ResumedConfig(run, o, r);
        (config, var data) = ResumedData(config, o, r, run.Path);
        return (saved, config, data);
    }

    /// <summary>A resumed run's saved config and the config to continue with, checked against the flags.</summary>
    static (TrainConfig Saved, TrainConfig Config) ResumedConfig(RunFolder run, TrainOptions o, ParseResult r)
    {
        var saved = run.ReadConfig();
        var config = ResumeCheck.AgreesWithFlags(saved, o, r);
        config.Validate();
        return (saved, config);
    }

    /// <summary>
    /// A resumed run's own data, found and checked by its fingerprint, with the training images it uses. Several
    /// ranks: each reads its own copy (the run folder <paramref name="runPath"/> may be rank 0's alone).
    /// </summary>
    static (TrainConfig Config, DataSet Data) ResumedData(TrainConfig config, TrainOptions o, ParseResult r,
        string runPath)
    {
        var data = RunData.ForResume(config, r.GetValue(o.Data), runPath);
        if (data.Train.PixelsPerImage != config.InputSize)
            throw new UserError($"the data in {data.Folder} are {data.Train.Rows}×{data.Train.Cols} images but the run "
                + $"in {runPath} was trained on {config.InputSize} pixels per image; resume with the --data it was "
                + "trained on");
        config.CheckImageShape(data.Train.Rows, data.Train.Cols, data.Folder);
        // A run made before runs recorded their data records them now.
        config = config with { Data = config.Data ?? data.Fingerprint };
        data = data.LimitTrain(config.Limit ?? 0);
        config.CheckImageCounts(data.Train.Count, data.Test.Count);
        return (config, data);
    }

    static int Run(TrainOptions o, ParseResult r) =>
        Launch.IsParallel() ? ParallelTrain.Run(o, r) : Train(o, r, SingleProcess.Instance, null);

    /// <summary>
    /// The whole command on one rank. With several ranks (<paramref name="mpi"/> given), each step of the setup that
    /// can be refused runs on every rank and is agreed (<see cref="Agreement"/>), only rank 0 touches the run folder,
    /// and rank 0's state is shared before the first step; one process runs the same code with every collective
    /// the identity.
    /// </summary>
    internal static int Train(TrainOptions o, ParseResult r, ICommunicator comm, MpiCommunicator? mpi)
    {
        bool writer = comm.Rank == 0, parallel = comm.Size > 1;
        bool Given(Option opt) => r.GetResult(opt) is OptionResult { Implicit: false };
        string Tokens(Option opt) => string.Join(" ", r.GetResult(opt)!.Tokens.Select(t => t.Value));
        // Every flag but --threads (each rank's own) and --data (a path on each node; its contents are compared below).
        if (parallel)
            comm.Same(o.All.Where(opt => opt != o.Threads && opt != o.Data)
                .Select(opt => (opt.Name, Given(opt) ? Tokens(opt) is { Length: > 0 } v ? v : "given" : "not given"))
                .ToList(),
                "start every rank with the same flags (one mpirun command line)");
        int threads = mpi != null && !Given(o.Threads) ? mpi.DefaultThreads : r.GetValue(o.Threads);
        Workers.MaxThreads = threads >= 1 ? threads
            : throw new UserError($"--threads must be at least 1, not {threads}");
        if (r.GetValue(o.CheckpointEvery) < 0)
            throw new UserError($"--checkpoint-every must be ≥ 0 (0 = at the end of each epoch only), not "
                + $"{r.GetValue(o.CheckpointEvery)}");
        if (r.GetValue(o.LogEvery) < 0)
            throw new UserError($"--log-every must be ≥ 0 (0 = no step lines), not {r.GetValue(o.LogEvery)}");
        var device = comm.Agree(() => DeviceOption.Select(r.GetValue(o.Device)!));
        var backend = device.Backend;
        string? resume = r.GetValue(o.Resume);
        RunFolder run = null!;
        TrainConfig config, saved = null!;
        DataSet data = null!;
        // Everything that can be refused is checked before the run folder is created or anything in it is written.
        // Several ranks: rank 0 alone reads the run folder (the others may not see it) and shares the config; every
        // rank reads its own copy of the data (on resume held to the run's SHA-256, like one process's).
        if (resume != null)
        {
            config = comm.Agree(() =>
            {
                if (!writer) return null!;
                run = RunFolder.Open(resume);
                (saved, var c) = ResumedConfig(run, o, r);
                return c;
            });
            if (parallel) config = RunJson.ReadConfig(comm.ShareText(writer ? RunJson.Write(config) : ""));
            config = comm.Agree(() =>
            {
                (var c, data) = ResumedData(config, o, r, writer ? run.Path : resume);
                c = c with { WorldSize = comm.Size };   // the ranks training from here on
                CheckSplit(c, data.Train.Count, comm.Size, resuming: true);
                return c;
            });
        }
        else
        {
            config = comm.Agree(() =>
            {
                var c = FreshConfig(o, r, backend is CpuBackend<float>) with { WorldSize = comm.Size };
                (c, data) = FitData(c, DataSet.Load(r.GetValue(o.Data) ?? DataSet.DefaultFolder));
                CheckSplit(c, data.Train.Count, comm.Size, resuming: false);
                return c;
            });
        }
        if (parallel)
            comm.Same([("training data", Agreement.Describe(data.Train)), ("test data", Agreement.Describe(data.Test))],
                "give every rank the same data set (the same --data files and --limit)");
        if (resume == null) comm.Agree(() => { if (writer) run = RunFolder.Create(r.GetValue(o.Out)); });
        if (!writer) run = RunFolder.Elsewhere(comm.ShareText(""));
        else if (parallel) comm.ShareText(run.Path);

        // The ranks' data agree (above): rank 0's config, with its data's folder, is every rank's.
        if (parallel) config = RunJson.ReadConfig(comm.ShareText(writer ? RunJson.Write(config) : ""));

        var trainer = new Trainer(config, data.Train, backend, comm);
        Checkpoint.ComputedOn? was = null;
        if (resume != null) comm.Agree(() => { if (writer) was = Checkpoint.Load(run.CheckpointPath, trainer); });
        else trainer.InitializeWeights();
        ReplicaState.Share(trainer, comm, fresh: resume == null);
        if (writer && resume == null) run.WriteConfig(config);
        else if (writer)
        {
            // --epochs extends the run, an older config gains its data, other ranks train it: config.json says so.
            if (RunJson.Write(config) != RunJson.Write(saved)) run.WriteConfig(config);
            var now = Checkpoint.ComputedOn.This(backend);
            if (was is { } w && w != now)
                Console.Error.WriteLine($"infovae: note: the checkpoint was computed on {w} and this continues on "
                    + $"{now}, so the rest of the run will not be bit-identical to one that never stopped "
                    + "(the rounding differs; see the README)");
            if (saved.WorldSize != comm.Size)
                Console.Error.WriteLine($"infovae: note: the run was trained on {saved.WorldSize} rank(s) and this "
                    + $"continues on {comm.Size}, so the rest of the run will not be bit-identical to one that never "
                    + "stopped (the gradients are summed in another order; see the README)");
        }

        string ranks = parallel ? $", {comm.Size} ranks × {config.Batch / comm.Size} rows of each batch" : "";
        int replicas = trainer.LocalReplicaCount, threadCount = Workers.MaxThreads;
        if (replicas > 1)
            ranks = $", {replicas} replicas × {config.Batch / replicas} rows of each batch, "
                + (LocalReplicas.SideBySide(replicas, threadCount) ? "side by side" : "by turns");
        string threadsShown = $"{threadCount} thread(s){(parallel ? " per rank" : "")}{ranks}";
        string images = $"{data.Train.Count:N0} train / {data.Test.Count:N0} test images of "
            + $"{data.Train.Rows}×{data.Train.Cols}";
        AnsiConsole.MarkupLineInterpolated($"[bold]InfoVAE[/] on {data.Folder}: {images}, {threadsShown}");
        if (device.Description.Fallback != null) AnsiConsole.MarkupLineInterpolated($"  [yellow]{device.Line}[/]");
        else AnsiConsole.MarkupLineInterpolated($"  {device.Line}");
        string divergence = config.Divergence == Divergence.Adversarial
            ? $"{config.AdversarialWeight:G4}·adversarial  "
              + $"(discriminator {config.Latent}-{string.Join("-", config.DiscHidden)}-1, "
              + $"{trainer.Net.Disc!.Params.Count:N0} parameters, "
              + $"Adam lr {config.DiscLearningRate:G3})"
            : $"{config.MmdWeight:G4}·MMD²  ({config.Kernel.ToString().ToLowerInvariant()}, "
              + $"{(config.UnbiasedMmd ? "unbiased" : "biased")}, scales {string.Join(",", config.Scales)})";
        AnsiConsole.WriteLine($"  α = {config.Alpha:G4}, λ = {config.Lambda:G4}, β = {config.Beta:G4}  →  "
            + $"loss = {config.Beta:G4}·recon + {config.KlWeight:G4}·KL + {divergence}");
        AnsiConsole.WriteLine(
            $"  {config.Describe()}, {trainer.Net.Params.Count:N0} parameters, Adam lr {config.LearningRate:G3}, "
            + $"batch {config.Batch}, {config.Epochs} epochs, seed {config.Seed}");
        string resuming = resume != null ? $" (resuming at epoch {trainer.Epoch + 1}, step {trainer.Step})" : "";
        AnsiConsole.MarkupLineInterpolated($"  run folder: {run.Path}{resuming}");

        using var stop = new StopSignal();
        if (writer && r.GetValue(o.StopWhenStdinCloses)) stop.RequestWhenStdinCloses();
        var tape = Tape<float>.Current;
        bool anomaly = r.GetValue(o.DetectAnomaly);
        if (anomaly)
            AnsiConsole.MarkupLine("  [yellow]anomaly detection on: every op is checked for NaN and ∞ (slow)[/]");
        tape.DetectAnomaly = anomaly;
        try
        {
            var loop = new TrainLoop(trainer, data, run, stop);
            return loop.Run();
        }
        finally { tape.DetectAnomaly = false; }
    }

    /// <summary>
    /// Several ranks: each takes B/N rows of every batch, so N must divide --batch, and an epoch's smaller last batch
    /// must leave each rank at least one row. The adversarial divergence trains on one process only: its
    /// discriminator's gradients, Adam state and batch are not shared out over ranks.
    /// </summary>
    internal static void CheckSplit(TrainConfig c, int images, int ranks, bool resuming)
    {
        if (ranks == 1) return;
        if (c.Replicas > 1)
            throw new UserError(resuming
                ? $"the run trains with --replicas {c.Replicas} in one process; resume it without mpirun"
                : $"--replicas {c.Replicas} under mpirun: each rank trains its rows as one replica; use --replicas 1");
        if (c.Divergence == Divergence.Adversarial)
            throw new UserError($"--divergence adversarial does not train on several ranks yet (its discriminator is "
                + $"not shared between them); {(resuming ? "resume" : "train")} this run as one process, "
                + "without mpirun");
        if (c.Batch % ranks != 0)
        {
            int near = Math.Max(ranks, (int)Math.Round((double)c.Batch / ranks) * ranks);
            throw new UserError(resuming
                ? $"the run's batch of {c.Batch} does not split evenly over {ranks} ranks; "
                    + $"resume it with a number of ranks that divides {c.Batch}"
                : $"--batch {c.Batch} does not split evenly over {ranks} ranks; use a multiple of {ranks} such as "
                    + $"--batch {near}, or a number of ranks that divides {c.Batch}");
        }
        int last = images % c.Batch;
        if (images < c.Batch) last = images;
        if (last != 0 && last < ranks)
            throw new UserError($"the last batch of each epoch holds {last} image(s) ({images} training images in "
                + $"batches of {c.Batch}), fewer than the {ranks} ranks; use a --limit that leaves at least {ranks} "
                + "over (or none), or fewer ranks");
    }
}

/// <summary>
/// Ctrl+C (SIGINT) or SIGTERM (a job scheduler's stop) asks the loop to stop after the current step; the loop then
/// saves a checkpoint and exits with 128 + the signal's number. A second signal of the same kind is not caught:
/// the process ends at once, as it would without this handler.
/// </summary>
public sealed class StopSignal : IDisposable
{
    volatile int signal;
    readonly PosixSignalRegistration? interrupt, terminate;

    public bool Requested => signal != 0;
    /// <summary>The exit code for the signal that stopped the run: 130 for SIGINT, 143 for SIGTERM.</summary>
    public int ExitCode => 128 + (signal == 0 ? 2 : signal);

    public StopSignal()
    {
        if (OperatingSystem.IsWindows()) { Console.CancelKeyPress += OnCancel; return; }
        interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => Handle(c, 2));
        terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => Handle(c, 15));
    }

    void Handle(PosixSignalContext c, int number)
    {
        c.Cancel = signal == 0;
        if (signal == 0) signal = number;
    }

    void OnCancel(object? s, ConsoleCancelEventArgs e) { e.Cancel = signal == 0; if (signal == 0) signal = 2; }
    public void Request() => signal = 2;

    /// <summary>
    /// Tests: the stream <see cref="RequestWhenStdinCloses"/> watches instead of standard input (a test host's own
    /// stdin may be closed from the start).
    /// </summary>
    [ThreadStatic] internal static Func<Stream>? OpenStdin;

    /// <summary>
    /// Stops the run as Ctrl+C would once standard input reaches its end: `infovae sweep` holds its trainings' stdin
    /// open and closes it to stop them (or it closes when the sweep dies), which, unlike a signal, they cannot
    /// receive twice.
    /// </summary>
    public void RequestWhenStdinCloses()
    {
        var open = OpenStdin ?? Console.OpenStandardInput;
        var reader = new Thread(() =>
        {
            try
            {
                using var stdin = open();
                var buffer = new byte[256];
                while (stdin.Read(buffer) > 0) { }
            }
            catch (IOException) { }
            if (signal == 0) signal = 2;
        })
        { IsBackground = true, Name = "stdin watch" };
        reader.Start();
    }

    public void Dispose()
    {
        if (OperatingSystem.IsWindows()) Console.CancelKeyPress -= OnCancel;
        interrupt?.Dispose(); terminate?.Dispose();
    }
}
