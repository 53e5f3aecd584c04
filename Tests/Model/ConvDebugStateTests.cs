using System.Globalization;
using System.Numerics;
using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Kernels.Cpu;
using InfoVae.Model;
using InfoVae.Model.IO;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// `--arch conv` against its PyTorch twin (Tests/Data/make_conv_debug_state.py): the twin's initial state dict
/// (PyTorch's NCHW layouts), a batch, the noise, every loss term and parameter gradient in training mode, the
/// batch-norm running averages after that forward, the evaluation-mode forward that reads them, and three Adam
/// steps. Our model loads the state through the same permutations export and initialisation use, and must
/// reproduce all of it: in float64 to rounding level, in float32 (the training precision) to 1e-4 relative.
/// </summary>
public class ConvDebugStateTests
{
    static readonly string Path = System.IO.Path.Combine(TestContext.CurrentContext.TestDirectory, "Data",
        "conv_debug_state.safetensors");

    static SafeTensorsFile State() => SafeTensors.Read(Path);

    static TrainConfig ConfigOf(SafeTensorsFile f) => DebugStateFile.LossConfig(f) with
    {
        Arch = Architecture.Conv,
        Channels = f.GetMetadata("channels").Split(',').Select(int.Parse).ToArray(),
    };

    static void LoadTorch<T>(Parameters<T> p, SafeTensorsFile f) where T : unmanaged, IFloatingPointIeee754<T> =>
        p.LoadTorchState((name, shape) => f.Get(name, DType.F32, shape).As<float>(),
            name => f.Get(name, DType.I64).As<long>()[0]);

