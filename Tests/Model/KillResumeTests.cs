using System.Diagnostics;
using System.Runtime.InteropServices;
using InfoVae.Model.IO;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// `infovae train` as a child process, stopped from outside at a random moment (a fixed seed picks it) after its
/// first checkpoint, then resumed with --resume: the final checkpoint must equal, byte for byte, that of an
/// uninterrupted run with the same seed. SIGKILL tests --checkpoint-every (the run dies wherever it is; the
/// atomic write leaves the last whole checkpoint); SIGINT tests Ctrl+C (the run saves where it is and exits 130).
/// </summary>
[Platform("Linux,MacOsX")]
public class KillResumeTests
{
    TempFolder root = null!;
    string data = null!;
    byte[] reference = null!;
    TimeSpan referenceTime;

    static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    // 192 images in batches of 8, 5 epochs: 120 steps and 40 checkpoints (each flushed to disk), 1-3 s here.
    const int Steps = 120;
    string[] Train(string outDir) =>
        ["train", "--data", data, "--out", outDir, "--hidden", "16", "--latent", "2", "--batch", "8", "--epochs", "5", "--seed", "5",
         "--checkpoint-every", "3", "--threads", "1", "--no-pictures"];

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
        using var resumed = new Cli.Child("train", "--resume", run, "--data", data, "--threads", "1", "--no-pictures");
        Assert.That(resumed.Wait(Limit), Is.Zero, resumed.Output);
        var final = File.ReadAllBytes(Path.Combine(run, "checkpoint.safetensors"));
        var a = SafeTensors.Read(Path.Combine(root["reference"], "checkpoint.safetensors"));
        var b = SafeTensors.Read(Path.Combine(run, "checkpoint.safetensors"));
        foreach (var t in a.Tensors)
            Assert.That(b.Tensors.Single(u => u.Name == t.Name).Data, Is.EqualTo(t.Data), $"tensor {t.Name} differs from the uninterrupted run");
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
            Assert.That(step % 3 == 0 || step % 24 == 0, $"checkpoints come every 3 steps and at epoch ends, not at step {step}");
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
        var ignored = File.Exists("/proc/self/status") ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:")) : null;
        if (ignored != null && (Convert.ToUInt64(ignored[7..].Trim(), 16) & (1UL << (SigInt - 1))) != 0)
            Assert.Ignore("this test process ignores SIGINT, so its child would too");
        var rnd = new Random(1707);
        for (int attempt = 0; attempt < 4; attempt++)
        {
            var run = root[$"sigint-{attempt}"];
            using var child = StartAndStop(run, rnd, 0.7 / (1 << attempt), p => Assert.That(kill(p.Id, SigInt), Is.Zero, "kill(2)"));
            if (child == null) continue;
            int code = child.Wait(Limit);
            if (code == 0 || child.Output.Contains("finished.")) continue;    // the signal came as the run was ending
            Assert.That(code, Is.EqualTo(130), child.Output);
            var m = System.Text.RegularExpressions.Regex.Match(child.Output, @"stopped at step (\d+); checkpoint saved\. Continue with: infovae train --resume");
            Assert.That(m.Success, child.Output);
            long step = long.Parse(SafeTensors.Read(Path.Combine(run, "checkpoint.safetensors")).Metadata["step"]);
            Assert.That(step, Is.EqualTo(long.Parse(m.Groups[1].Value)), "the checkpoint is at the step it reports");
            TestContext.Progress.WriteLine($"SIGINT: saved at step {step} of {Steps}");
            ResumeAndCompare(run);
            return;
        }
        Assert.Fail("every run finished before the signal");
    }
}
