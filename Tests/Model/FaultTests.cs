using System.Text.RegularExpressions;
using InfoVae.Engine;
using InfoVae.Model;
using InfoVae.Model.IO;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// Faults during training, through the entry point in this process: a loss that goes non-finite stops the run at
/// once, naming the step, the term and the last good checkpoint; --detect-anomaly names the op; a disk that
/// fills during a checkpoint write leaves the previous checkpoint whole, and the run resumes from it bit for bit.
/// </summary>
public class FaultTests
{
    TempFolder root = null!;
    string data = null!;

    [OneTimeSetUp]
    public void Up()
    {
        root = new TempFolder();
        data = root["data"];
        IdxFiles.WriteDataSet(data, train: 40, test: 10, rows: 6, cols: 5);   // 5 steps per epoch in batches of 8
    }

    [OneTimeTearDown] public void Down() => root.Dispose();

    string[] Train(string outDir, params string[] more) =>
        ["train", "--data", data, "--out", outDir, "--hidden", "8", "--latent", "2", "--batch", "8", "--seed", "3",
            "--no-pictures", .. more];

    static long StepOf(string checkpoint) => long.Parse(SafeTensors.Read(checkpoint).Metadata["step"]);

    // A learning rate of 1e30 moves every weight by about 1e30 in the first Adam step: the second step overflows.
    const string HugeLr = "1e30";

    [TestCase(1, TestName = "Non_finite_loss_names_the_step_the_term_and_the_last_good_checkpoint")]
    [TestCase(0, TestName = "Non_finite_loss_before_any_checkpoint_says_there_is_none")]
    public void Non_finite_loss(int checkpointEvery)
    {
        var run = root[$"nonfinite-{checkpointEvery}"];
        var r = Cli.Run(Train(run, "--lr", HugeLr, "--epochs", "3", "--checkpoint-every", checkpointEvery.ToString()));
        Assert.That(r.Code, Is.EqualTo(1), r.Err);
        var line = r.OneLine();
        TestContext.Out.WriteLine("infovae: " + line);
        var m = Regex.Match(line,
            @"^training stopped at step (\d+) \(epoch 1\): the (recon|kl|mmd|total) loss term is not finite "
            + @"\(recon (\S+), kl (\S+), mmd (\S+), total (\S+)\); last good checkpoint: (.+)\. Try a lower --lr; run "
                + @"it again with --detect-anomaly");
        Assert.That(m.Success, line);
        long step = long.Parse(m.Groups[1].Value);
        Assert.That(step, Is.GreaterThanOrEqualTo(2), "the first step runs on the initial weights, which are finite");
        // The named term is the first of recon, kl, mmd, total whose printed value is not a number.
        string[] names = ["recon", "kl", "mmd", "total"];
        string[] values = [.. Enumerable.Range(3, 4).Select(i => m.Groups[i].Value)];
        int first =
            Array.FindIndex(values, v => !double.TryParse(v, System.Globalization.CultureInfo.InvariantCulture,
            out var d) || !double.IsFinite(d));
        Assert.That(m.Groups[2].Value, Is.EqualTo(names[first]), $"terms {string.Join(", ", values)}");

        var ckpt = Path.Combine(run, "checkpoint.safetensors");
        if (checkpointEvery == 1)
        {
            Assert.That(m.Groups[7].Value, Is.EqualTo($"{ckpt} (step {step - 1})"));
            Assert.That(StepOf(ckpt), Is.EqualTo(step - 1),
                "the checkpoint named is the one written after the last good step");
            var weights =
                SafeTensors.Read(ckpt).Tensors.Where(t => t.DType == DType.F32
                && !t.Name.StartsWith("adam.")).SelectMany(t => t.As<float>());
            Assert.That(weights.All(float.IsFinite), "the last good checkpoint holds finite weights");
        }
        else
        {
            Assert.That(m.Groups[7].Value, Is.EqualTo("none (no checkpoint was written yet)"));
            Assert.That(File.Exists(ckpt), Is.False);
        }
    }

