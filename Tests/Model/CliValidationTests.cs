using InfoVae.Model;

namespace InfoVae.Tests.Model;

/// <summary>Bad flags are refused before any work starts, with one line on stderr and a non-zero exit.</summary>
public class CliValidationTests
{
    static (int Code, string Err) Run(params string[] args)
    {
        var err = new StringWriter(); var old = Console.Error;
        Console.SetError(err);
        try { return (Program.Main(args), err.ToString()); }
        finally { Console.SetError(old); }
    }

    // Each case names a flag set and a phrase the one-line error must contain. --data points nowhere: validation must
    // come first.
    [TestCase("must be > 0", "--lambda", "0")]
    [TestCase("negative", "--lambda", "0.5", "--alpha", "0")]
    [TestCase("finite", "--lr", "NaN")]
    [TestCase("--lr must be > 0", "--lr", "-0.1")]
    [TestCase("--epochs", "--epochs", "0")]
    [TestCase("--latent", "--latent", "0")]
    [TestCase("unknown preset", "--preset", "vae")]
    [TestCase("unknown --kernel", "--kernel", "gauss")]
    [TestCase("unknown --device", "--device", "tpu")]
    [TestCase("unbiased MMD", "--batch", "1")]
    [TestCase("--hidden", "--hidden", "512,x")]
    [TestCase("--replicas must be 1 to 8", "--replicas", "0")]
    [TestCase("--replicas must be 1 to 8", "--replicas", "9")]
    [TestCase("without in-process replicas", "--replicas", "2", "--divergence", "adversarial", "--lambda", "10")]
    public void Bad_flags_get_one_clear_line(string phrase, params string[] flags)
    {
        var (code, err) = Run(["train", "--data", "/nonexistent", .. flags]);
        Assert.That(code, Is.Not.Zero);
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), err);
        Assert.That(err, Does.Contain(phrase));
        Assert.That(err, Does.Not.Contain("   at "), "a stack trace leaked");
    }

    [Test]
    public void A_missing_data_folder_is_named()
    {
        var (code, err) =
            Run("train", "--data", "/nonexistent/fmnist", "--out", Path.Combine(Path.GetTempPath(),
            "never-" + Guid.NewGuid()));
        Assert.That(code, Is.Not.Zero);
        Assert.That(err, Does.Contain("/nonexistent/fmnist"));
        Assert.That(err.TrimEnd().Split('\n'), Has.Length.EqualTo(1), err);
    }

    [Test]
    public void Presets_are_the_special_cases_of_the_objective()
    {
        Assert.That(TrainConfig.Preset("elbo"), Is.EqualTo((0.0, 1.0, 1.0)));
        var (a, l, _) = TrainConfig.Preset("beta-vae", 4);
        Assert.That((1 - a, a + l - 1), Is.EqualTo((4.0, 0.0)));     // KL weight β, no MMD
        var (a2, l2, _) = TrainConfig.Preset("mmd-vae");
        Assert.That((1 - a2, a2 + l2 - 1), Is.EqualTo((0.0, 1000.0)));
    }
}
