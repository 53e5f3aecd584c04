using InfoVae.Engine;
using InfoVae.Engine.Gpu;
using InfoVae.Model;
using InfoVae.Model.Data;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Engine.Gpu;

/// <summary>
/// What one steady-state MLP training step costs the device in launches, blocking waits and host-to-device bytes,
/// counted on ILGPU's CPU accelerator (the same launches a GPU gets; the counts do not depend on the hidden widths).
/// Before issue #12: 108 launches and 7 waits (4 loss reads, 3 uploads that drained the queue), and the batch's
/// pixels uploaded every step.
/// </summary>
public class StepLaunchCountTests
{
    internal sealed record Counts(long Launches, long Syncs, long UploadedBytes, string Breakdown);

    internal static Counts CountOneStep(TrainConfig cfg, int images)
    {
        using var gpu = Devices.StartIlgpuCpu();
        var px = Rand.UniformF(images * cfg.InputSize, 8, 0, 1);
        int side = (int)Math.Sqrt(cfg.InputSize);
        var data = side * side == cfg.InputSize ? new LabeledImages(px, new byte[images], side, side) : new LabeledImages(px, new byte[images], 1, cfg.InputSize);
        var t = new Trainer(cfg, data, gpu);
        t.InitializeWeights();
        t.TrainStep();                         // warm-up: compiles kernels, fills the pools, keeps the data on the device
        var counts = new Dictionary<string, int>();
        gpu.Kernels.LaunchObserver = l => counts[l.Kernel] = counts.GetValueOrDefault(l.Kernel) + 1;
        long launches = gpu.Kernels.Launches, syncs = gpu.Syncs, bytes = gpu.UploadedBytes;
        t.TrainStep();
        gpu.Kernels.LaunchObserver = null;
        Tape<float>.Current.Reset();
        string breakdown = string.Join(", ", counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key).Select(p => $"{p.Key} {p.Value}"));
        return new Counts(gpu.Kernels.Launches - launches, gpu.Syncs - syncs, gpu.UploadedBytes - bytes, breakdown);
    }

    [Test]
    public void An_mlp_step_waits_once_uploads_only_indices_and_noise_and_launches_fewer_kernels()
    {
        // Two hidden layers as the default model (784-512-256-32), narrower; batch 6, latent 4, 6 prior draws.
        var cfg = new TrainConfig { InputSize = 16, Hidden = [8, 8], Latent = 4, Batch = 6, Lambda = 1000, Seed = 3 };
        var c = CountOneStep(cfg, 12);
        TestContext.Out.WriteLine($"launches {c.Launches}, syncs {c.Syncs}, uploaded {c.UploadedBytes} B: {c.Breakdown}");
        Assert.That(c.Syncs, Is.EqualTo(1), "blocking waits per step: the one read of the four loss terms");
        Assert.That(c.UploadedBytes, Is.EqualTo(4 * (6 + 6 * 4 + 6 * 4)), "bytes per step: 6 row indices, eps (6 × 4), prior (6 × 4)");
        Assert.That(c.Launches, Is.LessThan(108), "launches per step (108 before)");
    }

    [Test, Explicit("the counts at the model's batch 256 and image size: ~30 s on the CPU accelerator")]
    public void Mlp_step_at_batch_256()
    {
        var cfg = new TrainConfig { InputSize = 784, Hidden = [8, 8], Latent = 32, Batch = 256, Lambda = 1000, Seed = 3 };
        var c = CountOneStep(cfg, 256);
        TestContext.Out.WriteLine($"launches {c.Launches}, syncs {c.Syncs}, uploaded {c.UploadedBytes} B: {c.Breakdown}");
    }
}
