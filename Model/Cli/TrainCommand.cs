using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using InfoVae.Engine;
using InfoVae.Kernels.Cpu;
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
    internal static TrainConfig FreshConfig(TrainOptions o, ParseResult r)
    {
        var config = o.ToConfig(r);
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
        var saved = run.ReadConfig();
        var config = ResumeCheck.AgreesWithFlags(saved, o, r);
        config.Validate();
        var data = RunData.ForResume(config, r.GetValue(o.Data), run.Path);
        if (data.Train.PixelsPerImage != config.InputSize)
            throw new UserError($"the data in {data.Folder} are {data.Train.Rows}×{data.Train.Cols} images but the run "
                + $"in {run.Path} was trained on {config.InputSize} pixels per image; resume with the --data it was "
                + "trained on");
        config.CheckImageShape(data.Train.Rows, data.Train.Cols, data.Folder);
        // A run made before runs recorded their data records them now.
        config = config with { Data = config.Data ?? data.Fingerprint };
        data = data.LimitTrain(config.Limit ?? 0);
        config.CheckImageCounts(data.Train.Count, data.Test.Count);
        return (saved, config, data);
    }

    static int Run(TrainOptions o, ParseResult r)
    {
        Workers.MaxThreads = r.GetValue(o.Threads) >= 1 ? r.GetValue(o.Threads) : throw new UserError($"--threads must be at least 1, not {r.GetValue(o.Threads)}");
        if (r.GetValue(o.CheckpointEvery) < 0) throw new UserError($"--checkpoint-every must be ≥ 0 (0 = at the end of each epoch only), not {r.GetValue(o.CheckpointEvery)}");
        if (r.GetValue(o.LogEvery) < 0) throw new UserError($"--log-every must be ≥ 0 (0 = no step lines), not {r.GetValue(o.LogEvery)}");
        var device = DeviceOption.Select(r.GetValue(o.Device)!);
        var backend = device.Backend;
        string? resume = r.GetValue(o.Resume);
        RunFolder run;
        TrainConfig config, saved = null!;
        DataSet data;
        // Everything that can be refused is checked before the run folder is created or anything in it is written.
        if (resume != null)
        {
            run = RunFolder.Open(resume);
            (saved, config, data) = Resumed(run, o, r);
        }
        else
        {
            config = FreshConfig(o, r);
            (config, data) = FitData(config, DataSet.Load(r.GetValue(o.Data) ?? DataSet.DefaultFolder));
            run = RunFolder.Create(r.GetValue(o.Out));
        }

        var trainer = new Trainer(config, data.Train, backend);
        if (resume != null)
        {
            var was = Checkpoint.Load(run.CheckpointPath, trainer);
            // --epochs extends the run, an older config gains its data: config.json says so, for later commands.
            if (RunJson.Write(config) != RunJson.Write(saved)) run.WriteConfig(config);
            var now = Checkpoint.ComputedOn.This(backend);
            if (was is { } w && w != now)
                Console.Error.WriteLine($"infovae: note: the checkpoint was computed on {w} and this continues on "
                    + $"{now}, so the rest of the run will not be bit-identical to one that never stopped "
                    + "(the rounding differs; see the README)");
        }
        else
        {
            trainer.InitializeWeights();
            run.WriteConfig(config);
        }

        AnsiConsole.MarkupLineInterpolated($"[bold]InfoVAE[/] on {data.Folder}: {data.Train.Count:N0} train / {data.Test.Count:N0} test images of {data.Train.Rows}×{data.Train.Cols}, {Workers.MaxThreads} thread(s)");
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
        AnsiConsole.MarkupLineInterpolated($"  {config.Describe()}, {trainer.Net.Params.Count:N0} parameters, Adam lr {config.LearningRate:G3}, batch {config.Batch}, {config.Epochs} epochs, seed {config.Seed}");
        AnsiConsole.MarkupLineInterpolated($"  run folder: {run.Path}{(resume != null ? $" (resuming at epoch {trainer.Epoch + 1}, step {trainer.Step})" : "")}");

        using var stop = new StopSignal();
        if (r.GetValue(o.StopWhenStdinCloses)) stop.RequestWhenStdinCloses();
        var tape = Tape<float>.Current;
        bool anomaly = r.GetValue(o.DetectAnomaly);
        if (anomaly) AnsiConsole.MarkupLine("  [yellow]anomaly detection on: every op is checked for NaN and ∞ (slow)[/]");
        tape.DetectAnomaly = anomaly;
        try
        {
            var loop = new TrainLoop(trainer, data, run, stop);
            return loop.Run();
        }
        finally { tape.DetectAnomaly = false; }
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
        }) { IsBackground = true, Name = "stdin watch" };
        reader.Start();
    }

    public void Dispose()
    {
        if (OperatingSystem.IsWindows()) Console.CancelKeyPress -= OnCancel;
        interrupt?.Dispose(); terminate?.Dispose();
    }
}
