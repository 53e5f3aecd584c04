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
        var data = side * side == cfg.InputSize
            ? new LabeledImages(px, new byte[images], side, side)
            : new LabeledImages(px, new byte[images], 1, cfg.InputSize);
        var t = new Trainer(cfg, data, gpu);
        t.InitializeWeights();
        // warm-up: compiles kernels, fills the pools, keeps the data on the device
        t.TrainStep();
        var counts = new Dictionary<string, int>();
        gpu.Kernels.LaunchObserver = l => counts[l.Kernel] = counts.GetValueOrDefault(l.Kernel) + 1;
        long launches = gpu.Kernels.Launches, syncs = gpu.Syncs, bytes = gpu.UploadedBytes;
        t.TrainStep();
        gpu.Kernels.LaunchObserver = null;
        Tape<float>.Current.Reset();
        var ordered = counts.OrderByDescending(p => p.Value).ThenBy(p => p.Key);
        string breakdown = string.Join(", ", ordered.Select(p => $"{p.Key} {p.Value}"));
        return new Counts(gpu.Kernels.Launches - launches, gpu.Syncs - syncs, gpu.UploadedBytes - bytes, breakdown);
    }

    static void Report(Counts c) =>
        TestContext.Out.WriteLine($"launches {c.Launches}, syncs {c.Syncs}, " +
            $"uploaded {c.UploadedBytes} B: {c.Breakdown}");

    [Test]
    public void An_mlp_step_waits_once_uploads_only_indices_and_noise_and_launches_fewer_kernels()
    {
        // Two hidden layers as the default model (784-512-256-32), narrower; batch 6, latent 4, 6 prior draws.
        var cfg = new TrainConfig { InputSize = 16, Hidden = [8, 8], Latent = 4, Batch = 6, Lambda = 1000, Seed = 3 };
        var c = CountOneStep(cfg, 12);
        Report(c);
        Assert.That(c.Syncs, Is.EqualTo(1), "blocking waits per step: the one read of the four loss terms");
        Assert.That(c.UploadedBytes, Is.EqualTo(4 * (6 + 6 * 4 + 6 * 4)),
            "bytes per step: 6 row indices, eps (6 × 4), prior (6 × 4)");
        Assert.That(c.Launches, Is.LessThan(108), "launches per step (108 before)");
    }

    [Test]
    public void The_launch_plan_at_the_models_sizes_adds_one_stage_for_the_bce_sum()
    {
        // Batch 8 of 784 pixels crosses the same size thresholds as batch 256 (the BCE's full sum is longer than one
        // 4096-element chunk: two stages; the bias sums' 8 or 256 rows fit one 256-row column chunk; the MMD backward
        // is chunked), so this is the launch plan of the default model's step, at a size the CPU accelerator runs
        // in seconds. Latent 32 as the model; hidden widths do not change any count.
        var cfg = new TrainConfig { InputSize = 784, Hidden = [8, 8], Latent = 32, Batch = 8, Lambda = 1000, Seed = 3 };
        var c = CountOneStep(cfg, 16);
        Report(c);
        Assert.That(c.Syncs, Is.EqualTo(1));
        Assert.That(c.UploadedBytes, Is.EqualTo(4 * (8 + 8 * 32 + 8 * 32)), "8 indices, eps and prior (8 × 32 each)");
        Assert.That(c.Breakdown, Does.Contain("SumPartialsKernel 1"), "the BCE sum's second stage");
        Assert.That(c.Launches, Is.LessThan(108));
    }
}