    static (InfoVaeNet<T> Net, Tensor<T> X, Tensor<T> Eps, Tensor<T> Prior) Build<T>(SafeTensorsFile f)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cfg = ConfigOf(f);
        Assert.That(f.GetMetadata("format"), Is.EqualTo("infovae-conv-debug-state"));
        var net = new InfoVaeNet<T>(cfg, CpuBackend<T>.Instance);
        LoadTorch(net.Params, f);
        var (x, eps, prior) = DebugStateFile.Inputs<T>(f, cfg);
        return (net, x, eps, prior);
    }

    static double[] F64(SafeTensorsFile f, string name) => DebugStateFile.F64(f, name);

    static void CheckTerms<T>(SafeTensorsFile f, LossTerms<T> terms, string prefix, double rtol, bool withZ)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var outputs = new List<(string, Tensor<T>)> { ("mu", terms.Mu), ("logvar", terms.Logvar),
            ("logits", terms.Logits) };
        if (withZ) outputs.Add(("z", terms.Z));
        foreach (var (name, t) in outputs)
        {
            var expected = F64(f, prefix + name);
            Close.Assert<double, T>(expected, t.Contiguous().ToArray(), atol: rtol * expected.Max(Math.Abs), rtol: rtol,
                prefix + name);
        }
        foreach (var (name, t) in new[] { ("recon", terms.Recon), ("kl", terms.Kl), ("mmd", terms.Mmd),
            ("total", terms.Total) })
        {
            double e = F64(f, prefix + name).Single(), a = double.CreateTruncating(t.Item());
            // the MMD is a difference of terms of size ~7, so its float32 error is absolute, not relative
            double tol = name == "mmd" ? rtol * 10 : rtol * Math.Abs(e);
            Assert.That(a, Is.EqualTo(e).Within(tol), prefix + name);
        }
    }

    static void CheckTrainingStep<T>(double rtol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var f = State();
        var (net, x, eps, prior) = Build<T>(f);
        var tape = Tape<T>.Current;
        tape.Reset();
        net.Params.ZeroGrad();
        net.Training = true;
        var terms = net.Loss(x, eps, prior);
        net.Training = false;
        CheckTerms(f, terms, "", rtol, withZ: true);
        terms.Total.Backward();
        tape.Reset();
        foreach (var (e, t) in net.Params.Layout.Zip(net.Params.Tensors))
        {
            var torch = f.Get("grad." + e.Name, DType.F64, e.TorchShape).As<double>();
            var expected = new double[torch.Length];
            e.Order.FromTorch<double>(torch, expected);
            Close.Assert<double, T>(expected, t.Grad!.ToArray(), atol: rtol * expected.Max(Math.Abs), rtol: rtol,
                "grad." + e.Name);
        }

        // The forward updated the running averages (momentum 0.1, unbiased variance) exactly once.
        var p = net.Params;
        foreach (var (e, t) in p.BufferLayout.Zip(p.Buffers))
        {
            var expected = F64(f, "after." + e.Name);
            Close.Assert<double, T>(expected, t.ToArray(), atol: rtol * expected.Max(Math.Abs), rtol: rtol,
                "after." + e.Name);
        }
        Assert.That(p.BatchesTracked, Is.All.EqualTo(1L));

        // Evaluation mode reads those averages.
        using (tape.NoGrad())
        {
            CheckTerms(f, net.Loss(x, eps, prior), "eval.", rtol, withZ: false);
            tape.Reset();
        }
        Assert.That(p.BatchesTracked, Is.All.EqualTo(1L), "evaluation must not count batches");
    }

    static void CheckAdamLosses<T>(double rtol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var f = State();
        var (net, x, eps, prior) = Build<T>(f);
        var expected = F64(f, "adam_losses");
        var tape = Tape<T>.Current;
        net.Training = true;
        for (int step = 0; step < expected.Length; step++)
        {
            tape.Reset();
            net.Params.ZeroGrad();
            var total = net.Loss(x, eps, prior).Total;
            Assert.That(double.CreateTruncating(total.Item()), Is.EqualTo(expected[step]).Within(rtol
                * Math.Abs(expected[step])), $"loss after {step} Adam steps");
            total.Backward();
            net.AdamStep(step + 1);
        }
        net.Training = false;
        tape.Reset();
    }

    [Test]
    public void Float64_matches_pytorch_float64_training_step_running_stats_and_eval()
        => CheckTrainingStep<double>(1e-9);
    [Test] public void Float32_matches_pytorch_training_step_running_stats_and_eval() => CheckTrainingStep<float>(1e-4);
    [Test] public void Float64_adam_losses_match_pytorch() => CheckAdamLosses<double>(1e-9);
    [Test] public void Float32_adam_losses_match_pytorch() => CheckAdamLosses<float>(1e-4);

    [Test]
    public void Initial_state_equals_pytorchs_bit_for_bit_through_the_layout_permutations()
    {
        var f = State();
        var net = new InfoVaeNet<float>(ConfigOf(f), CpuBackend<float>.Instance);
        net.Params.Initialize(ulong.Parse(f.GetMetadata("seed")));
        int tensors = 0;
        foreach (var (name, shape, values, count) in net.Params.TorchState())
        {
            if (values != null) Assert.That(values, Is.EqualTo(f.Get(name, DType.F32, shape).As<float>()), name);
            else Assert.That(count, Is.EqualTo(f.Get(name, DType.I64).As<long>()[0]), name);
            tensors++;
        }
        // Every tensor of the twin's state dict, and nothing else (the file also holds x, eps, outputs, grads...).
        int stateDict = f.Tensors.Count(t => t.Name.StartsWith("encoder.") || t.Name.StartsWith("decoder."));
        Assert.That(tensors, Is.EqualTo(stateDict));
    }

    // The sums PyTorch printed for the default `--arch conv` model (channels 32,64,128, latent 32), in the file's
    // metadata.
    [TestCase(0UL)]
    [TestCase(1UL)]
    [TestCase(2UL)]
    public void The_default_conv_model_starts_where_pytorch_starts(ulong seed)
    {
        double torchSum = double.Parse(State().GetMetadata($"init_sum.{seed}"), CultureInfo.InvariantCulture);
        var net = new InfoVaeNet<float>(new TrainConfig { Arch = Architecture.Conv }, CpuBackend<float>.Instance);
        net.Params.Initialize(seed);
        double sum = net.Params.Tensors.Sum(t => t.ToArray().Sum(v => (double)v));
        Assert.That(sum, Is.EqualTo(torchSum).Within(1e-9));
    }

    [Test]
    public void Export_writes_back_exactly_the_state_dict_pytorch_wrote()
    {
        var f = State();
        var net = new InfoVaeNet<float>(ConfigOf(f), CpuBackend<float>.Instance);
        LoadTorch(net.Params, f);
        using var dir = new TempFolder();
        Export.Write(net, dir["conv.safetensors"]);
        var e = SafeTensors.Read(dir["conv.safetensors"]);
        Assert.That(e.GetMetadata("model"), Is.EqualTo("infovae-conv"));
        var expected = f.Tensors.Where(t => t.Name.StartsWith("encoder.") || t.Name.StartsWith("decoder.")).ToArray();
        Assert.That(e.Tensors.Select(t => t.Name).Order(), Is.EqualTo(expected.Select(t => t.Name).Order()));
        foreach (var t in expected)
        {
            var got = e.Get(t.Name, t.DType, t.Shape);
            Assert.That(got.Data, Is.EqualTo(t.Data), t.Name);
        }
    }
}
