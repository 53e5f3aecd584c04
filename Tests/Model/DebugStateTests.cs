using System.Numerics;
using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Kernels.Cpu;
using InfoVae.Model;
using InfoVae.Model.IO;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// The strongest test we have (llm.c's test_gpt2): PyTorch's twin of this model (Tests/Data/make_debug_state.py)
/// wrote its initial weights, a batch, the noise, every loss term, every parameter gradient and the losses of
/// three Adam steps. Our model loads the same weights and noise and must reproduce all of it: in float64 to
/// rounding level, and in float32 (the training precision) to 1e-4 relative.
/// </summary>
public class DebugStateTests
{
    static readonly string Path = System.IO.Path.Combine(TestContext.CurrentContext.TestDirectory, "Data",
        "debug_state.safetensors");

    static SafeTensorsFile State() => SafeTensors.Read(Path);

    static TrainConfig ConfigOf(SafeTensorsFile f) => DebugStateFile.LossConfig(f) with
    {
        Hidden = f.GetMetadata("hidden").Split(',').Select(int.Parse).ToArray()
    };

    static (InfoVaeNet<T> Net, Tensor<T> X, Tensor<T> Eps, Tensor<T> Prior) Build<T>(SafeTensorsFile f)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var cfg = ConfigOf(f);
        Assert.That(f.GetMetadata("format"), Is.EqualTo("infovae-debug-state"));
        var net = new InfoVaeNet<T>(cfg, CpuBackend<T>.Instance);
        foreach (var (e, t) in net.Params.Layout.Zip(net.Params.Tensors))
            t.CopyFrom(DebugStateFile.Convert<T>(f.Get(e.Name, DType.F32, e.Shape.ToArray()).As<float>()));
        var (x, eps, prior) = DebugStateFile.Inputs<T>(f, cfg);
        return (net, x, eps, prior);
    }

    static double[] F64(SafeTensorsFile f, string name) => DebugStateFile.F64(f, name);

    static double Scalar(SafeTensorsFile f, string name) => F64(f, name).Single();

    static void CheckForwardAndGradients<T>(double rtol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var f = State();
        var (net, x, eps, prior) = Build<T>(f);
        var tape = Tape<T>.Current;
        tape.Reset();
        net.Params.ZeroGrad();
        var terms = net.Loss(x, eps, prior);
        foreach (var (name, t) in new[] { ("mu", terms.Mu), ("logvar", terms.Logvar), ("z", terms.Z),
            ("logits", terms.Logits) })
        {
            var expected = F64(f, name);
            Close.Assert<double, T>(expected, t.Contiguous().ToArray(), atol: rtol * expected.Max(Math.Abs), rtol: rtol,
                name);
        }
        foreach (var (name, t) in new[] { ("recon", terms.Recon), ("kl", terms.Kl), ("mmd", terms.Mmd),
            ("total", terms.Total) })
        {
            double e = Scalar(f, name), a = double.CreateTruncating(t.Item());
            // the MMD is a difference of terms of size ~7, so its float32 error is absolute, not relative
            double tol = name == "mmd" ? rtol * 10 : rtol * Math.Abs(e);
            Assert.That(a, Is.EqualTo(e).Within(tol), name);
        }
        terms.Total.Backward();
        tape.Reset();
        foreach (var (e, t) in net.Params.Layout.Zip(net.Params.Tensors))
        {
            var expected = f.Get("grad." + e.Name, DType.F64, e.Shape.ToArray()).As<double>();
            Close.Assert<double, T>(expected, t.Grad!.ToArray(), atol: rtol * expected.Max(Math.Abs), rtol: rtol,
                "grad." + e.Name);
        }
    }

    static void CheckAdamLosses<T>(double rtol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var f = State();
        var (net, x, eps, prior) = Build<T>(f);
        var expected = F64(f, "adam_losses");
        var tape = Tape<T>.Current;
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
        tape.Reset();
    }

    [Test]
    public void Float64_matches_pytorch_float64_forward_and_every_gradient()
        => CheckForwardAndGradients<double>(1e-9);
    [Test] public void Float32_matches_pytorch_forward_and_every_gradient() => CheckForwardAndGradients<float>(1e-4);
    [Test] public void Float64_adam_losses_match_pytorch() => CheckAdamLosses<double>(1e-9);
    [Test] public void Float32_adam_losses_match_pytorch() => CheckAdamLosses<float>(1e-4);
}
