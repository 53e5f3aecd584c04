using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Gpu;
using InfoVae.Model;
using InfoVae.Model.Data;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Engine.Gpu;

/// <summary>
/// Whole InfoVAE training steps on the ILGPU backend (ILGPU's CPU accelerator running the GPU kernels) against the
/// SIMD CPU backend. The weights after an Adam step say little about the gradient's size (Adam divides by its
/// running magnitude: a first step moves every weight by lr·sign(g) whatever |g| is), so one step's loss terms and
/// every parameter's gradient are compared directly, at tolerances a 1 % error breaks by far; then two whole
/// training steps (batch upload, noise draws, Adam) must agree too, with the MMD and with the adversarial divergence
/// (its discriminator uses only ops the GPU already has).
/// </summary>
public class TrainingStepOnIlgpuTests
{
    static readonly TrainConfig Cfg = new()
    {
        InputSize = 20, Hidden = [9, 7], Latent = 3, Batch = 5, Lambda = 50, Seed = 3,
    };

    /// <summary>
    /// Largest relative difference allowed, per loss term and per parameter tensor (‖Δg‖₂ / ‖g‖₂). Both backends run
    /// float32 with different summation orders: measured at most 2.2e-7 for the gradients and 2e-6 for the total
    /// (an MMD² that cancels). 1e-5 leaves a fivefold margin or more and is a thousand times below a 1 % error.
    /// </summary>
    const double Rtol = 1e-5;

    static (double[] Terms, float[] Grads) OneStep(IBackend<float> be)
    {
        var net = new InfoVaeNet<float>(Cfg, be);
        net.Params.Initialize(Cfg.Seed);
        var tape = Tape<float>.Current;
        tape.Reset();
        try
        {
            var x = Tensor<float>.From(Rand.UniformF(5 * 20, 8, 0, 1), new Shape(5, 20), be);
            Tensor<float> Normal(int seed) =>
                Tensor<float>.From(Array.ConvertAll(Rand.Normal(5 * 3, seed), v => (float)v), new Shape(5, 3), be);
            var eps = Normal(9);
            var prior = Normal(10);
            net.Params.ZeroGrad();
            var t = net.Loss(x, eps, prior);
            double[] terms = [t.Total.Item(), t.Recon.Item(), t.Kl.Item(), t.Mmd.Item()];
            t.Total.Backward();
            net.Params.MaterializeGrads();
            return (terms, net.Params.AllGrad.ToArray());
        }
        finally { tape.Reset(); }
    }

    [Test]
    public void One_step_gives_the_cpu_backends_loss_terms_and_every_gradient()
    {
        using var gpu = Devices.StartIlgpuCpu();
        var (cpuTerms, cpuGrads) = OneStep(CpuBackend<float>.Instance);
        var (gpuTerms, gpuGrads) = OneStep(gpu);
        string[] names = ["total", "recon", "kl", "mmd"];
        for (int i = 0; i < names.Length; i++)
        {
            TestContext.Out.WriteLine($"{names[i]}: cpu {cpuTerms[i]:R}, ilgpu {gpuTerms[i]:R}");
            Assert.That(gpuTerms[i], Is.EqualTo(cpuTerms[i]).Within(Rtol * Math.Abs(cpuTerms[i])), names[i]);
        }
        var layout = new Parameters<float>(Cfg, CpuBackend<float>.Instance).Layout;
        foreach (var e in layout)
        {
            var c = cpuGrads.AsSpan(e.Offset, e.Shape.Length); var g = gpuGrads.AsSpan(e.Offset, e.Shape.Length);
            double diff = 0, norm = 0;
            for (int i = 0; i < c.Length; i++)
            {
                diff += (double)(g[i] - c[i]) * (g[i] - c[i]);
                norm += (double)c[i] * c[i];
            }
            double rel = Math.Sqrt(diff / norm);
            TestContext.Out.WriteLine($"{e.Name}: ‖g‖ {Math.Sqrt(norm):G4}, relative difference {rel:G3}");
            Assert.That(norm, Is.GreaterThan(0), $"{e.Name}: a zero gradient would compare equal to anything scaled");
            Assert.That(rel, Is.LessThan(Rtol), $"gradient of {e.Name}");
        }
    }

