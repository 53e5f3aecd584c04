using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Kernels.Cpu;
using InfoVae.Model;
using InfoVae.Model.Data;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// `--arch conv` below the CLI: the layout, the whole loss differentiated end to end in float64, and the trainer
/// (deterministic, resumable bit for bit with batch norm's running statistics, evaluation on those statistics).
/// Tiny channels and a few 28 × 28 images keep it fast.
/// </summary>
public class ConvNetTests
{
    static TrainConfig Tiny => new()
    {
        Arch = Architecture.Conv, Channels = [2, 3, 4], Latent = 2, Batch = 6, Epochs = 2, Seed = 11, Lambda = 10,
        LearningRate = 1e-2,
    };

    /// <summary>28 × 28 images of two classes: a bright blob top-left or bottom-right, with noise.</summary>
    static LabeledImages Images(int n, int seed)
    {
        var r = new Random(seed);
        var px = new float[n * 784]; var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = (byte)(i % 2);
            int cy = labels[i] == 0 ? 9 : 19, cx = cy;
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                {
                    double d2 = (y - cy) * (y - cy) + (x - cx) * (x - cx);
                    px[i * 784 + y * 28 + x] = (float)Math.Clamp(Math.Exp(-d2 / 30) + 0.1 * (r.NextDouble() - 0.5), 0,
                        1);
                }
        }
        return new LabeledImages(px, labels, 28, 28);
    }

    static Trainer NewTrainer(TrainConfig cfg, LabeledImages data)
    {
        var t = new Trainer(cfg, data, CpuBackend<float>.Instance);
        t.Net.Params.Initialize(cfg.Seed);
        return t;
    }

    static void AssertSameState(Trainer a, Trainer b, string what)
    {
        Assert.That(a.Net.Params.All.ToArray(), Is.EqualTo(b.Net.Params.All.ToArray()), $"{what}: weights");
        Assert.That(a.Net.Params.AllM.ToArray(), Is.EqualTo(b.Net.Params.AllM.ToArray()), $"{what}: Adam m");
        Assert.That(a.Net.Params.AllV.ToArray(), Is.EqualTo(b.Net.Params.AllV.ToArray()), $"{what}: Adam v");
        Assert.That(a.Net.Params.AllBuffers!.ToArray(), Is.EqualTo(b.Net.Params.AllBuffers!.ToArray()),
            $"{what}: running statistics");
        Assert.That(a.Net.Params.BatchesTracked, Is.EqualTo(b.Net.Params.BatchesTracked),
            $"{what}: num_batches_tracked");
        Assert.That(a.Step, Is.EqualTo(b.Step), $"{what}: step");
    }

    [Test]
    public void Layout_names_and_shapes_follow_the_pytorch_twin_channels_last()
    {
        var p = new InfoVaeNet<float>(new TrainConfig { Arch = Architecture.Conv }, CpuBackend<float>.Instance).Params;
        Assert.That(p.Layout.Select(e => $"{e.Name}{e.Shape}"), Is.EqualTo(new[]
        {
            "encoder.0.weight(32, 4, 4, 1)", "encoder.1.weight(32)", "encoder.1.bias(32)",
            "encoder.3.weight(64, 4, 4, 32)", "encoder.4.weight(64)", "encoder.4.bias(64)",
            "encoder.6.weight(128, 3, 3, 64)", "encoder.7.weight(128)", "encoder.7.bias(128)",
            "encoder.10.weight(64, 2048)", "encoder.10.bias(64)",
            "decoder.0.weight(2048, 32)", "decoder.2.weight(128)", "decoder.2.bias(128)",
            "decoder.4.weight(128, 3, 3, 64)", "decoder.5.weight(64)", "decoder.5.bias(64)",
            "decoder.7.weight(64, 4, 4, 32)", "decoder.8.weight(32)", "decoder.8.bias(32)",
            "decoder.10.weight(32, 4, 4, 1)", "decoder.10.bias(1)",
        }));
        Assert.That(p.Layout.Select(e => string.Join("x", e.TorchShape)).Take(4),
            Is.EqualTo(new[] { "32x1x4x4", "32", "32", "64x32x4x4" }));
        Assert.That(p.Layout.Single(e => e.Name == "decoder.4.weight").TorchShape, Is.EqualTo(new[] { 128, 64, 3, 3 }),
            "ConvTranspose2d: (Cin, Cout, KH, KW)");
        // conv 512 + 32768 + 73728, BN 2·(32+64+128), linear 2048·64 + 64, linear 32·2048, BN 2·(128+64+32), convT
        // 73728 + 32768 + 512 + 1
        Assert.That(p.Count, Is.EqualTo(512 + 32768 + 73728 + 448 + 131136 + 65536 + 448 + 73728 + 32768 + 513));
        Assert.That(p.BufferLayout.Select(e => e.Name).Take(2),
            Is.EqualTo(new[] { "encoder.1.running_mean", "encoder.1.running_var" }));
        Assert.That(p.BufferCount, Is.EqualTo(2 * (32 + 64 + 128 + 128 + 64 + 32)));
        Assert.That(p.NormNames,
            Is.EqualTo(new[] { "encoder.1", "encoder.4", "encoder.7", "decoder.2", "decoder.5", "decoder.8" }));
    }

    [Test]
    public void Torch_order_permutes_channels_last_to_nchw_and_back()
    {
        // A conv weight (OC=2, KH·KW=3, C=2): ours[o, k, c] = 100·o + 10·k + c must land at torch[o, c, k].
        var order = new TorchOrder(2, 3, 2, 1);
        var ours = new float[12];
        for (int o = 0; o < 2; o++)
            for (int k = 0; k < 3; k++) for (int c = 0; c < 2; c++) ours[(o * 3 + k) * 2 + c] = 100 * o + 10 * k + c;
        var torch = new float[12];
        order.ToTorch<float>(ours, torch);
        for (int o = 0; o < 2; o++) for (int c = 0; c < 2; c++) for (int k = 0; k < 3; k++)
            Assert.That(torch[(o * 2 + c) * 3 + k], Is.EqualTo(100 * o + 10 * k + c), $"torch[{o},{c},{k}]");
        var back = new float[12];
        order.FromTorch<float>(torch, back);
        Assert.That(back, Is.EqualTo(ours));
    }

    [Test]
    public void Every_parameter_gradient_matches_central_differences_in_training_mode()
    {
        var cfg = new TrainConfig
        {
            Arch = Architecture.Conv, Channels = [2, 3, 2], Latent = 2, Alpha = 0.3,
            Lambda = 10, Beta = 1.5, Batch = 3
        };
        var net = new InfoVaeNet<double>(cfg, CpuBackend<double>.Instance);
        net.Params.Initialize(seed: 7);
        // Batch norm's gamma and beta start at 1 and 0: move them so that their gradients are generic.
        var p0 = net.Params.All.ToArray();
        var jitter = Rand.Uniform(p0.Length, 9, -0.3, 0.3);
        for (int i = 0; i < p0.Length; i++) p0[i] += jitter[i] * 0.1;
        net.Params.All.CopyFrom(p0);
        var x = Tensor<double>.From(Rand.Uniform(3 * 784, 1, 0, 1), new Shape(3, 784));
        var eps = Tensor<double>.From(Rand.Normal(3 * 2, 2), new Shape(3, 2));
        var prior = Tensor<double>.From(Rand.Normal(4 * 2, 3), new Shape(4, 2));
        net.Training = true;
        try { ModelGradCheck.AllParameters(net, x, eps, prior); }
        finally { net.Training = false; Tape<double>.Current.Reset(); }
    }

    [Test]
    public void Conv_training_learns()
    {
        var data = Images(24, 1);
        var t = NewTrainer(Tiny with { Epochs = 25 }, data);
        double first = t.Evaluate(data).Total;
        while (!t.Finished) Assert.That(t.TrainStep().IsFinite);
        double last = t.Evaluate(data).Total;
        Assert.That(last, Is.LessThan(0.8 * first), $"loss {first} → {last}");
    }

    [Test]
    public void Conv_training_is_deterministic_for_a_seed_on_one_or_two_threads()
    {
        var data = Images(20, 2);
        int keep = Workers.MaxThreads;
        try
        {
            Workers.MaxThreads = 2;
            var a = NewTrainer(Tiny, data);
            while (!a.Finished) a.TrainStep();
            Workers.MaxThreads = 1;
            var b = NewTrainer(Tiny, data);
            while (!b.Finished) b.TrainStep();
            AssertSameState(a, b, "2 threads vs 1");
            Assert.That(a.Net.Params.BatchesTracked, Is.All.EqualTo(a.Step), "one training forward per step");

            var c = NewTrainer(Tiny with { Seed = 12 }, data);
            c.TrainStep();
            Assert.That(c.Net.Params.All.ToArray(), Is.Not.EqualTo(a.Net.Params.All.ToArray()), "another seed");
        }
        finally { Workers.MaxThreads = keep; }
    }

    [Test]
    public void A_conv_run_interrupted_and_resumed_ends_bit_identical_to_an_uninterrupted_one()
    {
        var data = Images(20, 3);                                   // batch 6: 6, 6, 6, 2 per epoch
        var whole = NewTrainer(Tiny, data);
        while (!whole.Finished) whole.TrainStep();

        using var dir = new TempFolder();
        var path = dir["checkpoint.safetensors"];
        var first = NewTrainer(Tiny, data);
        for (int i = 0; i < 5; i++) first.TrainStep();              // stop mid-epoch (epoch 1, batch 1)
        Checkpoint.Save(path, first);

        var second = new Trainer(Tiny, data, CpuBackend<float>.Instance);   // fresh process stand-in: no init
        Checkpoint.Load(path, second);
        Assert.That((second.Step, second.Epoch, second.NextBatch), Is.EqualTo((5L, 1, 1)));
        Assert.That(second.Net.Params.AllBuffers!.ToArray(), Is.EqualTo(first.Net.Params.AllBuffers!.ToArray()),
            "running statistics restored");
        while (!second.Finished) second.TrainStep();
        AssertSameState(whole, second, "resumed vs uninterrupted");
    }

    [Test]
    public void Evaluation_uses_the_running_statistics_and_leaves_them_alone()
    {
        var data = Images(18, 4);
        var t = NewTrainer(Tiny, data);
        for (int i = 0; i < 3; i++) t.TrainStep();
        var p = t.Net.Params;
        var buffers = p.AllBuffers!.ToArray();
        long[] tracked = [.. p.BatchesTracked];
        var a = t.Evaluate(data);
        var b = t.Evaluate(data);
        Assert.That(a, Is.EqualTo(b), "deterministic");
        Assert.That(p.AllBuffers!.ToArray(), Is.EqualTo(buffers), "evaluation must not update the running statistics");
        Assert.That(p.BatchesTracked, Is.EqualTo(tracked));
        Assert.That(t.Net.Training, Is.False, "the trainer leaves the net in evaluation mode");

        p.ResetBuffers();                                          // other running statistics: other test numbers
        Assert.That(t.Evaluate(data).Total, Is.Not.EqualTo(a.Total));
    }
}
