using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using InfoVae.Model.IO;
using InfoVae.Model.Sweep;
using InfoVae.Tests.Support;
using SkiaSharp;
using static InfoVae.Tests.Support.IdxFiles;

namespace InfoVae.Tests.Model;

/// <summary>
/// `infovae sweep` on generated data with a tiny model: a 2 × 2 grid writes sweep.md, sweep.jsonl, pareto.png and
/// grid.png; run again it trains and evaluates nothing; stopped with SIGTERM in the middle of a run, it resumes that
/// run and skips the finished one, ending bit-identical to a sweep never stopped; bad sweeps are refused in one line.
/// </summary>
[Platform("Linux,MacOsX")]
public class SweepTests
{
    TempFolder root = null!;
    string data = null!;

    [OneTimeSetUp]
    public void Up()
    {
        root = new TempFolder();
        data = root["data"];
        WriteDataSet(data, train: 192, test: 20, rows: 6, cols: 5);
    }

    [OneTimeTearDown] public void Down() => root.Dispose();

    static readonly TimeSpan Limit = TimeSpan.FromSeconds(180);

    /// <summary>`sweep` of a tiny model on the generated data into <paramref name="output"/>; flags override.</summary>
    string[] Sweep(string output, params string[] flags)
    {
        var options = new Dictionary<string, string>
        {
            ["--out"] = output, ["--data"] = data, ["--hidden"] = "8", ["--latent"] = "2",
            ["--batch"] = "16", ["--epochs"] = "1", ["--iw-samples"] = "4", ["--threads"] = "1",
        };
        for (int i = 0; i + 1 < flags.Length; i += 2) options[flags[i]] = flags[i + 1];
        return ["sweep", .. options.SelectMany(kv => new[] { kv.Key, kv.Value }), "--no-pictures"];
    }

    static IEnumerable<string> Names(string folder) =>
        Directory.GetDirectories(folder).Select(Path.GetFileName).Order()!;

