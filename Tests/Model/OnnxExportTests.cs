using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Model;
using InfoVae.Tests.Support;
using Microsoft.ML.OnnxRuntime;
using DenseTensor = Microsoft.ML.OnnxRuntime.Tensors.DenseTensor<float>;

namespace InfoVae.Tests.Model;

/// <summary>
/// The ONNX export checked by ONNX Runtime, for the MLP and the conv net at their default sizes (weights from a
/// seed; batch norm's scale, shift and running statistics moved away from 1, 0, 0, 1 so that evaluation mode
/// counts): on 256 test-like images the exported encoder and decoder give the engine's mu, logvar, logits and
/// probabilities to 1e-5 relative, at batch 256 and image by image at batch 1.
/// </summary>
[TestFixture(Architecture.Mlp)]
[TestFixture(Architecture.Conv)]
public class OnnxExportTests(Architecture arch)
{
    const int N = 256;
    const string Config = """{ "note": "stands for the run's config.json" }""";
    TempFolder root = null!;
    InfoVaeNet<float> net = null!;
    InferenceSession encoder = null!, decoder = null!;
    float[] x = null!, z = null!, mu = null!, logvar = null!, logits = null!, probabilities = null!;
    int d, latent;

    [OneTimeSetUp]
    public void Up()
    {
        net = new InfoVaeNet<float>(new TrainConfig { Arch = arch }, CpuBackend<float>.Instance);
        net.Params.Initialize(3);
        MoveNormStatistics(net.Params, seed: 4);
        (d, latent) = (net.Config.InputSize, net.Config.Latent);
        x = TestLikeImages(N, seed: 5);
        z = Array.ConvertAll(Rand.Normal(N * latent, seed: 6), v => (float)v);

        var tape = Tape<float>.Current;
        using (tape.NoGrad())
        {
            var (m, l) = net.Encode(Tensor<float>.From(x, new Shape(N, d)));
            var y = net.Decode(Tensor<float>.From(z, new Shape(N, latent)));
            (mu, logvar, logits, probabilities) = (m.ToArray(), l.ToArray(), y.ToArray(), y.Sigmoid().ToArray());
            tape.Reset();
        }

        root = new TempFolder();
        OnnxExport.Write(net, root["onnx"], Config);
        encoder = new InferenceSession(Path.Combine(root["onnx"], OnnxExport.EncoderFile));
        decoder = new InferenceSession(Path.Combine(root["onnx"], OnnxExport.DecoderFile));
    }

    [OneTimeTearDown]
    public void Down()
    {
        encoder?.Dispose();
        decoder?.Dispose();
        root?.Dispose();
    }

    /// <summary>Pixels in [0, 1] with about half of them background (0), as in Fashion-MNIST.</summary>
    static float[] TestLikeImages(int n, int seed) =>
        Array.ConvertAll(Rand.Uniform(n * 784, seed, -1, 1), v => (float)Math.Max(0, v));

    /// <summary>Batch norm's gamma in [0.5, 1.5], beta in [-0.5, 0.5], mean in [-0.3, 0.3], var in [0.5, 2].</summary>
    static void MoveNormStatistics(Parameters<float> p, int seed)
    {
        foreach (var n in p.Norms)
        {
            int c = p.Tensors[n.Gamma].Length;
            p.Tensors[n.Gamma].CopyFrom(Rand.UniformF(c, seed++, 0.5, 1.5));
            p.Tensors[n.Beta].CopyFrom(Rand.UniformF(c, seed++, -0.5, 0.5));
            p.Buffers[n.RunningMean].CopyFrom(Rand.UniformF(c, seed++, -0.3, 0.3));
            p.Buffers[n.RunningVar].CopyFrom(Rand.UniformF(c, seed++, 0.5, 2));
        }
    }