    [TestCase(Divergence.Mmd)]
    [TestCase(Divergence.Adversarial)]
    public void Two_training_steps_match_the_cpu_backend(Divergence divergence)
    {
        using var gpu = Devices.StartIlgpuCpu();
        var cfg = Cfg with { Divergence = divergence, DiscHidden = [8, 6] };
        var px = Rand.UniformF(12 * 20, 8, 0, 1);
        var data = new LabeledImages(px, new byte[12], 4, 5);

        Trainer Make(IBackend<float> be) { var t = new Trainer(cfg, data, be); t.InitializeWeights(); return t; }
        var cpu = Make(CpuBackend<float>.Instance);
        var dev = Make(gpu);
        for (int step = 0; step < 2; step++)
        {
            var a = cpu.TrainStep(); var b = dev.TrainStep();
            Assert.That(b.Total, Is.EqualTo(a.Total).Within(1e-4 * Math.Abs(a.Total)), $"total, step {step}");
            Assert.That(b.Recon, Is.EqualTo(a.Recon).Within(1e-4 * Math.Abs(a.Recon)), $"recon, step {step}");
            Assert.That(b.Kl, Is.EqualTo(a.Kl).Within(1e-4 * Math.Abs(a.Kl) + 1e-6), $"kl, step {step}");
            Assert.That(b.Mmd, Is.EqualTo(a.Mmd).Within(1e-4), $"mmd, step {step}");
            Assert.That(b.Adversarial, Is.EqualTo(a.Adversarial).Within(1e-4 * Math.Abs(a.Adversarial)),
                $"generator loss, step {step}");
            Assert.That(b.Discriminator, Is.EqualTo(a.Discriminator).Within(1e-4 * Math.Abs(a.Discriminator)),
                $"discriminator loss, step {step}");
        }
        var w = cpu.Net.Params.All.ToArray();
        Close.Assert<float, float>(w, dev.Net.Params.All.ToArray(), atol: 1e-5, rtol: 1e-4,
            "weights after 2 Adam steps");
        if (divergence == Divergence.Adversarial)
            Close.Assert<float, float>(cpu.Net.Disc!.Params.All.ToArray(), dev.Net.Disc!.Params.All.ToArray(),
                atol: 1e-5, rtol: 1e-4,
                "discriminator weights after 2 Adam steps");
        Tape<float>.Current.Reset();
    }

    [Test]
    public void A_conv_training_step_and_an_evaluation_match_the_cpu_backend()
    {
        // The whole conv net (strided convs, batch norm in training mode, leaky ReLU, linear, conv-transposes with and
        // without bias) at tiny widths, then the evaluation loss with batch norm's running averages (eval mode).
        using var gpu = Devices.StartIlgpuCpu();
        var cfg = new TrainConfig
        {
            Arch = Architecture.Conv, Channels = [2, 3, 4], InputSize = 784, Latent = 3,
            Batch = 3, Lambda = 50, Seed = 5
        };
        var data = new LabeledImages(Rand.UniformF(5 * 784, 9, 0, 1), new byte[5], 28, 28);

        Trainer Make(IBackend<float> be) { var t = new Trainer(cfg, data, be); t.InitializeWeights(); return t; }
        var cpu = Make(CpuBackend<float>.Instance);
        var dev = Make(gpu);
        var a = cpu.TrainStep(); var b = dev.TrainStep();
        Assert.That(b.Total, Is.EqualTo(a.Total).Within(1e-4 * Math.Abs(a.Total)), "total");
        Assert.That(b.Recon, Is.EqualTo(a.Recon).Within(1e-4 * Math.Abs(a.Recon)), "recon");
        Assert.That(b.Kl, Is.EqualTo(a.Kl).Within(1e-4 * Math.Abs(a.Kl) + 1e-6), "kl");
        Assert.That(b.Mmd, Is.EqualTo(a.Mmd).Within(1e-4), "mmd");
        Close.Assert<float, float>(cpu.Net.Params.All.ToArray(), dev.Net.Params.All.ToArray(), atol: 1e-5,
            rtol: 1e-4, "weights after an Adam step");
        Close.Assert<float, float>(cpu.Net.Params.AllBuffers!.ToArray(), dev.Net.Params.AllBuffers!.ToArray(),
            atol: 1e-6, rtol: 1e-4, "running statistics");

        var ec = cpu.Evaluate(data); var eg = dev.Evaluate(data);
        Assert.That(eg.Total, Is.EqualTo(ec.Total).Within(1e-4 * Math.Abs(ec.Total)),
            "evaluation total (running statistics)");
        Assert.That(eg.Recon, Is.EqualTo(ec.Recon).Within(1e-4 * Math.Abs(ec.Recon)), "evaluation recon");
        Assert.That(eg.Kl, Is.EqualTo(ec.Kl).Within(1e-4 * Math.Abs(ec.Kl) + 1e-6), "evaluation kl");
        Tape<float>.Current.Reset();
    }
}
