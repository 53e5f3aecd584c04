using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using InfoVae.Engine;
using InfoVae.Kernels.Cpu;
using Spectre.Console;

namespace InfoVae.Model.Cli;

/// <summary>`infovae train`: trains with a progress bar, logs, evaluates every epoch, checkpoints and draws.</summary>
public static class TrainCommand
{
    public static Command Build()
    {
        var o = new TrainOptions();
        var cmd = new Command("train", "Train an InfoVAE (defaults: Fashion-MNIST, MLP 784-512-256-32, α = 0, λ = 1000, IMQ MMD, 10 epochs)");
        foreach (var opt in o.All) cmd.Options.Add(opt);
        cmd.SetAction(r => Run(o, r));
        return cmd;
    }

    static int Run(TrainOptions o, ParseResult r)
    {
        Workers.MaxThreads = r.GetValue(o.Threads) >= 1 ? r.GetValue(o.Threads) : throw new UserError("--threads must be at least 1");
        var backend = DeviceOption.Select(r.GetValue(o.Device)!);
        string? resume = r.GetValue(o.Resume);
        RunFolder run;
        TrainConfig config;
        DataSet data;
        if (resume != null)
        {
            run = RunFolder.Open(resume);
            config = run.ReadConfig();
            config = ResumeCheck.AgreesWithFlags(config, o, r);
            config.Validate();
            data = DataSet.Load(r.GetValue(o.Data)!).LimitTrain(r.GetValue(o.Limit));
            if (data.Train.PixelsPerImage != config.InputSize)
                throw new UserError($"the data has {data.Train.Rows}×{data.Train.Cols} images but the run in {resume} was trained on {config.InputSize} pixels");
        }
        else
        {
            config = o.ToConfig(r);
            config.Validate();   // before loading anything: a bad flag costs nothing
            data = DataSet.Load(r.GetValue(o.Data)!).LimitTrain(r.GetValue(o.Limit));
            config = config with { InputSize = data.Train.PixelsPerImage };
            config.Validate();
            run = RunFolder.Create(r.GetValue(o.Out));
            run.WriteConfig(config);
        }

        var trainer = new Trainer(config, data.Train, backend);
        if (resume != null) Checkpoint.Load(run.CheckpointPath, trainer);
        else trainer.Net.Params.Initialize(config.Seed);

        AnsiConsole.MarkupLineInterpolated($"[bold]InfoVAE[/] on {data.Folder}: {data.Train.Count:N0} train / {data.Test.Count:N0} test images of {data.Train.Rows}×{data.Train.Cols}, device {backend.Name}, {Workers.MaxThreads} thread(s)");
        AnsiConsole.MarkupLineInterpolated($"  α = {config.Alpha:G4}, λ = {config.Lambda:G4}, β = {config.Beta:G4}  →  loss = {config.Beta:G4}·recon + {config.KlWeight:G4}·KL + {config.MmdWeight:G4}·MMD²  ({config.Kernel.ToString().ToLowerInvariant()}, {(config.UnbiasedMmd ? "unbiased" : "biased")}, scales {string.Join(",", config.Scales)})");
        AnsiConsole.MarkupLineInterpolated($"  MLP {config.InputSize}-{string.Join("-", config.Hidden)}-{config.Latent}, {trainer.Net.Params.Count:N0} parameters, Adam lr {config.LearningRate:G3}, batch {config.Batch}, {config.Epochs} epochs, seed {config.Seed}");
        AnsiConsole.MarkupLineInterpolated($"  run folder: {run.Path}{(resume != null ? $" (resuming at epoch {trainer.Epoch + 1}, step {trainer.Step})" : "")}");

        using var stop = new StopSignal();
        var loop = new TrainLoop(trainer, data, run, r.GetValue(o.LogEvery), r.GetValue(o.CheckpointEvery), !r.GetValue(o.NoPictures), stop);
        return loop.Run();
    }
}

/// <summary>Ctrl+C asks the loop to stop after the current step; the loop then saves a checkpoint and exits.</summary>
public sealed class StopSignal : IDisposable
{
    volatile bool requested;
    public bool Requested => requested;
    public StopSignal() => Console.CancelKeyPress += OnCancel;
    void OnCancel(object? s, ConsoleCancelEventArgs e) { e.Cancel = !requested; requested = true; }
    public void Request() => requested = true;
    public void Dispose() => Console.CancelKeyPress -= OnCancel;
}
