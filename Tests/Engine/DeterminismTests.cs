using InfoVae.Engine;
using InfoVae.Kernels.Cpu;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Engine;

/// <summary>
/// One float32 training step of a small InfoVAE built from the engine's ops (B = 64 images of D = 784, hidden
/// H = 128, latent Z = 16: sizes where the GEMMs are worth splitting across threads) gives the same bits for the
/// loss and every parameter gradient when run again, and with Workers.MaxThreads = 1 and 2. Kernels must combine
/// per-thread partial results in a fixed order for this to hold (see Workers.cs).
/// </summary>
public class DeterminismTests
{
    const int B = 64, D = 784, H = 128, Z = 16;
    const ulong Seed = 20240611;

    sealed class Net
    {
        // PyTorch's (out, in) layout for the weights; encoder output is [mu | logvar] along the last axis.
        public readonly Tensor<float> Enc1W = Param(1, D, H, D), Enc1B = Param(2, D, H), Enc2W = Param(3, H, 2 * Z, H),
            Enc2B = Param(4, H, 2 * Z),
            Dec1W = Param(5, Z, H, Z), Dec1B = Param(6, Z, H), Dec2W = Param(7, H, D, H), Dec2B = Param(8, H, D);

        public Tensor<float>[] All => [Enc1W, Enc1B, Enc2W, Enc2B, Dec1W, Dec1B, Dec2W, Dec2B];

        // Uniform(−1/√in, 1/√in), PyTorch's default Linear init, seeded.
        static Tensor<float> Param(int seed, int fanIn, params int[] shape)
        {
            double r = 1 / Math.Sqrt(fanIn);
            var s = new Shape(shape);
            return Tensor<float>.From(Rand.UniformF(s.Length, seed, -r, r), s, requiresGrad: true);
        }
    }

    /// <summary>
    /// The loss: Bernoulli reconstruction + KL + λ·MMD(z, prior), with the reparameterised z = mu + exp(lv/2)·ε.
    /// </summary>
    static Tensor<float> Loss(Net net, Tensor<float> x, ulong seed)
    {
        var h = Ops.Linear(x, net.Enc1W, net.Enc1B).Relu();                   // (B, H)
        var enc = Ops.Linear(h, net.Enc2W, net.Enc2B);                        // (B, 2Z)
        var mu = enc.Slice(0, Z); var logvar = enc.Slice(Z, Z);               // (B, Z) each
        var eps = Ops.Normal<float>(new Shape(B, Z), seed, 0);
        var z = mu + (logvar * 0.5f).Exp() * eps;                             // (B, Z)
        var logits = Ops.Linear(Ops.Linear(z, net.Dec1W, net.Dec1B).Relu(), net.Dec2W, net.Dec2B);   // (B, D)
        var recon = Ops.BceWithLogits(logits, x).Sum() * (1f / B);
        var kl = Ops.GaussianKl(mu, logvar).Mean();
        var prior = Ops.Normal<float>(new Shape(B, Z), seed, Philox.BlocksFor(B * Z));
        var mmd = Ops.Mmd(z, prior, MmdSpec.Default);
        return recon + kl + mmd * 100f;
    }

    sealed record Step(float Loss, float[][] Grads);

    static Step Run(Net net, Tensor<float> x, ulong seed = Seed)
    {
        Tape<float>.Current.Reset();
        foreach (var p in net.All) p.ZeroGrad();
        var loss = Loss(net, x, seed);
        loss.Backward();
        var step = new Step(loss.Item(), net.All.Select(p => p.Grad!.ToArray()).ToArray());
        Tape<float>.Current.Reset();
        return step;
    }

    static void AssertSameBits(Step expected, Step actual, string label)
    {
        Assert.That(BitConverter.SingleToInt32Bits(actual.Loss),
            Is.EqualTo(BitConverter.SingleToInt32Bits(expected.Loss)),
            $"{label}: loss {actual.Loss:R} vs {expected.Loss:R}");
        for (int k = 0; k < expected.Grads.Length; k++)
            for (int i = 0; i < expected.Grads[k].Length; i++)
                if (BitConverter.SingleToInt32Bits(actual.Grads[k][i])
                    != BitConverter.SingleToInt32Bits(expected.Grads[k][i]))
                    Assert.Fail($"{label}: parameter {k} gradient [{i}] {actual.Grads[k][i]:R} vs "
                        + $"{expected.Grads[k][i]:R}");
    }

    Net net = null!;
    Tensor<float> x = null!;

    [SetUp]
    public void Build()
    {
        Tape<float>.Current.Reset();
        net = new Net();
        // Pixel intensities in [0, 1], some exactly 0 and 1 as in MNIST.
        var pixels = Rand.UniformF(B * D, seed: 99, lo: -0.3, hi: 1.3);
        for (int i = 0; i < pixels.Length; i++) pixels[i] = Math.Clamp(pixels[i], 0f, 1f);
        x = Tensor<float>.From(pixels, new Shape(B, D));
    }

    [TearDown]
    public void Free()
    {
        Tape<float>.Current.Reset();
        foreach (var p in net.All) { p.Grad?.Dispose(); p.Dispose(); }
        x.Dispose();
    }

    [Test]
    public void Same_seed_gives_bit_identical_loss_and_gradients_run_to_run()
    {
        var first = Run(net, x);
        Assert.That(float.IsFinite(first.Loss), $"loss {first.Loss}");
        for (int k = 0; k < first.Grads.Length; k++)
        {
            Assert.That(first.Grads[k].All(float.IsFinite), $"parameter {k}: a non-finite gradient");
            Assert.That(first.Grads[k].Any(g => g != 0),
                $"parameter {k}: an all-zero gradient (the test would prove nothing)");
        }
        AssertSameBits(first, Run(net, x), "second run");
        AssertSameBits(first, Run(net, x), "third run");
    }

    [Test]
    public void One_and_two_worker_threads_give_bit_identical_loss_and_gradients()
    {
        int saved = Workers.MaxThreads;
        try
        {
            Workers.MaxThreads = 1;
            var one = Run(net, x);
            Workers.MaxThreads = 2;
            var two = Run(net, x);
            AssertSameBits(one, two, "MaxThreads 1 vs 2");
            Workers.MaxThreads = 1;
            AssertSameBits(one, Run(net, x), "MaxThreads 1 again, after 2");
        }
        finally { Workers.MaxThreads = saved; }
    }

    [Test]
    public void A_different_seed_changes_the_step()
    {
        // Guards against a loss that ignores the noise: ε and the prior sample come from Ops.Normal with the seed.
        Assert.That(Run(net, x, Seed + 1).Loss, Is.Not.EqualTo(Run(net, x).Loss));
    }
}
