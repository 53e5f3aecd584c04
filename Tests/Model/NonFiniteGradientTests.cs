using System.Text.RegularExpressions;
using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Gpu;
using InfoVae.Model;
using InfoVae.Model.Data;
using InfoVae.Model.IO;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// No NaN reaches the weights: a step whose loss is finite but some gradient is not stops before Adam writes,
/// naming the parameter tensor; every parameter and both Adam moments keep their bits. On the CPU backend and on
/// the ILGPU backend (ILGPU's CPU accelerator), and through the CLI's message (step, tensor, last good checkpoint).
/// </summary>
[TestFixture("cpu")]
[TestFixture("ilgpu-cpu")]
public class NonFiniteGradientTests(string device)
{
    IBackend<float> backend = null!;

    [OneTimeSetUp] public void Up() => backend = device == "cpu" ? CpuBackend<float>.Instance : Devices.StartIlgpuCpu();

    [OneTimeTearDown]
    public void Down()
    {
        Tape<float>.Current.Reset();
        (backend as IlgpuBackend)?.Dispose();
    }

    static readonly TrainConfig Tiny = new()
    {
        InputSize = 16, Hidden = [8], Latent = 2, Batch = 6, Lambda = 10, LearningRate = 1e-2, Seed = 5,
    };

    static LabeledImages Images(int n) => new(Rand.UniformF(n * 16, 21, 0, 1), new byte[n], 4, 4);

    static int[] Bits(Tensor<float> t) => Array.ConvertAll(t.ToArray(), BitConverter.SingleToInt32Bits);

    static void Set(Parameters<float> p, string name, Func<int, float> value)
    {
        var t = p[name];
        t.CopyFrom(Enumerable.Range(0, t.Length).Select(value).ToArray());
    }

    [Test]
    public void A_planted_inf_in_one_gradient_stops_adam_before_it_writes_anything()
    {
        var t = new Trainer(Tiny, Images(12), backend);
        t.InitializeWeights();
        t.TrainStep();                                  // non-zero moments, so "unchanged" is not "still zero"
        var net = t.Net; var p = net.Params;
        var tape = Tape<float>.Current;
        try
        {
            var x = Tensor<float>.From(Rand.UniformF(6 * 16, 31, 0, 1), new Shape(6, 16), backend);
            var eps = Tensor<float>.From(Rand.UniformF(6 * 2, 32, -1, 1), new Shape(6, 2), backend);
            var prior = Tensor<float>.From(Rand.UniformF(6 * 2, 33, -1, 1), new Shape(6, 2), backend);
            p.ZeroGrad();
            var terms = net.Loss(x, eps, prior);
            Assert.That(float.IsFinite(terms.Total.Item()), "the loss is finite");
            terms.Total.Backward();
            var grad = p["decoder.2.weight"].Grad!;
            var g = grad.ToArray();
            g[5] = float.PositiveInfinity;
            grad.CopyFrom(g);

            int[] values = Bits(p.All), m = Bits(p.AllM), v = Bits(p.AllV);
            var e = Assert.Throws<NonFiniteException>(() => net.AdamStep(2))!;
            TestContext.Out.WriteLine(e.Message);
            Assert.That((e.Parameter, e.Index, e.Value), Is.EqualTo(("decoder.2.weight", 5, double.PositiveInfinity)));
            Assert.That(e.Message,
                Does.StartWith("the gradient of decoder.2.weight (shape (16, 8)) is not finite (element 5 is +∞)"));
            Assert.That(Bits(p.All), Is.EqualTo(values), "weights");
            Assert.That(Bits(p.AllM), Is.EqualTo(m), "Adam m");
            Assert.That(Bits(p.AllV), Is.EqualTo(v), "Adam v");
        }
        finally { tape.Reset(); }
    }

    [Test]
    public void A_nan_in_the_discriminators_gradient_stops_both_nets_adam()
    {
        var cfg = Tiny with { Divergence = Divergence.Adversarial, DiscHidden = [5] };
        var t = new Trainer(cfg, Images(12), backend);
        t.InitializeWeights();
        t.TrainStep();
        var net = t.Net; var p = net.Params; var d = net.Disc!.Params;
        var tape = Tape<float>.Current;
        try
        {
            var x = Tensor<float>.From(Rand.UniformF(6 * 16, 31, 0, 1), new Shape(6, 16), backend);
            var eps = Tensor<float>.From(Rand.UniformF(6 * 2, 32, -1, 1), new Shape(6, 2), backend);
            var prior = Tensor<float>.From(Rand.UniformF(6 * 2, 33, -1, 1), new Shape(6, 2), backend);
            net.ZeroGrad();
            var terms = net.Loss(x, eps, prior);
            (terms.Total + terms.Discriminator!).Backward();
            var grad = d["discriminator.2.weight"].Grad!;
            var g = grad.ToArray();
            g[3] = float.NaN;
            grad.CopyFrom(g);

            int[] values = Bits(p.All), m = Bits(p.AllM), dValues = Bits(d.All), dm = Bits(d.AllM);
            var e = Assert.Throws<NonFiniteException>(() => net.AdamStep(2))!;
            Assert.That((e.Parameter, e.Index), Is.EqualTo(("discriminator.2.weight", 3)));
            Assert.That(Bits(p.All), Is.EqualTo(values), "the VAE's weights: checked before the VAE's Adam runs");
            Assert.That(Bits(p.AllM), Is.EqualTo(m), "the VAE's Adam m");
            Assert.That(Bits(d.All), Is.EqualTo(dValues), "the discriminator's weights");
            Assert.That(Bits(d.AllM), Is.EqualTo(dm), "the discriminator's Adam m");
        }
        finally { tape.Reset(); }
    }

