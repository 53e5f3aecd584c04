using InfoVae.Model.IO;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Support.IdxFiles;

namespace InfoVae.Tests.Model;

/// <summary>
/// `train --divergence adversarial` through the entry point: it trains, checkpoints the discriminator and its
/// Adam moments, resumes, and every combination that makes no sense is refused with one line before anything is
/// written (an adversarial term of weight 0, the MMD's flags without the MMD, the discriminator's without it).
/// </summary>
public class AdversarialCliTests
{
    TempFolder root = null!;
    string data = null!, run = null!;

    [OneTimeSetUp]
    public void Up()
    {
        root = new TempFolder();
        data = root["data"];
        WriteDataSet(data, train: 40, test: 10, rows: 6, cols: 5);
        run = root["run"];
        var r = Cli.Run(Train(run, "--divergence", "adversarial", "--disc-hidden", "7,5", "--lambda", "10"));
        Assert.That(r.Code, Is.Zero, r.Err);
    }

    [OneTimeTearDown] public void Down() => root.Dispose();

    string[] Train(string output, params string[] flags) =>
        ["train", "--data", data, "--out", output, "--hidden", "8", "--latent", "2", "--epochs", "1", "--batch", "8",
         "--no-pictures", .. flags];

    [Test]
    public void The_checkpoint_holds_both_networks_and_both_optimisers()
    {
        var file = SafeTensors.Read(Path.Combine(run, "checkpoint.safetensors"));
        foreach (var prefix in new[] { "", "adam.m.", "adam.v." })
        {
            Assert.That(file.Tensors.Select(t => t.Name), Does.Contain(prefix + "encoder.0.weight"));
            foreach (var layer in new[] { "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias" })
                Assert.That(file.Tensors.Select(t => t.Name), Does.Contain($"{prefix}discriminator.{layer}"));
        }
        Assert.That(file.Tensors.Single(t => t.Name == "discriminator.0.weight").Shape, Is.EqualTo(new[] { 7, 2 }));
        var log = File.ReadAllLines(Path.Combine(run, "run.jsonl"));
        Assert.That(log.Last(), Does.Contain("\"test_adversarial\"").And.Contain("\"test_discriminator\""));
    }

    [Test]
    public void An_mmd_run_logs_no_adversarial_keys()
    {
        var mmd = root["mmd-" + Guid.NewGuid().ToString("N")[..6]];
        Assert.That(Cli.Run(Train(mmd)).Code, Is.Zero);
        Assert.That(File.ReadAllText(Path.Combine(mmd, "run.jsonl")),
            Does.Not.Contain("adversarial").And.Not.Contain("discriminator"));
        var names = SafeTensors.Read(Path.Combine(mmd, "checkpoint.safetensors")).Tensors.Select(t => t.Name);
        Assert.That(names, Has.None.StartsWith("discriminator"));
    }

    [Test]
    public void It_resumes_and_export_writes_the_vae_alone()
    {
        var copy = root["resumed-" + Guid.NewGuid().ToString("N")[..6]];
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(run)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var r = Cli.Run("train", "--resume", copy, "--data", data, "--epochs", "2", "--divergence", "adversarial",
            "--no-pictures");
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(SafeTensors.Read(Path.Combine(copy, "checkpoint.safetensors")).Metadata["epoch"], Is.EqualTo("2"));
        var exported = Path.Combine(copy, "vae.safetensors");
        Assert.That(Cli.Run("export", "--run", copy, "--out", exported).Code, Is.Zero);
        Assert.That(SafeTensors.Read(exported).Tensors.Select(t => t.Name),
            Has.None.Contains("discriminator").And.None.StartsWith("adam"));
        var eval = Cli.Run("eval", "--run", copy, "--data", data, "--iw-samples", "3", "--json");
        Assert.That(eval.Code, Is.Zero, eval.Err);
    }

    [TestCase("weight α + λ − 1 = 0", "--divergence", "adversarial", "--preset", "elbo")]
    [TestCase("weight α + λ − 1 = 0", "--divergence", "adversarial", "--preset", "beta-vae")]
    [TestCase("weight α + λ − 1 = 0", "--divergence", "adversarial", "--alpha", "0.5", "--lambda", "0.5")]
    [TestCase("divergence weight α + λ − 1 = -1 is negative",
        "--divergence", "adversarial", "--alpha", "-1", "--lambda", "1")]
    [TestCase("--kernel is a setting of the MMD", "--divergence", "adversarial", "--kernel", "rbf")]
    [TestCase("--scales is a setting of the MMD", "--divergence", "adversarial", "--scales", "1,2")]
    [TestCase("--bandwidth is a setting of the MMD", "--divergence", "adversarial", "--bandwidth", "2")]
    [TestCase("--mmd-estimator is a setting of the MMD", "--divergence", "adversarial", "--mmd-estimator", "biased")]
    [TestCase("--disc-hidden is a setting of the adversarial divergence", "--disc-hidden", "64,64")]
    [TestCase("--disc-lr is a setting of the adversarial divergence", "--divergence", "mmd", "--disc-lr", "0.01")]
    [TestCase("--disc-hidden must list one or more positive", "--divergence", "adversarial", "--disc-hidden", "64,0")]
    [TestCase("--disc-lr must be > 0", "--divergence", "adversarial", "--disc-lr", "0")]
    [TestCase("unknown --divergence 'js'", "--divergence", "js")]
    public void Combinations_that_make_no_sense_get_one_line_and_write_nothing(string phrase, params string[] flags)
    {
        var output = root["refused-" + Guid.NewGuid().ToString("N")[..6]];
        var r = Cli.Run(Train(output, flags));
        Assert.That(r.Code, Is.EqualTo(1), r.Err);
        Assert.That(r.OneLine(), Does.Contain(phrase));
        Assert.That(Directory.Exists(output), Is.False, "a refused run must not create its folder");
    }

    [TestCase("disagrees with the run being resumed (adversarial)", "--divergence", "mmd")]
    [TestCase("--kernel is a setting of the MMD, but the run being resumed uses --divergence adversarial",
        "--kernel", "imq")]
    [TestCase("--disc-hidden 8,8 disagrees with the run being resumed (7,5)", "--disc-hidden", "8,8")]
    [TestCase("--disc-lr 0.01 disagrees with the run being resumed (0.001)", "--disc-lr", "0.01")]
    public void Resume_with_a_divergence_flag_that_disagrees_is_refused(string phrase, params string[] flags)
    {
        var before = File.ReadAllBytes(Path.Combine(run, "checkpoint.safetensors"));
        var r = Cli.Run(["train", "--resume", run, "--data", data, "--no-pictures", .. flags]);
        Assert.That(r.Code, Is.EqualTo(1), r.Err);
        Assert.That(r.OneLine(), Does.Contain(phrase));
        Assert.That(File.ReadAllBytes(Path.Combine(run, "checkpoint.safetensors")), Is.EqualTo(before));
    }

    [Test]
    public void Resuming_an_mmd_run_with_discriminator_flags_is_refused()
    {
        var mmd = root["mmd-resume-" + Guid.NewGuid().ToString("N")[..6]];
        Assert.That(Cli.Run(Train(mmd)).Code, Is.Zero);
        var r = Cli.Run("train", "--resume", mmd, "--data", data, "--disc-lr", "0.001", "--no-pictures");
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.OneLine(), Does.Contain("--disc-lr is a setting of the adversarial divergence's discriminator, "
            + "but the run being resumed uses the MMD"));
    }
}
