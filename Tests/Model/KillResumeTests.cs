using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using InfoVae.Model.IO;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// `infovae train` as a child process, stopped from outside at a random moment (a fixed seed picks it) after its
/// first checkpoint, then resumed with --resume and no other flag that shapes the run (the data, --limit,
/// --prior-samples, --log-every and --checkpoint-every come back from the run folder): the final checkpoint must
/// equal, byte for byte, that of an uninterrupted run with the same seed. SIGKILL tests --checkpoint-every (the run
/// dies wherever it is; the atomic write leaves the last whole checkpoint); SIGINT tests Ctrl+C (the run saves where
/// it is and exits 130). ResumeMatrixTests does this in-process for every flag.
/// </summary>
[Platform("Linux,MacOsX")]
public class KillResumeTests
{
    TempFolder root = null!;
    string data = null!;
    byte[] reference = null!;
    TimeSpan referenceTime;

    static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    // The first 160 of 192 images in batches of 8, 5 epochs: 100 steps and about 40 checkpoints (each flushed to disk),
    // 1-3 s here.
    const int Steps = 100, PerEpoch = 20;
    string[] Train(string outDir) =>
        ["train", "--data", data, "--out", outDir, "--hidden", "16", "--latent", "2", "--batch", "8", "--epochs", "5",
            "--seed", "5",
         "--limit", "160", "--prior-samples", "6", "--log-every", "7", "--checkpoint-every", "3", "--threads", "1",
         "--no-pictures"];

    [OneTimeSetUp]
    public void Up()
    {
        root = new TempFolder();
        data = root["data"];
        IdxFiles.WriteDataSet(data, train: 192, test: 20);
        var clock = Stopwatch.StartNew();
        using var child = new Cli.Child(Train(root["reference"]));
        Assert.That(child.Wait(Limit), Is.Zero, child.Output);
        referenceTime = clock.Elapsed;
        reference = File.ReadAllBytes(Path.Combine(root["reference"], "checkpoint.safetensors"));
        TestContext.Progress.WriteLine($"uninterrupted run: {referenceTime.TotalSeconds:F2} s");
    }

    [OneTimeTearDown] public void Down() => root.Dispose();

    [DllImport("libc", SetLastError = true)]
    static extern int kill(int pid, int signal);
    const int SigInt = 2;

    /// <summary>
    /// Starts a run, waits for its first checkpoint, waits a random part of the rest of the reference run's time,
    /// then calls <paramref name="stop"/>. Returns the child, or null when it had finished before the stop (the
    /// caller then tries again with a shorter wait).
    /// </summary>
    Cli.Child? StartAndStop(string run, Random rnd, double fraction, Action<Process> stop)
    {
        var child = new Cli.Child(Train(run));
        var ckpt = Path.Combine(run, "checkpoint.safetensors");
        var clock = Stopwatch.StartNew();
        while (!File.Exists(ckpt))
        {
            if (child.Process.HasExited) Assert.Fail($"the run ended before its first checkpoint:\n{child.Output}");
            if (clock.Elapsed > Limit) Assert.Fail("no checkpoint appeared");
            Thread.Sleep(2);
        }
        var rest = referenceTime - clock.Elapsed;
        var wait = TimeSpan.FromMilliseconds(Math.Max(0, rest.TotalMilliseconds) * fraction * rnd.NextDouble());
        Thread.Sleep(wait);
        if (child.Process.HasExited) { child.Dispose(); return null; }
        stop(child.Process);
        TestContext.Progress.WriteLine($"stopped {wait.TotalMilliseconds:F0} ms after the first checkpoint");
        return child;
    }

    void ResumeAndCompare(string run)
    {
        using var resumed = new Cli.Child("train", "--resume", run, "--threads", "1", "--no-pictures");
        Assert.That(resumed.Wait(Limit), Is.Zero, resumed.Output);
        var final = File.ReadAllBytes(Path.Combine(run, "checkpoint.safetensors"));
        var a = SafeTensors.Read(Path.Combine(root["reference"], "checkpoint.safetensors"));
        var b = SafeTensors.Read(Path.Combine(run, "checkpoint.safetensors"));
        foreach (var t in a.Tensors)
            Assert.That(b.Tensors.Single(u => u.Name == t.Name).Data, Is.EqualTo(t.Data),
                $"tensor {t.Name} differs from the uninterrupted run");
        Assert.That(b.Metadata, Is.EquivalentTo(a.Metadata), "position and config");
        Assert.That(final, Is.EqualTo(reference), "the whole file, byte for byte");
    }

    [Test]
    public void Killed_with_sigkill_at_a_random_moment_it_resumes_bit_identically()
    {
        var rnd = new Random(1706);
        for (int attempt = 0; attempt < 4; attempt++)
        {
            var run = root[$"sigkill-{attempt}"];
            using var child = StartAndStop(run, rnd, 0.7 / (1 << attempt), p => p.Kill());
            if (child == null) continue;
            child.Process.WaitForExit();
            long step = long.Parse(SafeTensors.Read(Path.Combine(run, "checkpoint.safetensors")).Metadata["step"]);
            Assert.That(step % 3 == 0 || step % PerEpoch == 0,
                $"checkpoints come every 3 steps and at epoch ends, not at step {step}");
            if (step == Steps) continue;     // killed after the last checkpoint, while exiting: nothing left to resume
            TestContext.Progress.WriteLine($"SIGKILL: last checkpoint at step {step} of {Steps}");
            ResumeAndCompare(run);
            return;
        }
        Assert.Fail("every run finished before the kill");
    }

