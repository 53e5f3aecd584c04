using InfoVae.Engine.Cpu;
using InfoVae.Kernels;
using InfoVae.Model;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// Sizes from flags whose product no buffer holds (2³¹ elements or more) are refused in one line, before anything
/// that large is allocated: the parameters' flat buffer, the trainer's host buffers, and through the CLI.
/// </summary>
public class ModelSizeTests
{
    [Test]
    public void Parameters_that_add_up_to_2_to_the_31_are_refused_before_anything_is_allocated()
    {
        // Every tensor fits (40000 × 40000 = 1.6e9) but the flat buffer of all of them does not.
        var before = CpuBackend<float>.Instance.Pool.Created;
        var config = new TrainConfig { Hidden = [40000, 40000] };
        var cpu = CpuBackend<float>.Instance;
        var e = Assert.Throws<TensorTooLargeException>(() => _ = new Parameters<float>(config, cpu))!;
        Assert.That(e.Message, Does.StartWith("the parameters up to decoder.2.weight would hold 3,"));
        Assert.That(CpuBackend<float>.Instance.Pool.Created, Is.EqualTo(before), "no buffer was rented");
    }

    [Test]
    public void A_trainer_refuses_prior_samples_times_latent_past_2_to_the_31()
    {
        var cfg = new TrainConfig { InputSize = 4, Hidden = [3], Latent = 32, Batch = 2, PriorSamples = 100_000_000 };
        var data = new InfoVae.Model.Data.LabeledImages(new float[8], new byte[2], 2, 2);
        var e = Assert.Throws<TensorTooLargeException>(() => _ = new Trainer(cfg, data, CpuBackend<float>.Instance))!;
        Assert.That(e.Message, Does.StartWith("a tensor of shape (100000000 × 32) would hold 3,200,000,000 elements"));
    }

    [TestCase("--hidden", "50000,50000", "a tensor of shape (50000 × 50000) would hold 2,500,000,000 elements")]
    [TestCase("--prior-samples", "1100000000", "a tensor of shape (1100000000 × 2) would hold 2,200,000,000 elements")]
    public void The_cli_refuses_sizes_no_buffer_holds_in_one_line(string flag, string value, string start)
    {
        using var root = new TempFolder();
        IdxFiles.WriteDataSet(root["data"], train: 12, test: 4, rows: 4, cols: 4);
        string[] args = ["train", "--data", root["data"], "--out", root["run"], "--latent", "2", "--batch", "4",
            "--epochs", "1", "--no-pictures", flag, value];
        var r = Cli.Run(flag == "--hidden" ? args : [.. args, "--hidden", "8"]);
        Assert.That(r.Code, Is.EqualTo(1), r.Err);
        var line = r.OneLine();
        TestContext.Out.WriteLine("infovae: " + line);
        Assert.That(line, Does.StartWith(start));
        Assert.That(line, Does.EndWith("; one buffer holds at most 2,147,483,647 (2³¹ − 1); "
            + "use smaller sizes (--batch, --hidden, --channels, --latent, --prior-samples, --iw-samples)"));
    }
}
