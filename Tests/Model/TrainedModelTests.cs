using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InfoVae.Engine;
using InfoVae.Model;
using InfoVae.Model.Data;
using InfoVae.Tests.Support;
using Microsoft.ML.OnnxRuntime;

namespace InfoVae.Tests.Model;

/// <summary>
/// A run folder used as a library (<see cref="TrainedModel"/>: per-image scores) and through `export --format onnx`,
/// on a tiny MLP run trained here; and `--version`.
/// </summary>
public class TrainedModelTests
{
    TempFolder root = null!;
    string data = null!, run = null!;
    LabeledImages test = null!;

    [OneTimeSetUp]
    public void Up()
    {
        root = new TempFolder();
        data = root["data"];
        IdxFiles.WriteDataSet(data, train: 24, test: 10);
        run = root["run"];
        var r = Cli.Run("train", "--hidden", "8", "--latent", "2", "--data", data, "--out", run, "--epochs", "1",
            "--batch", "8", "--no-pictures");
        Assert.That(r.Code, Is.Zero, r.Err + r.Out);
        test = DataSet.Load(data).Test;
    }

    [OneTimeTearDown] public void Down() => root.Dispose();

    [Test]
    public void Per_image_iw_nll_averages_to_evals_iw_nll()
    {
        var model = TrainedModel.Load(run);
        var perImage = model.ImportanceWeightedNll(test, samples: 7);
        Assert.That(perImage, Has.Length.EqualTo(10));
        Assert.That(perImage.Distinct().Count(), Is.GreaterThan(1), "one score per image, not one for all");
        Assert.That(perImage.Average(), Is.EqualTo(Evaluation.Run(model.Net, test, 7).IwNll).Within(1e-10).Percent);
    }

    [Test]
    public void Reconstruction_error_is_the_cross_entropy_of_decoding_the_posterior_mean()
    {
        var model = TrainedModel.Load(run);
        var (mu, _) = model.Encode(test);
        float[] logits;
        var tape = Tape<float>.Current;
        using (tape.NoGrad())
        {
            logits = model.Net.Decode(Tensor<float>.From(mu, new Shape(test.Count, model.Config.Latent))).ToArray();
            tape.Reset();
        }
        var errors = model.ReconstructionError(test);
        for (int i = 0; i < test.Count; i++)
        {
            double bce = 0;    // softplus(l) − x·l, summed over the pixels
            for (int p = 0; p < test.PixelsPerImage; p++)
            {
                double l = logits[i * test.PixelsPerImage + p], x = test.Image(i)[p];
                bce += Math.Max(l, 0) + Math.Log(1 + Math.Exp(-Math.Abs(l))) - x * l;
            }
            Assert.That(errors[i], Is.EqualTo(bce).Within(1e-3).Percent, $"image {i}");
        }
    }

    [Test]
    public void Images_of_another_size_are_refused_in_one_line()
    {
        var model = TrainedModel.Load(run);
        var small = new LabeledImages(new float[2 * 16], [0, 1], 4, 4);
        UserErrors.Expect(() => model.ReconstructionError(small), "4×4", "784 pixels");
        UserErrors.Expect(() => model.ImportanceWeightedNll(test, samples: 0), "at least 1 sample");
        UserErrors.Expect(() => TrainedModel.Load(root["nowhere"]), "does not exist");
    }

    [Test]
    public void Export_format_onnx_writes_an_encoder_that_onnx_runtime_runs_like_the_engine()
    {
        var folder = root["onnx-" + Guid.NewGuid().ToString("N")[..6]];
        var r = Cli.Run("export", "--run", run, "--format", "onnx", "--out", folder);
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Out, Does.Contain("encoder.onnx").And.Contain("decoder.onnx"));
        var written = Directory.GetFiles(folder).Select(Path.GetFileName).Order();
        Assert.That(written, Is.EqualTo(new[] { "decoder.onnx", "encoder.onnx" }), "no temporary files left");

        var (mu, logvar) = TrainedModel.Load(run).Encode(test);
        using var session = new InferenceSession(Path.Combine(folder, "encoder.onnx"));
        var x = new Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>(test.Pixels, [test.Count, test.PixelsPerImage]);
        using var outputs = session.Run([NamedOnnxValue.CreateFromTensor("x", x)]);
        float[] Output(string name) => outputs.Single(o => o.Name == name).AsEnumerable<float>().ToArray();
        Close.Assert(mu, Output("mu"), 1e-6, 1e-5, "mu");
        Close.Assert(logvar, Output("logvar"), 1e-6, 1e-5, "logvar");
        // The run's config (config.json's content, compact), with the data's folder and SHA-256.
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")));
        var stored = JsonNode.Parse(session.ModelMetadata.CustomMetadataMap["config"]);
        Assert.That(JsonNode.DeepEquals(stored, config), session.ModelMetadata.CustomMetadataMap["config"]);
        Assert.That(stored!["data"]!["sha256"]!.AsObject(), Has.Count.EqualTo(4));
    }

    [Test]
    public void Export_refuses_an_unknown_format_and_an_onnx_out_that_is_a_file()
    {
        var line = Cli.Run("export", "--run", run, "--format", "pt", "--out", root["x.pt"]).OneLine();
        Assert.That(line, Does.Contain("safetensors").And.Contain("onnx"));
        var file = root["a-file"];
        File.WriteAllText(file, "keep me");
        line = Cli.Run("export", "--run", run, "--format", "onnx", "--out", file).OneLine();
        Assert.That(line, Does.Contain("is a file").And.Contain("folder"));
        Assert.That(File.ReadAllText(file), Is.EqualTo("keep me"));
    }

    [Test]
    public void Version_prints_the_version_and_the_commit()
    {
        var r = Cli.Run("--version");
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Out.TrimEnd(), Is.EqualTo(BuildInfo.Describe()));
        Assert.That(BuildInfo.Version, Does.Match(@"^\d+\.\d+\.\d+"));
        // Built from a git checkout (CI's clone, a developer's), the commit is there; elsewhere it says it is unknown.
        bool fromGit = AncestorWith(AppContext.BaseDirectory, ".git") != null;
        Assert.That(r.Out, fromGit ? Does.Match(@"\(commit [0-9a-f]{40}\)") : Does.Contain("(commit unknown"));
    }

    static string? AncestorWith(string start, string name)
    {
        for (var dir = new DirectoryInfo(start); dir != null; dir = dir.Parent)
            if (Path.Exists(Path.Combine(dir.FullName, name))) return dir.FullName;
        return null;
    }
}