    /// <summary>
    /// A finite loss with an infinite gradient, from weights alone: encoder.0's bias 1e30 makes every hidden unit
    /// 1e30, encoder.2's zero weight keeps mu = 0 and logvar = 30 (its bias), so the KL is about 1e13, finite; but
    /// ∂/∂encoder.2.weight = dlogvar · h = (e³⁰/2B) · 1e30 overflows float.
    /// </summary>
    internal static void PlantOverflowingGradient(Parameters<float> p)
    {
        Set(p, "encoder.0.bias", _ => 1e30f);
        Set(p, "encoder.2.weight", _ => 0f);
        Set(p, "encoder.2.bias", i => i < 2 ? 0f : 30f);      // (2Z): mu, then logvar
    }

    [Test]
    public void A_training_step_with_a_finite_loss_and_an_infinite_gradient_changes_nothing()
    {
        var t = new Trainer(Tiny, Images(12), backend);
        t.InitializeWeights();
        PlantOverflowingGradient(t.Net.Params);
        var p = t.Net.Params;
        int[] values = Bits(p.All), m = Bits(p.AllM), v = Bits(p.AllV);

        var e = Assert.Throws<NonFiniteException>(() => t.TrainStep())!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Parameter, Is.EqualTo("encoder.2.weight"));
        Assert.That(e.Value, Is.EqualTo(double.PositiveInfinity));
        Assert.That((t.Step, t.Epoch, t.NextBatch), Is.EqualTo((0L, 0, 0)), "the step is not counted");
        Assert.That(Bits(p.All), Is.EqualTo(values), "weights");
        Assert.That(Bits(p.AllM), Is.EqualTo(m), "Adam m");
        Assert.That(Bits(p.AllV), Is.EqualTo(v), "Adam v");
        Assert.That(Tape<float>.Current.Count, Is.Zero, "the tape is reset");
    }
}

/// <summary>
/// The same stop through `infovae train --resume`: one line with the step, the tensor, the checkpoint.
/// </summary>
public class NonFiniteGradientCliTests
{
    [Test]
    public void Resume_into_an_infinite_gradient_names_the_step_the_tensor_and_the_checkpoint()
    {
        using var root = new TempFolder();
        string data = root["data"], run = root["run"];
        IdxFiles.WriteDataSet(data, train: 24, test: 8, rows: 4, cols: 4);   // 4 steps per epoch in batches of 6
        string[] tiny = ["--data", data, "--hidden", "8", "--latent", "2", "--batch", "6", "--seed", "3",
            "--no-pictures"];
        Assert.That(Cli.Run(["train", "--out", run, "--epochs", "1", .. tiny]).Code, Is.Zero);

        // The checkpoint after epoch 1, with the weights of PlantOverflowingGradient.
        var ckpt = Path.Combine(run, "checkpoint.safetensors");
        var file = SafeTensors.Read(ckpt);
        float[] Planted(string name, int n) => name switch
        {
            "encoder.0.bias" => Enumerable.Repeat(1e30f, n).ToArray(),
            "encoder.2.weight" => new float[n],
            "encoder.2.bias" => [0f, 0f, 30f, 30f],
            _ => throw new ArgumentException(name),
        };
        var tensors = file.Tensors.Select(t => t.Name is "encoder.0.bias" or "encoder.2.weight" or "encoder.2.bias"
            ? SafeTensor.From<float>(t.Name, Planted(t.Name, (int)t.ElementCount), t.Shape) : t).ToList();
        SafeTensors.Write(ckpt, tensors, file.Metadata.Where(kv => kv.Key != SafeTensors.MetadataKey).ToDictionary());
        var before = File.ReadAllBytes(ckpt);

        var r = Cli.Run(["train", "--resume", run, "--epochs", "2", "--data", data, "--no-pictures"]);
        Assert.That(r.Code, Is.EqualTo(1), r.Err);
        var line = r.OneLine();
        TestContext.Out.WriteLine("infovae: " + line);
        string head = "training stopped at step 5 (epoch 2): the gradient of encoder.2.weight (shape (4, 8)) "
            + "is not finite (element ";
        string tail = " is +∞) although the loss is; Adam did not run, so the weights and moments are those from "
            + $"before this step; last good checkpoint: {ckpt} (step 4). Try a lower --lr; "
            + "run it again with --detect-anomaly to find the op that made it.";
        var m = Regex.Match(line, "^" + Regex.Escape(head) + @"(\d+)" + Regex.Escape(tail) + "$");
        Assert.That(m.Success, line);
        Assert.That(int.Parse(m.Groups[1].Value), Is.InRange(16, 31), "in the logvar rows (2 and 3 of (4, 8))");
        Assert.That(File.ReadAllBytes(ckpt), Is.EqualTo(before), "the checkpoint is left as it was");
    }
}
