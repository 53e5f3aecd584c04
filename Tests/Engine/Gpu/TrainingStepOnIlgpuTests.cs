using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Gpu;
using InfoVae.Model;
using InfoVae.Model.Data;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Engine.Gpu;

/// <summary>
/// Whole InfoVAE training steps (batch upload, noise draws, forward, loss, backward, Adam) on the ILGPU backend
/// (ILGPU's CPU accelerator running the GPU kernels) against the SIMD CPU backend: losses and weights to 1e-4.
/// </summary>
public class TrainingStepOnIlgpuTests
{
    [Test]
    public void Two_training_steps_match_the_cpu_backend()
    {
        using var gpu = Devices.StartIlgpuCpu();
        var cfg = new TrainConfig { InputSize = 20, Hidden = [9, 7], Latent = 3, Batch = 5, Lambda = 50, Seed = 3 };
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
        }
        var w = cpu.Net.Params.All.ToArray();
        Close.Assert<float, float>(w, dev.Net.Params.All.ToArray(), atol: 1e-5, rtol: 1e-4, "weights after 2 Adam steps");
        Tape<float>.Current.Reset();
    }

    [Test]
    public void A_conv_training_step_and_an_evaluation_match_the_cpu_backend()
    {
        // The whole conv net (strided convs, batch norm in training mode, leaky ReLU, linear, conv-transposes with and
        // without bias) at tiny widths, then the evaluation loss with batch norm's running averages (eval mode).
        using var gpu = Devices.StartIlgpuCpu();
        var cfg = new TrainConfig { Arch = Architecture.Conv, Channels = [2, 3, 4], InputSize = 784, Latent = 3,
            Batch = 3, Lambda = 50, Seed = 5 };
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