    /// <summary>The named outputs of one run of <paramref name="session"/> on rows [start, start + rows).</summary>
    static Dictionary<string, float[]> Run(InferenceSession session, string input, float[] data, int width, int start,
        int rows)
    {
        var t = new DenseTensor(data.AsMemory(start * width, rows * width), [rows, width]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(input, t)]);
        return results.ToDictionary(r => r.Name, r => r.AsEnumerable<float>().ToArray());
    }

    /// <summary>1e-5 relative, with a floor of 1e-5 of the tensor's largest magnitude for elements near zero.</summary>
    static void AssertClose(float[] expected, float[] actual, string label)
    {
        double scale = expected.Max(v => Math.Abs((double)v));
        Close.Assert(expected, actual, atol: 1e-5 * scale, rtol: 1e-5, label);
    }

    static float[] Rows(float[] a, int width, int start, int rows) => a[(start * width)..((start + rows) * width)];

    [Test]
    public void Onnx_runtime_gives_the_engines_mu_and_logvar_at_batch_256()
    {
        var o = Run(encoder, "x", x, d, 0, N);
        AssertClose(mu, o["mu"], "mu");
        AssertClose(logvar, o["logvar"], "logvar");
    }

    [Test]
    public void Onnx_runtime_gives_the_engines_logits_and_probabilities_at_batch_256()
    {
        var o = Run(decoder, "z", z, latent, 0, N);
        AssertClose(logits, o["logits"], "logits");
        AssertClose(probabilities, o["probabilities"], "probabilities");
    }

    [Test]
    public void Onnx_runtime_gives_the_same_numbers_image_by_image_at_batch_1()
    {
        for (int i = 0; i < N; i++)
        {
            var e = Run(encoder, "x", x, d, i, 1);
            AssertClose(Rows(mu, latent, i, 1), e["mu"], $"mu of image {i}");
            AssertClose(Rows(logvar, latent, i, 1), e["logvar"], $"logvar of image {i}");
            var g = Run(decoder, "z", z, latent, i, 1);
            AssertClose(Rows(logits, d, i, 1), g["logits"], $"logits of code {i}");
            AssertClose(Rows(probabilities, d, i, 1), g["probabilities"], $"probabilities of code {i}");
        }
    }

    [Test]
    public void Inputs_and_outputs_are_named_with_a_dynamic_batch_and_opset_17()
    {
        var graphs = new[]
        {
            (encoder, "x", d, new[] { "mu", "logvar" }), (decoder, "z", latent, new[] { "logits", "probabilities" }),
        };
        foreach (var (session, input, width, outputs) in graphs)
        {
            Assert.That(session.InputMetadata.Keys, Is.EqualTo(new[] { input }));
            Assert.That(session.InputMetadata[input].Dimensions, Is.EqualTo(new[] { -1, width }), "(batch, width)");
            Assert.That(session.InputMetadata[input].SymbolicDimensions[0], Is.EqualTo("batch"));
            Assert.That(session.OutputMetadata.Keys, Is.EqualTo(outputs));
            foreach (var o in outputs)
                Assert.That(session.OutputMetadata[o].Dimensions[0], Is.EqualTo(-1), $"{o}: dynamic batch");
        }
        foreach (var file in new[] { OnnxExport.EncoderFile, OnnxExport.DecoderFile })
        {
            var model = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(root["onnx"], file)));
            Assert.That(model.OpsetImport.Single(o => o.Domain == "").Version, Is.GreaterThanOrEqualTo(17), file);
            int norms = model.Graph.Node.Count(n => n.OpType == "BatchNormalization");
            Assert.That(norms, Is.EqualTo(arch == Architecture.Conv ? 3 : 0), file);
        }
    }

    [Test]
    public void Metadata_holds_the_config_and_the_version()
    {
        foreach (var session in new[] { encoder, decoder })
        {
            var meta = session.ModelMetadata;
            Assert.That(meta.ProducerName, Is.EqualTo("infovae"));
            Assert.That(meta.CustomMetadataMap["config"], Is.EqualTo(Config));
            Assert.That(meta.CustomMetadataMap["infovae_version"], Is.EqualTo(BuildInfo.Version));
            Assert.That(meta.CustomMetadataMap["infovae_commit"], Is.EqualTo(BuildInfo.Commit ?? "unknown"));
            string model = arch == Architecture.Conv ? "infovae-conv" : "infovae-mlp";
            Assert.That(meta.CustomMetadataMap["model"], Is.EqualTo(model));
        }
    }
}