    [Test]
    public void A_two_by_two_grid_writes_its_files_and_a_second_run_redoes_nothing()
    {
        var output = root["grid"];
        var r = Cli.Run(Sweep(output, "--alpha", "0,1", "--lambda", "1,10", "--jobs", "2"));
        Assert.That(r.Code, Is.Zero, r.Err + r.Out);
        Assert.That(Names(output),
            Is.EqualTo(new[] { "a0-l1-mmd-s0", "a0-l10-mmd-s0", "a1-l1-mmd-s0", "a1-l10-mmd-s0" }));

        var md = File.ReadAllText(Path.Combine(output, "sweep.md"));
        foreach (var run in Names(output)) Assert.That(md, Does.Contain($"| {run} | mmd |"));
        Assert.That(md, Does.Contain("| recon | KL | MMD² | IW-NLL | FID | KID | IS | MI | active units |"));

        var lines = File.ReadAllLines(Path.Combine(output, "sweep.jsonl"));
        Assert.That(lines, Has.Length.EqualTo(4));
        var rows = lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        string[] keys =
        [
            "run", "divergence", "alpha", "lambda", "seed", "recon", "kl", "mmd", "iw_nll", "iw_samples",
            "active_units", "mutual_information", "fid", "kid", "kid_std", "inception_score",
            "semi_supervised_accuracy", "pareto",
        ];
        foreach (var key in keys)
            Assert.That(rows[0].TryGetProperty(key, out _), $"sweep.jsonl has '{key}'");
        // Its Pareto flags are those of the front of its own (KL, recon) values.
        var front = Pareto.Front(rows.Select(e => (e.GetProperty("kl").GetDouble(), e.GetProperty("recon").GetDouble()))
            .ToList());
        Assert.That(rows.Select(e => e.GetProperty("pareto").GetBoolean()), Is.EqualTo(front));
        Assert.That(front, Has.Some.True);
        Assert.That(rows.Select(e => e.GetProperty("iw_samples").GetInt32()), Is.All.EqualTo(4));
        // The latent probe ran for every run (logistic regression's accuracy, keyed by label count; the generated
        // training set is smaller than 1,000, so "1000" is "all"), and FID, KID and IS were left out with the line
        // that says why: the shipped classifier knows Fashion-MNIST's test set, not this one.
        foreach (var e in rows)
        {
            var acc = e.GetProperty("semi_supervised_accuracy");
            Assert.That(acc.ValueKind, Is.EqualTo(JsonValueKind.Object), "semi_supervised_accuracy measured");
            Assert.That(acc.GetProperty("100").GetDouble(), Is.InRange(0.0, 1.0));
            Assert.That(acc.GetProperty("all").GetDouble(), Is.InRange(0.0, 1.0));
            Assert.That(e.GetProperty("fid").ValueKind, Is.EqualTo(JsonValueKind.Null));
        }
        Assert.That(md, Does.Contain("FID, KID and IS (LeNet features, Fashion-MNIST) are left out"));

        foreach (var picture in new[] { "pareto.png", "grid.png" })
        {
            using var b = SKBitmap.Decode(Path.Combine(output, picture));
            Assert.That(b, Is.Not.Null, picture);
            Assert.That(b.Width, Is.GreaterThan(100), picture);
        }
        using (var grid = SKBitmap.Decode(Path.Combine(output, "grid.png")))
            Assert.That(grid.Height, Is.GreaterThan(4 * 5 * 2), "a row of samples per run");

        // Again: every run is finished and evaluated, so nothing is trained and the checkpoints stay as they were.
        var stamps = Names(output)
            .ToDictionary(n => n, n => File.GetLastWriteTimeUtc(Path.Combine(output, n, "checkpoint.safetensors")));
        var again = Cli.Run(Sweep(output, "--alpha", "0,1", "--lambda", "1,10", "--jobs", "2"));
        Assert.That(again.Code, Is.Zero, again.Err);
        Assert.That(again.Out, Does.Contain("4 finished, 0 to resume, 0 to train"));
        Assert.That(again.Out, Does.Not.Contain("evaluating"));
        foreach (var (n, t) in stamps)
            Assert.That(File.GetLastWriteTimeUtc(Path.Combine(output, n, "checkpoint.safetensors")), Is.EqualTo(t), n);
        Assert.That(File.ReadAllLines(Path.Combine(output, "sweep.jsonl")), Is.EqualTo(lines));
    }

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);
    const int SigTerm = 15;

    [Test]
    public void Stopped_in_the_middle_it_skips_the_finished_run_and_resumes_the_other_bit_identically()
    {
        // Two runs one after the other, 5 epochs of 12 steps each with a checkpoint every 2 steps.
        string[] Flags(string output) =>
            Sweep(output, "--alpha", "0", "--lambda", "1,10", "--epochs", "5", "--checkpoint-every", "2");
        var reference = root["reference"];
        var whole = Cli.Run(Flags(reference));
        Assert.That(whole.Code, Is.Zero, whole.Err + whole.Out);

        for (int attempt = 0; attempt < 4; attempt++)
        {
            var output = root[$"stopped-{attempt}"];
            string first = Path.Combine(output, "a0-l1-mmd-s0", "checkpoint.safetensors");
            string second = Path.Combine(output, "a0-l10-mmd-s0", "checkpoint.safetensors");
            using var child = new Cli.Child(Flags(output));
            var clock = Stopwatch.StartNew();
            while (!File.Exists(second) && !child.Process.HasExited && clock.Elapsed < Limit) Thread.Sleep(2);
            Assert.That(File.Exists(second) || child.Process.HasExited,
                $"no checkpoint of the second run appeared:\n{child.Output}");
            Thread.Sleep(attempt * 50);
            if (child.Process.HasExited) continue;
            Assert.That(kill(child.Process.Id, SigTerm), Is.Zero, "kill(2)");
            int code = child.Wait(Limit);
            if (code == 0) continue;                          // the signal came as the sweep was ending
            Assert.That(code, Is.EqualTo(143), child.Output);
            Assert.That(child.Output,
                Does.Contain("sweep stopped; the runs saved where they were. Continue with: infovae sweep"));
            long step = long.Parse(SafeTensors.Read(second).Metadata["step"]);
            if (step == 60) continue;                          // the second run had finished too
            TestContext.Progress.WriteLine($"stopped the second run at step {step} of 60");
            // The run saved where the stop found it (the sweep closed its stdin), not at its last --checkpoint-every.
            Assert.That(File.ReadAllText(Path.Combine(output, "a0-l10-mmd-s0", "train.log")),
                Does.Contain($"stopped at step {step}; checkpoint saved"));
            var firstStamp = File.GetLastWriteTimeUtc(first);

            var resumed = Cli.Run(Flags(output));
            Assert.That(resumed.Code, Is.Zero, resumed.Err + resumed.Out);
            Assert.That(resumed.Out, Does.Contain("1 finished, 1 to resume, 0 to train"));
            Assert.That(resumed.Out, Does.Contain($"a0-l10-mmd-s0: resuming at epoch {step / 12 + 1}, step {step}"));
            Assert.That(File.GetLastWriteTimeUtc(first), Is.EqualTo(firstStamp), "the finished run is not touched");
            foreach (var run in new[] { "a0-l1-mmd-s0", "a0-l10-mmd-s0" })
                Assert.That(File.ReadAllBytes(Path.Combine(output, run, "checkpoint.safetensors")),
                    Is.EqualTo(File.ReadAllBytes(Path.Combine(reference, run, "checkpoint.safetensors"))),
                    $"{run}: the final checkpoint, byte for byte");
            Assert.That(File.ReadAllLines(Path.Combine(output, "sweep.jsonl")),
                Is.EqualTo(File.ReadAllLines(Path.Combine(reference, "sweep.jsonl"))));
            return;
        }
        Assert.Fail("every attempt finished before the signal");
    }

    [Test]
    public void A_run_that_train_would_refuse_stops_the_sweep_before_anything_starts()
    {
        // The sweep checks every run's flags as train would, before it starts any.
        var output = root["refused-run"];
        var r = Cli.Run(Sweep(output, "--alpha", "0", "--lambda", "10", "--prior-samples", "1"));
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.OneLine(), Does.Contain("unbiased MMD estimator needs at least 2 samples"));
        Assert.That(Directory.Exists(output), Is.False, "nothing was started");
    }

    [TestCase("a sweep needs a grid, presets or both")]
    [TestCase("--jobs must be at least 1", "--alpha", "0", "--jobs", "0")]
    [TestCase("unknown preset 'vae'", "--presets", "vae")]
    [TestCase("--alpha 'x' is not a comma-separated list of numbers", "--alpha", "x")]
    [TestCase("unknown --divergence 'js'", "--alpha", "0", "--divergence", "js")]
    [TestCase("every point of this sweep was skipped", "--alpha", "-1", "--lambda", "1")]
    [TestCase("--kernel is a setting of the MMD, but every run of this sweep is adversarial",
        "--lambda", "10", "--divergence", "adversarial", "--kernel", "rbf")]
    [TestCase("--disc-lr is a setting of the adversarial divergence's discriminator, but no run of this sweep is "
        + "adversarial",
        "--lambda", "10", "--disc-lr", "0.01")]
    public void Bad_sweeps_get_one_line_and_start_nothing(string phrase, params string[] flags)
    {
        var output = root["bad-" + Guid.NewGuid().ToString("N")[..6]];
        var r = Cli.Run(Sweep(output, flags));
        Assert.That(r.Code, Is.EqualTo(1), r.Err + r.Out);
        Assert.That(r.OneLine(), Does.Contain(phrase));
        Assert.That(Directory.Exists(output), Is.False, "a refused sweep must not create its folder");
    }

    [Test]
    public void A_folder_that_holds_a_run_of_other_settings_is_refused()
    {
        var output = root["other-settings"];
        Assert.That(Cli.Run(Sweep(output, "--alpha", "0", "--lambda", "10")).Code, Is.Zero);
        var before = File.ReadAllBytes(Path.Combine(output, "a0-l10-mmd-s0", "checkpoint.safetensors"));
        var r = Cli.Run(Sweep(output, "--alpha", "0", "--lambda", "10", "--lr", "0.01"));
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.OneLine(),
            Does.Contain("holds a run that this sweep cannot continue").And.Contain("--lr 0.01 disagrees"));
        var after = File.ReadAllBytes(Path.Combine(output, "a0-l10-mmd-s0", "checkpoint.safetensors"));
        Assert.That(after, Is.EqualTo(before));
    }
}