    [Test]
    public void Detect_anomaly_names_the_first_op_that_is_not_finite()
    {
        var plain = Cli.Run(Train(root["anomaly-off"], "--lr", HugeLr, "--epochs", "3"));
        long plainStep = long.Parse(Regex.Match(plain.OneLine(), @"at step (\d+)").Groups[1].Value);

        var r = Cli.Run(Train(root["anomaly-on"], "--lr", HugeLr, "--epochs", "3", "--detect-anomaly"));
        Assert.That(r.Code, Is.EqualTo(1), r.Err);
        var line = r.OneLine();
        TestContext.Out.WriteLine("infovae: " + line);
        var m = Regex.Match(line,
            @"^training stopped at step (\d+) \(epoch 1\): (op '(\w+)' produced an output|the backward of '(\w+)' "
            + @"produced a gradient) "
            + @"of shape \((\d+(, \d+)*)\) that is not finite \(element \d+ is (NaN|\+∞|−∞)\); last good checkpoint: "
                + @".+\. Try a lower --lr\.$");
        Assert.That(m.Success, line);
        // The op check sees the overflow inside the step whose loss would have been the first non-finite one, or
        // earlier.
        Assert.That(long.Parse(m.Groups[1].Value), Is.InRange(1, plainStep));
        Assert.That(Tape<float>.Current.DetectAnomaly, Is.False, "the tape is left as it was found");
    }

    [Test]
    public void Detect_anomaly_lets_a_healthy_run_finish_with_the_same_weights()
    {
        string off = root["healthy-off"], on = root["healthy-on"];
        Assert.That(Cli.Run(Train(off, "--epochs", "2")).Code, Is.Zero);
        var r = Cli.Run(Train(on, "--epochs", "2", "--detect-anomaly"));
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(File.ReadAllBytes(Path.Combine(on, "checkpoint.safetensors")),
            Is.EqualTo(File.ReadAllBytes(Path.Combine(off, "checkpoint.safetensors"))),
            "checking outputs must not change them");
    }

    [Test]
    public void A_file_system_error_mid_run_is_one_line_with_exit_74()
    {
        // run.jsonl is a folder, so the first log line cannot be written: the file system's error, not a crash.
        var run = root["log-is-a-folder"];
        Directory.CreateDirectory(Path.Combine(run, "run.jsonl"));
        var r = Cli.Run(Train(run, "--epochs", "1", "--log-every", "1"));
        Assert.That(r.Code, Is.EqualTo(74), r.Err);
        var line = r.OneLine();
        TestContext.Out.WriteLine("infovae: " + line);
        Assert.That(line,
            Does.Contain("run.jsonl").And.Contain("check that the disk has free space and the folder is writable"));
    }

    [Test]
    public void A_disk_that_fills_during_a_checkpoint_write_leaves_the_previous_checkpoint()
    {
        string whole = root["disk-whole"], run = root["disk-full"];
        Assert.That(Cli.Run(Train(whole, "--epochs", "2", "--checkpoint-every", "2")).Code, Is.Zero);

        // The second checkpoint write (after step 4) fails 100 bytes in, as a full disk would.
        int writes = 0;
        byte[]? previous = null;
        var ckpt = Path.Combine(run, "checkpoint.safetensors");
        Checkpoint.WrapWrites = s =>
        {
            if (++writes < 2) return s;
            previous = File.ReadAllBytes(ckpt);
            return new FailAfterStream(s, 100, () => new IOException("No space left on device"));
        };
        Cli.Result r;
        try { r = Cli.Run(Train(run, "--epochs", "2", "--checkpoint-every", "2")); }
        finally { Checkpoint.WrapWrites = null; }

        Assert.That(r.Code, Is.EqualTo(1), r.Err);
        var line = r.OneLine();
        TestContext.Out.WriteLine("infovae: " + line);
        Assert.That(line,
            Does.Contain($"could not write {ckpt}: No space left on device; any previous checkpoint.safetensors is "
            + "unchanged"));
        Assert.That(line, Does.Contain("Training stopped at step 4").And.Contain($"infovae train --resume {run}"));
        Assert.That(writes, Is.EqualTo(2));
        Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(previous), "the previous checkpoint, byte for byte");
        Assert.That(StepOf(ckpt), Is.EqualTo(2));
        Assert.That(Directory.GetFiles(run).Select(Path.GetFileName), Has.None.EndsWith(".tmp"),
            "no half-written file left behind");

        // Once there is room again, resuming from step 2 ends where the uninterrupted run ended.
        var resumed = Cli.Run(["train", "--resume", run, "--data", data, "--no-pictures"]);
        Assert.That(resumed.Code, Is.Zero, resumed.Err);
        Assert.That(File.ReadAllBytes(ckpt),
            Is.EqualTo(File.ReadAllBytes(Path.Combine(whole, "checkpoint.safetensors"))));
    }
}
