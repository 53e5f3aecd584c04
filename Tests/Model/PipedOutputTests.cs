using System.Text.RegularExpressions;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// `infovae train` with stdout redirected (a file, a pipe, CI), as a child process: no line is wrapped (Spectre
/// wrapped at 80 columns: "... + mmd" / "0.000750 (×999)"), no colour codes, and the progress is plain lines, one
/// per --log-every interval; after a resume they count from the resumed step to the same total.
/// </summary>
public class PipedOutputTests
{
    TempFolder root = null!;
    string data = null!;

    static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [OneTimeSetUp]
    public void Up()
    {
        root = new TempFolder();
        data = root["data"];
        IdxFiles.WriteDataSet(data, train: 40, test: 10, rows: 6, cols: 5);   // 5 steps per epoch in batches of 8
    }

    [OneTimeTearDown] public void Down() => root.Dispose();

    static string[] Lines(string text) => text.Replace("\r", "").TrimEnd('\n').Split('\n');

    /// <summary>The "[done/total ...]" lines as (done, total).</summary>
    static (int Done, int Total)[] Progress(string stdout) =>
        [.. Lines(stdout).Select(l => Regex.Match(l, @"^\[(\d+)/(\d+) ")).Where(m => m.Success)
            .Select(m => (int.Parse(m.Groups[1].Value), int.Parse(m.Groups[2].Value)))];

    static void AssertPlain(string stdout)
    {
        Assert.That(stdout, Does.Not.Contain("\u001b"), "no colour or cursor codes");
        var lines = Lines(stdout);
        // Each epoch line whole on one line: it is longer than 80 columns (that is where it used to be cut).
        var epochs = lines.Where(l => l.StartsWith("epoch ")).ToArray();
        Assert.That(epochs, Is.Not.Empty, stdout);
        foreach (var l in epochs)
        {
            Assert.That(l, Does.Match(@"^epoch +\d+: train +\S+ +test +\S+ = recon \S+ \+ kl \S+ \(×1\) "
                + @"\+ mmd \S+ \(×999\)$"), stdout);
            Assert.That(l.Length, Is.GreaterThan(80));
        }
        Assert.That(lines.Single(l => l.StartsWith("InfoVAE on ")), Does.EndWith("1 thread(s)"), "the banner, whole");
        Assert.That(lines, Has.None.Match(@"^\S*\)$|^thread\(s\)|^0\.\d+ \(×999\)$"), "a wrapped tail on its own line");
    }

    [Test]
    public void Redirected_output_is_plain_unwrapped_lines_one_per_log_interval_and_counts_on_from_a_resume()
    {
        var run = root["run"];
        string[] flags = ["--hidden", "8", "--latent", "2", "--batch", "8", "--seed", "3", "--log-every", "2",
            "--threads", "1", "--no-pictures"];
        using (var first = new Cli.Child(["train", "--data", data, "--out", run, "--epochs", "1", .. flags]))
        {
            Assert.That(first.Wait(Limit), Is.Zero, first.Output);
            TestContext.Out.WriteLine(first.StandardOutput);
            AssertPlain(first.StandardOutput);
            // every 2 steps, the last step, then the closing line
            Assert.That(Progress(first.StandardOutput), Is.EqualTo(new[] { (2, 5), (4, 5), (5, 5), (5, 5) }));
        }
        using var resumed = new Cli.Child("train", "--resume", run, "--epochs", "3", "--threads", "1", "--no-pictures");
        Assert.That(resumed.Wait(Limit), Is.Zero, resumed.Output);
        TestContext.Out.WriteLine(resumed.StandardOutput);
        AssertPlain(resumed.StandardOutput);
        Assert.That(resumed.StandardOutput, Does.Contain("(resuming at epoch 2, step 5)"));
        (int, int)[] expected = [(6, 15), (8, 15), (10, 15), (12, 15), (14, 15), (15, 15), (15, 15)];
        Assert.That(Progress(resumed.StandardOutput), Is.EqualTo(expected),
            "from the resumed step, of the whole run's total, a line per --log-every interval of the run's start");
    }
}
