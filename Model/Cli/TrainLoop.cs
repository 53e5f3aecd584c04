using System.Diagnostics;
using InfoVae.Engine;
using InfoVae.Model.Distributed;
using Spectre.Console;

namespace InfoVae.Model.Cli;

/// <summary>
/// The interactive part of training: progress bar, run.jsonl, per-epoch evaluation, checkpoints, pictures. With
/// several ranks every rank runs the loop (the steps are collective) and rank 0 alone evaluates and writes.
/// </summary>
public sealed class TrainLoop(Trainer t, DataSet data, RunFolder run, StopSignal stop)
{
    /// <summary>
    /// Tests simulate a kill -9 between two steps: called after each step and all it writes (log line, checkpoint,
    /// the epoch's evaluation and pictures), on this thread;
    /// whatever it throws ends the run with nothing more written.
    /// </summary>
    [ThreadStatic] internal static Action<long>? AfterStep;

    public int Run()
    {
        var cfg = t.Config;
        int logEvery = cfg.LogEvery ?? 0, checkpointEvery = cfg.CheckpointEvery ?? 0;
        bool pictures = cfg.Pictures;
        int bpe = t.BatchesPerEpoch, totalSteps = bpe * cfg.Epochs;
        int exit = 0;
        // Running means since the last log line (s) and over the epoch (e).
        double sTotal = 0, sRecon = 0, sKl = 0, sMmd = 0, sAdv = 0, sDisc = 0; int sN = 0;
        double eTotal = 0, eRecon = 0, eKl = 0, eMmd = 0, eAdv = 0, eDisc = 0; int eN = 0;
        bool adversarial = cfg.Divergence == Divergence.Adversarial;
        double? IfAdversarial(double v) => adversarial ? v : null;     // run.jsonl leaves the keys out of MMD runs
        var clock = Stopwatch.StartNew();
        long imagesSince = 0;
        double rate = 0;
        var ranks = t.Replicas;
        bool writer = ranks.Rank == 0;
        // A resumed run starts from its checkpoint (rank 0's: the other ranks may not see its folder).
        long? savedStep = writer ? File.Exists(run.CheckpointPath) ? t.Step : null : t.Step > 0 ? t.Step : null;
        if (writer && savedStep is long resumedAt) run.TrimLogAfter(resumedAt);

        // Names the step that failed and the checkpoint to go back to (the weights before the bad step are not saved:
        // they may already be what made it fail).
        UserError Stopped(string what, string more = "", string? when = null, bool everyRank = false)
        {
            string last = savedStep is long at ? $"{run.CheckpointPath} (step {at})"
                : "none (no checkpoint was written yet)";
            when ??= $"at step {t.Step + 1} (epoch {t.Epoch + 1})";
            // Several ranks meet a non-finite loss together (it is the whole batch's): rank 0 says it.
            return new UserError(
                    $"training stopped {when}: {what}; last good checkpoint: {last}. Try a lower --lr{more}.")
            { PrintedBy = everyRank && ranks.Size > 1 ? 0 : null };
        }

        RankLostException Lost(RankLostException e)
        {
            string last = savedStep is long at ? $"{run.CheckpointPath} (step {at}) is whole" : "none was written yet";
            return new RankLostException($"training stopped at step {t.Step + 1} (epoch {t.Epoch + 1}): {e.Message}; "
                + $"the last checkpoint: {last}. "
                + $"Continue with any number of ranks: infovae train --resume {run.Path}", e.Lost, e.Printer);
        }

        const string Anomaly = "; run it again with --detect-anomaly to find the op that made it";

        void Save()
        {
            if (!writer) { savedStep = t.Step; return; }
            try { Checkpoint.Save(run.CheckpointPath, t); savedStep = t.Step; }
            catch (UserError e)
            {
                throw new UserError($"{e.Message} Training stopped at step {t.Step}; once there is room, continue "
                    + $"from the previous checkpoint with: infovae train --resume {run.Path}");
            }
        }

        void Body(IProgressView task)
        {
            while (!t.Finished)
            {
                if (ranks.Size == 1 ? stop.Requested : t.StopAgreed)
                {
                    Save();
                    string stopped = $"stopped at step {t.Step}; checkpoint saved. Continue with: "
                        + $"infovae train --resume {run.Path}";
                    AnsiConsole.MarkupLineInterpolated($"[yellow]{stopped}[/]");
                    exit = stop.ExitCode;
                    return;
                }
                int b = Math.Min(cfg.Batch, t.Train.Count - t.NextBatch * cfg.Batch);
                StepMetrics m;
                try { m = t.TrainStep(); }
                catch (NonFiniteException e)
                {
                    throw Stopped(e.Message, e.Parameter != null ? Anomaly : "", everyRank: e.Parameter != null);
                }
                catch (RankLostException e) { throw Lost(e); }
                if (!m.IsFinite)
                    throw Stopped($"the {m.FirstNonFinite()} loss term is not finite ({m.Describe()})", Anomaly,
                        everyRank: true);
                sTotal += m.Total; sRecon += m.Recon; sKl += m.Kl; sMmd += m.Mmd; sN++;
                sAdv += m.Adversarial; sDisc += m.Discriminator;
                eTotal += m.Total * b; eRecon += m.Recon * b; eKl += m.Kl * b; eMmd += m.Mmd * b; eN += b;
                eAdv += m.Adversarial * b; eDisc += m.Discriminator * b;
                imagesSince += b;
                if (clock.Elapsed.TotalSeconds >= 0.5)
                {
                    rate = imagesSince / clock.Elapsed.TotalSeconds;
                    imagesSince = 0;
                    clock.Restart();
                }
                int epochShown = t.NextBatch == 0 ? t.Epoch : t.Epoch + 1;
                string divergence = adversarial
                    ? $"adv {m.Adversarial,6:F3}  disc {m.Discriminator,6:F3}"
                    : $"mmd {m.Mmd,9:F6}";
                task.Advance($"epoch {epochShown}/{cfg.Epochs}  loss {m.Total,7:F2}  recon {m.Recon,7:F2}  "
                    + $"kl {m.Kl,6:F2}  {divergence}  {rate,7:N0} img/s");

                if (writer && logEvery > 0 && t.Step % logEvery == 0)
                {
                    run.Log(new
                    {
                        kind = "step", step = t.Step, epoch = epochShown, loss = sTotal / sN,
                        recon = sRecon / sN, kl = sKl / sN, mmd = sMmd / sN,
                        adversarial = IfAdversarial(sAdv / sN), discriminator = IfAdversarial(sDisc / sN),
                        images_per_s = Math.Round(rate)
                    });
                    sTotal = sRecon = sKl = sMmd = sAdv = sDisc = 0; sN = 0;
                }
                if (checkpointEvery > 0 && t.Step % checkpointEvery == 0) Save();
                if (t.NextBatch == 0)
                {
                    ReplicaState.Verify(t, ranks);
                    if (!writer)
                    {
                        eTotal = eRecon = eKl = eMmd = 0; eN = 0;
                        Save();
                        AfterStep?.Invoke(t.Step);
                        continue;
                    }
                    StepMetrics test;
                    try { test = t.Evaluate(data.Test); }
                    catch (NonFiniteException e)
                    {
                        throw Stopped(e.Message,
                        when: $"after step {t.Step} (end of epoch {t.Epoch}), evaluating the test set");
                    }
                    run.Log(new
                    {
                        kind = "epoch", epoch = t.Epoch, step = t.Step, train_loss = eTotal / eN,
                        train_recon = eRecon / eN, train_kl = eKl / eN, train_mmd = eMmd / eN,
                        train_adversarial = IfAdversarial(eAdv / eN),
                        train_discriminator = IfAdversarial(eDisc / eN),
                        test_loss = test.Total, test_recon = test.Recon, test_kl = test.Kl, test_mmd = test.Mmd,
                        test_adversarial = IfAdversarial(test.Adversarial),
                        test_discriminator = IfAdversarial(test.Discriminator)
                    });
                    string testDivergence = adversarial
                        ? $"adversarial {test.Adversarial:F4} (×{cfg.AdversarialWeight:G4}); "
                          + $"discriminator {test.Discriminator:F4}, mmd {test.Mmd:F6}"
                        : $"mmd {test.Mmd:F6} (×{cfg.MmdWeight:G4})";
                    AnsiConsole.WriteLine($"epoch {t.Epoch,3}: train {eTotal / eN,8:F3}   test {test.Total,8:F3} = "
                        + $"recon {test.Recon:F3} + kl {test.Kl:F3} (×{cfg.KlWeight:G3}) + {testDivergence}");
                    eTotal = eRecon = eKl = eMmd = eAdv = eDisc = 0; eN = 0;
                    Save();
                    if (pictures)
                    {
                        try { RunPictures.DrawAll(t, data, run); }
                        catch (NonFiniteException e)
                        {
                            throw Stopped(e.Message,
                            when: $"after step {t.Step} (end of epoch {t.Epoch}), drawing the pictures");
                        }
                    }
                }
                AfterStep?.Invoke(t.Step);
            }
            task.Advance($"done: {cfg.Epochs} epochs, {t.Step} steps", 0);
        }

        int done = t.Epoch * bpe + t.NextBatch;
        if (AnsiConsole.Profile.Capabilities.Interactive)
            AnsiConsole.Progress()
                .AutoClear(false).HideCompleted(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(),
                    new PercentageColumn(), new RemainingTimeColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("starting", maxValue: totalSteps);
                    task.Value = done;
                    Body(new LiveProgress(task));
                });
        else Body(new LineProgress(done, totalSteps, logEvery > 0 ? logEvery : bpe));   // a line per log interval/epoch
        if (exit == 0 && writer)
        {
            string files = "run.jsonl, checkpoint.safetensors"
                + (pictures
                    ? ", samples.png, reconstructions.png, interpolations.png, traversal.png, latent.png, loss.png"
                    : "");
            AnsiConsole.MarkupLineInterpolated($"[green]finished.[/] Run folder: {run.Path} ({files})");
            AnsiConsole.MarkupLineInterpolated($"Evaluate it with: infovae eval --run {run.Path}");
        }
        return exit;
    }
}

/// <summary>
/// Where the loop reports each step: a live bar in a terminal, plain lines when output goes to a file or CI.
/// </summary>
interface IProgressView
{
    void Advance(string description, int steps = 1);
}

sealed class LiveProgress(ProgressTask task) : IProgressView
{
    public void Advance(string description, int steps = 1) { task.Increment(steps); task.Description = description; }
}

sealed class LineProgress(int first, int total, int every) : IProgressView
{
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly int start = first;
    int done = first;

    public void Advance(string description, int steps = 1)
    {
        done += steps;
        if (steps != 0 && done % every != 0 && done != total) return;
        double perStep = clock.Elapsed.TotalSeconds / Math.Max(1, done - start);
        var eta = TimeSpan.FromSeconds(perStep * (total - done));
        Console.WriteLine($"[{done}/{total} {100.0 * done / total:F0}% eta {eta.ToString(@"hh\:mm\:ss")}] "
            + $"{description}");
    }
}