    [Test]
    public void Interrupted_with_sigint_it_saves_exits_130_and_resumes_bit_identically()
    {
        // A process started in the background without job control ignores SIGINT, and its children inherit that.
        var ignored = File.Exists("/proc/self/status")
            ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:"))
            : null;
        if (ignored != null && (Convert.ToUInt64(ignored[7..].Trim(), 16) & (1UL << (SigInt - 1))) != 0)
            Assert.Ignore("this test process ignores SIGINT, so its child would too");
        var rnd = new Random(1707);
        for (int attempt = 0; attempt < 4; attempt++)
        {
            var run = root[$"sigint-{attempt}"];
            using var child =
                StartAndStop(run, rnd, 0.7 / (1 << attempt), p => Assert.That(kill(p.Id, SigInt), Is.Zero, "kill(2)"));
            if (child == null) continue;
            int code = child.Wait(Limit);
            if (code == 0 || child.Output.Contains("finished.")) continue;    // the signal came as the run was ending
            Assert.That(code, Is.EqualTo(130), child.Output);
            var m = System.Text.RegularExpressions.Regex.Match(child.Output,
                @"stopped at step (\d+); checkpoint saved\. Continue with: infovae train --resume");
            Assert.That(m.Success, child.Output);
            long step = long.Parse(SafeTensors.Read(Path.Combine(run, "checkpoint.safetensors")).Metadata["step"]);
            Assert.That(step, Is.EqualTo(long.Parse(m.Groups[1].Value)), "the checkpoint is at the step it reports");
            TestContext.Progress.WriteLine($"SIGINT: saved at step {step} of {Steps}");
            ResumeAndCompare(run);
            return;
        }
        Assert.Fail("every run finished before the signal");
    }

    /// <summary>
    /// Issue #19's three commands, on generated 28 × 28 data (1,500 images, --limit 1,200: 5 batches of 256 per epoch)
    /// with every other flag as the issue gives it: `full` runs alone; `killed` gets SIGKILL in its second epoch; a
    /// bare `train --resume killed` must restore --limit and the data, count its progress to the same total, and end
    /// at the same step with the same bytes as `full`.
    /// </summary>
    [Test]
    public void The_commands_of_issue_19_end_at_the_same_step_with_the_same_bytes()
    {
        string d = root["issue19-data"];
        IdxFiles.WriteDataSet(d, train: 1500, test: 100, seed: 19);
        string[] Command(string outDir) =>
            ["train", "--epochs", "3", "--limit", "1200", "--seed", "7", "--no-pictures", "--checkpoint-every", "10",
             "--out", outDir, "--data", d];
        const int Total = 15;
        string full = root["issue19-full"];
        var clock = Stopwatch.StartNew();
        using (var child = new Cli.Child(Command(full)))
            Assert.That(child.Wait(Limit), Is.Zero, child.Output);
        var epoch = clock.Elapsed / 3;
        var fullCheckpoint = SafeTensors.Read(Path.Combine(full, "checkpoint.safetensors"));
        Assert.That(fullCheckpoint.Metadata["step"], Is.EqualTo($"{Total}"));

        var rnd = new Random(19);
        for (int attempt = 0; attempt < 4; attempt++)
        {
            string killed = root[$"issue19-killed-{attempt}"];
            var ckpt = Path.Combine(killed, "checkpoint.safetensors");
            using (var child = new Cli.Child(Command(killed)))
            {
                var wait = Stopwatch.StartNew();
                while (!File.Exists(ckpt))       // the first checkpoint: the end of epoch 1
                {
                    if (child.Process.HasExited) Assert.Fail($"the run ended before its checkpoint:\n{child.Output}");
                    if (wait.Elapsed > Limit) Assert.Fail("no checkpoint appeared");
                    Thread.Sleep(2);
                }
                Thread.Sleep(epoch * (rnd.NextDouble() / (1 << attempt)));
                if (child.Process.HasExited) continue;
                child.Process.Kill();
                child.Process.WaitForExit();
            }
            long step = long.Parse(SafeTensors.Read(ckpt).Metadata["step"]);
            if (step == Total) continue;
            using var resumed = new Cli.Child("train", "--resume", killed);
            Assert.That(resumed.Wait(Limit), Is.Zero, resumed.Output);
            var output = resumed.StandardOutput;
            TestContext.Out.WriteLine($"SIGKILL left the checkpoint of step {step}; the resume printed:\n{output}");
            Assert.That(output, Does.Contain($"InfoVAE on {d}: 1,200 train / 100 test images of 28×28"));
            Assert.That(output, Does.Contain($"(resuming at epoch {step / 5 + 1}, step {step})"));
            var progress = Regex.Matches(output, @"^\[(\d+)/(\d+) ", RegexOptions.Multiline);
            Assert.That(progress, Is.Not.Empty);
            foreach (Match m in progress)
            {
                Assert.That(m.Groups[2].Value, Is.EqualTo($"{Total}"), "the same total as the run left alone");
                long done = long.Parse(m.Groups[1].Value);
                Assert.That(done, Is.GreaterThan(step).And.AtMost(Total), "counted from the resumed step");
            }
            Assert.That(output, Does.Contain($"done: 3 epochs, {Total} steps"));
            Assert.That(Directory.GetFiles(killed, "*.png"), Is.Empty, "--no-pictures restored too");
            var b = SafeTensors.Read(ckpt);
            foreach (var t in fullCheckpoint.Tensors)
                Assert.That(b.Tensors.Single(u => u.Name == t.Name).Data, Is.EqualTo(t.Data), $"{t.Name} vs full");
            Assert.That(b.Metadata, Is.EquivalentTo(fullCheckpoint.Metadata), "position and config");
            return;
        }
        Assert.Fail("every run finished before the kill");
    }
}
