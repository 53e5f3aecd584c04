using System.Text.Json;
using InfoVae.Model;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model.Metrics;

/// <summary>
/// `infovae classifier train|eval` and the metrics of `infovae eval` end to end on a tiny 28 × 28 data set: a tiny
/// InfoVAE run, a classifier trained on the same data (so it knows the test set), the JSON keys, the line that says
/// why the shipped Fashion-MNIST classifier's metrics are left out for other data, and the flags refused in one line.
/// </summary>
public class MetricsCliTests
{
    TempFolder root = null!;
    string data = null!, run = null!, classifier = null!;

    [OneTimeSetUp]
    public void Up()
    {
        root = new TempFolder();
        data = root["data"];
        IdxFiles.WriteDataSet(data, train: 48, test: 20);
        run = root["run"];
        var r = Cli.Run(["train", "--data", data, "--out", run, "--hidden", "16", "--latent", "3", "--epochs", "1",
            "--batch", "16", "--no-pictures"]);
        Assert.That(r.Code, Is.Zero, r.Err);
        classifier = root["tiny-classifier.safetensors"];
        r = Cli.Run(["classifier", "train", "--data", data, "--out", classifier, "--epochs", "2", "--batch", "16",
            "--channels", "2,3,4", "--hidden", "6", "--threads", "1"]);
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Out, Does.Contain("epoch   2:").And.Contain("SHA-256"));
    }

    [OneTimeTearDown] public void Down() => root.Dispose();

    [Test]
    public void Classifier_file_records_its_data_and_the_command_that_made_it()
    {
        var (net, info) = ClassifierFile.Load(classifier);
        Assert.That(info.DataName, Is.EqualTo("data"), "the folder's name by default");
        Assert.That(info.Command, Does.StartWith(
            $"infovae classifier train --data {data} --out {classifier} --name data --epochs 2 --batch 16"));
        Assert.That(info.Config.Describe(), Is.EqualTo("conv 2-3-4, 6 features, 10 classes (28×28)"));
        Assert.That(info.TestSha256, Is.EqualTo(InfoVae.Model.Data.DataSet.Load(data).Test.Sha256()));
        Assert.That(net.Params.BatchesTracked, Is.All.EqualTo(2L * 3), "2 epochs of 3 batches");
        var r = Cli.Run("classifier", "eval", "--classifier", classifier, "--data", data);
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Out, Does.Contain("is the one it was scored on").And.Contain("test accuracy")
            .And.Contain("(2 images)"));
    }

    [Test]
    public void Eval_json_has_fid_kid_and_is_with_a_classifier_that_knows_the_data()
    {
        var r = Cli.Run("eval", "--run", run, "--data", data, "--iw-samples", "2", "--json", "--classifier",
            classifier);
        Assert.That(r.Code, Is.Zero, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var e = doc.RootElement;
        foreach (var key in new[] { "fid", "kid", "kid_std", "inception_score" })
            Assert.That(double.IsFinite(e.GetProperty(key).GetDouble()), key);
        Assert.That(e.GetProperty("fid").GetDouble(), Is.GreaterThan(0));
        Assert.That(e.GetProperty("inception_score").GetDouble(), Is.InRange(1.0, 10.0));
        var q = e.GetProperty("sample_quality");
        Assert.That(q.GetProperty("features").GetString(), Is.EqualTo("LeNet features, data"));
        Assert.That(q.GetProperty("samples").GetInt32(), Is.EqualTo(20), "as many samples as test images");
        Assert.That(q.GetProperty("kid_subset_size").GetInt32(), Is.EqualTo(20));
        Assert.That(e.TryGetProperty("semi_supervised_accuracy", out _), Is.False, "only with --semi-supervised");
        // The same run and classifier give the same numbers.
        var again = Cli.Run("eval", "--run", run, "--data", data, "--iw-samples", "2", "--json", "--classifier",
            classifier);
        Assert.That(again.Out, Is.EqualTo(r.Out));
    }

    [Test]
    public void Eval_leaves_the_metrics_out_with_one_line_when_the_classifier_does_not_know_the_data()
    {
        // The shipped classifier knows Fashion-MNIST's test set, not this one.
        var r = Cli.Run("eval", "--run", run, "--data", data, "--iw-samples", "2", "--json");
        Assert.That(r.Code, Is.Zero, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        Assert.That(doc.RootElement.TryGetProperty("fid", out _), Is.False);
        string why = doc.RootElement.GetProperty("sample_quality_skipped").GetString()!;
        Assert.That(why, Does.Contain("left out").And.Contain("Fashion-MNIST").And.Contain("classifier train"));
        Assert.That(r.Err, Is.Empty, "the reason is in the JSON; stderr is for notes about the data");
        var table = Cli.Run("eval", "--run", run, "--data", data, "--iw-samples", "2");
        Assert.That(table.Code, Is.Zero, table.Err);
        Assert.That(table.Out.TrimEnd().Split('\n')[^1], Is.EqualTo(why), "the table ends with the line");

        // Another image size: the same, for its own reason.
        var small = root["small"];
        IdxFiles.WriteDataSet(small, train: 40, test: 10, rows: 6, cols: 5);
        var smallRun = root["small-run"];
        string[] train = ["train", "--data", small, "--out", smallRun, "--hidden", "8", "--latent", "2",
            "--epochs", "1", "--batch", "8", "--no-pictures"];
        Assert.That(Cli.Run(train).Code, Is.Zero);
        r = Cli.Run("eval", "--run", smallRun, "--data", small, "--iw-samples", "2", "--json");
        Assert.That(r.Code, Is.Zero, r.Err);
        using var smallDoc = JsonDocument.Parse(r.Out);
        Assert.That(smallDoc.RootElement.GetProperty("sample_quality_skipped").GetString(),
            Does.Contain("takes 28×28 images").And.Contain("6×5"));
    }

    [Test]
    public void Eval_semi_supervised_reports_accuracy_by_label_count_and_method()
    {
        var r = Cli.Run("eval", "--run", run, "--data", data, "--iw-samples", "2", "--json", "--classifier", classifier,
            "--semi-supervised");
        Assert.That(r.Code, Is.Zero, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var s = doc.RootElement.GetProperty("semi_supervised_accuracy");
        // 48 training images: 100 and 1,000 labels both mean all 48, reported once.
        Assert.That(s.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "48" }));
        foreach (var method in new[] { "logistic_regression", "knn" })
        {
            var m = s.GetProperty("48").GetProperty(method);
            Assert.That(m.GetProperty("draws").GetArrayLength(), Is.EqualTo(5));
            Assert.That(m.GetProperty("mean").GetDouble(), Is.InRange(0.0, 1.0));
            Assert.That(m.GetProperty("std").GetDouble(), Is.GreaterThanOrEqualTo(0.0));
        }
        // The table (drawn by Spectre.Console, which these in-process runs do not capture) must not throw either.
        Assert.That(Cli.Run("eval", "--run", run, "--data", data, "--iw-samples", "2", "--classifier", classifier,
            "--semi-supervised").Code, Is.Zero);
    }

    [TestCase("--epochs", "0", "--epochs must be at least 1")]
    [TestCase("--batch", "1", "--batch must be at least 2")]
    [TestCase("--channels", "2,3", "--channels takes three positive widths")]
    [TestCase("--hidden", "0", "--hidden must be at least 1")]
    [TestCase("--lr", "-1", "--lr must be a positive number")]
    [TestCase("--threads", "0", "--threads must be at least 1")]
    [TestCase("--batch", "500", "fewer than one batch of 500")]
    public void Classifier_train_refuses_bad_flags_in_one_line(string flag, string value, string message)
    {
        string output = root["refused-" + Guid.NewGuid().ToString("N")[..6] + ".safetensors"];
        var r = Cli.Run("classifier", "train", "--data", data, "--out", output, flag, value);
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.OneLine(), Does.Contain(message));
        Assert.That(File.Exists(output), Is.False, "nothing written");
    }

    [Test]
    public void Classifier_commands_refuse_bad_paths_and_data_in_one_line()
    {
        var r = Cli.Run("classifier", "train", "--data", data, "--out", root["no/such/folder/c.safetensors"]);
        Assert.That(r.OneLine(), Does.Contain("does not exist"));
        var tiny = root["tiny"];
        IdxFiles.WriteDataSet(tiny, train: 40, test: 10, rows: 2, cols: 2);
        r = Cli.Run("classifier", "train", "--data", tiny, "--out", root["t.safetensors"], "--batch", "8");
        Assert.That(r.OneLine(), Does.Contain("too small"));
        r = Cli.Run("classifier", "eval", "--classifier", root["missing.safetensors"], "--data", data);
        Assert.That(r.OneLine(), Does.Contain("no such file"));
        r = Cli.Run("classifier", "eval", "--classifier", classifier, "--data", tiny);
        Assert.That(r.OneLine(), Does.Contain("takes 28×28 images").And.Contain("2×2"));
        r = Cli.Run("eval", "--run", run, "--data", data, "--classifier", Path.Combine(run, "checkpoint.safetensors"));
        Assert.That(r.OneLine(), Does.Contain("not an infovae classifier"));
    }
}
