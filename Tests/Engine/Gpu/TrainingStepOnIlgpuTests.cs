using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Gpu;
using InfoVae.Model;
using InfoVae.Model.Data;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Engine.Gpu;

/// <summary>
/// Whole InfoVAE training steps (batch upload, noise draws, forward, loss, backward, Adam) on the ILGPU backend
/// (ILGPU's CPU accelerator running the GPU kernels) against the SIMD CPU backend: losses and weights to 1e-4,
/// with the MMD and with the adversarial divergence (its discriminator uses only ops the GPU already has).
/// </summary>
public class TrainingStepOnIlgpuTests
{
    [TestCase(Divergence.Mmd)]
    [TestCase(Divergence.Adversarial)]
    public void Two_training_steps_match_the_cpu_backend(Divergence divergence)
    {
        using var gpu = Devices.StartIlgpuCpu();
        var cfg = new TrainConfig
        {
            InputSize = 20, Hidden = [9, 7], Latent = 3, Batch = 5, Lambda = 50, Seed = 3,
            Divergence = divergence, DiscHidden = [8, 6],
        };
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
        Close.Assert<float, float>(w, dev.Net.Params.All.ToArray(), atol: 1e-5, rtol: 1e-4, "weights after 2 Adam steps");
        if (divergence == Divergence.Adversarial)
            Close.Assert<float, float>(cpu.Net.Disc!.Params.All.ToArray(), dev.Net.Disc!.Params.All.ToArray(),
                atol: 1e-5, rtol: 1e-4,
                "discriminator weights after 2 Adam steps");
        Tape<float>.Current.Reset();
    }
}
