using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Model;
using InfoVae.Model.Data;

namespace InfoVae.Tests.Model;

/// <summary>
/// The training loop on tiny generated data: it learns, it is deterministic, and a resumed run continues bit for bit.
/// </summary>
public class TrainerTests
{
    static LabeledImages Images(int n, int seed)
    {
        // Two classes of 4×4 "images": a bright left half or a bright right half, with noise.
        var r = new Random(seed);
        var px = new float[n * 16]; var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            labels[i] = (byte)(i % 2);
            for (int p = 0; p < 16; p++)
                px[i * 16 + p] = Math.Clamp(((p % 4 < 2) == (labels[i] == 0) ? 0.9f : 0.1f)
                    + 0.1f * (float)(r.NextDouble() - 0.5), 0, 1);
        }
        return new LabeledImages(px, labels, 4, 4);
    }

    static TrainConfig Tiny => new()
    {
        InputSize = 16, Hidden = [8], Latent = 2, Batch = 6, Epochs = 3, Seed = 11,
        Lambda = 10, LearningRate = 1e-2
    };

    static Trainer NewTrainer(TrainConfig cfg, LabeledImages data)
    {
        var t = new Trainer(cfg, data, CpuBackend<float>.Instance);
        t.InitializeWeights();
        return t;
    }

    [Test]
    public void Loss_goes_down()
    {
        var data = Images(40, 1);
        var t = NewTrainer(Tiny with { Epochs = 150, Hidden = [32] }, data);
        double first = t.Evaluate(data).Total;
        while (!t.Finished) Assert.That(t.TrainStep().IsFinite);
        double last = t.Evaluate(data).Total;
        Assert.That(last, Is.LessThan(0.8 * first), $"loss {first} → {last}");
    }

    [Test]
    public void A_training_step_on_the_cpu_allocates_nothing_once_warm()
    {
        // 20 images, batch 6: batches of 6 and 2 seen in the first epoch (kept tensors, pools, the tape's nodes); in
        // the second, past its first step (the shuffle), every step must run on what is kept: no managed allocation
        // on this thread (the batch gather, the noise, the loss read included).
        var t = NewTrainer(Tiny, Images(20, 2));
        for (int i = 0; i < 5; i++) t.TrainStep();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) t.TrainStep();                // steps 2-4 of epoch 2: batches of 6, 6 and 2
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero, "bytes allocated by three steps");
    }

    [Test]
    public void The_last_partial_batch_is_kept_and_epochs_count_right()
    {
        var t = NewTrainer(Tiny, Images(20, 2));                 // 20 images, batch 6: 6, 6, 6, 2
        Assert.That(t.BatchesPerEpoch, Is.EqualTo(4));
        for (int i = 0; i < 4; i++) t.TrainStep();
        Assert.That((t.Epoch, t.NextBatch, t.Step), Is.EqualTo((1, 0, 4L)));
    }

    [Test]
    public void Shuffle_is_a_seeded_permutation_that_changes_every_epoch()
    {
        var a = new int[100]; var b = new int[100]; var c = new int[100];
        Batches.Shuffle(a, 5, 0); Batches.Shuffle(b, 5, 0); Batches.Shuffle(c, 5, 1);
        Assert.That(a, Is.EqualTo(b));
        Assert.That(a, Is.Not.EqualTo(c));
        Assert.That(a.Order(), Is.EqualTo(Enumerable.Range(0, 100)));
    }

    static TrainConfig TinyWith(Divergence divergence) =>
        divergence == Divergence.Adversarial ? Tiny with { Divergence = divergence, DiscHidden = [6, 5] } : Tiny;

    [TestCase(Divergence.Mmd)]
    [TestCase(Divergence.Adversarial)]
    public void A_run_interrupted_and_resumed_ends_bit_identical_to_an_uninterrupted_one(Divergence divergence)
    {
        var cfg = TinyWith(divergence);
        var data = Images(20, 3);
        var whole = NewTrainer(cfg, data);
        while (!whole.Finished) whole.TrainStep();

        var path = Path.Combine(Path.GetTempPath(), $"infovae-resume-{Guid.NewGuid():N}.safetensors");
        try
        {
            var first = NewTrainer(cfg, data);
            for (int i = 0; i < 7; i++) first.TrainStep();          // stop mid-epoch (epoch 1, batch 3)
            Checkpoint.Save(path, first);

            var second = new Trainer(cfg, data, CpuBackend<float>.Instance);   // fresh process stand-in: no init
            Checkpoint.Load(path, second);
            Assert.That((second.Step, second.Epoch, second.NextBatch), Is.EqualTo((7L, 1, 3)));
            while (!second.Finished) second.TrainStep();

            Assert.That(second.Net.Params.All.ToArray(), Is.EqualTo(whole.Net.Params.All.ToArray()), "weights");
            Assert.That(second.Net.Params.AllM.ToArray(), Is.EqualTo(whole.Net.Params.AllM.ToArray()), "Adam m");
            Assert.That(second.Net.Params.AllV.ToArray(), Is.EqualTo(whole.Net.Params.AllV.ToArray()), "Adam v");
            if (divergence == Divergence.Adversarial)
            {
                var (a, b) = (whole.Net.Disc!.Params, second.Net.Disc!.Params);
                Assert.That(b.All.ToArray(), Is.EqualTo(a.All.ToArray()), "discriminator weights");
                Assert.That(b.AllM.ToArray(), Is.EqualTo(a.AllM.ToArray()), "discriminator Adam m");
                Assert.That(b.AllV.ToArray(), Is.EqualTo(a.AllV.ToArray()), "discriminator Adam v");
                var initial = NewTrainer(cfg, data).Net.Disc!.Params.All.ToArray();
                Assert.That(a.All.ToArray(), Is.Not.EqualTo(initial), "the discriminator trained");
            }
            Assert.That(second.Step, Is.EqualTo(whole.Step));
        }
        finally { File.Delete(path); }
    }

    [Test]
    public void The_discriminator_is_drawn_after_the_vae_so_the_vae_starts_as_in_an_mmd_run()
    {
        var data = Images(20, 3);
        var mmd = NewTrainer(Tiny, data);
        var adv = NewTrainer(TinyWith(Divergence.Adversarial), data);
        Assert.That(adv.Net.Params.All.ToArray(), Is.EqualTo(mmd.Net.Params.All.ToArray()), "VAE's initial weights");
        // The discriminator takes the generator's next draws, as a twin building it after the VAE would.
        var rng = new TorchGenerator(Tiny.Seed);
        new InfoVaeNet<float>(Tiny, CpuBackend<float>.Instance).Params.Initialize(rng);
        var disc = new Discriminator<float>(Tiny.Latent, [6, 5], CpuBackend<float>.Instance);
        disc.Params.Initialize(rng);
        Assert.That(adv.Net.Disc!.Params.All.ToArray(), Is.EqualTo(disc.Params.All.ToArray()),
            "the discriminator's initial weights");
    }

    [Test]
    public void Adversarial_training_learns_and_its_evaluation_adds_the_weighted_generator_loss()
    {
        var data = Images(40, 1);
        var cfg = TinyWith(Divergence.Adversarial) with { Epochs = 150, Hidden = [32], Lambda = 2 };
        var t = NewTrainer(cfg, data);
        var first = t.Evaluate(data);
        while (!t.Finished) Assert.That(t.TrainStep().IsFinite);
        var last = t.Evaluate(data);
        Assert.That(last.Recon, Is.LessThan(0.8 * first.Recon), $"recon {first.Recon} → {last.Recon}");
        double expected = last.Recon + last.Kl + 1 * last.Adversarial;    // β = 1, KL weight 1, α + λ − 1 = 1
        Assert.That(last.Total, Is.EqualTo(expected).Within(1e-9 * Math.Abs(last.Total)));
        Assert.That(last.Adversarial, Is.GreaterThan(0));
        Assert.That(last.Discriminator, Is.GreaterThan(0));
    }

    [Test]
    public void Evaluation_is_deterministic_and_uses_fixed_noise()
    {
        var data = Images(30, 4);
        var t = NewTrainer(Tiny, data);
        var a = t.Evaluate(data); var b = t.Evaluate(data);
        Assert.That(a, Is.EqualTo(b));
        Assert.That(a.Total, Is.EqualTo(a.Recon + a.Kl + 9 * a.Mmd).Within(1e-9 * Math.Abs(a.Total)));
    }

    /// <summary>
    /// A latent of 2 makes −log p(x) computable by quadrature (<see cref="QuadratureNll"/>): the IW-NLL with K = 1000
    /// must meet it (measured gap 1e-4 nats; a lost −log K would put it 6.9 nats below, a lost logvar term in log q
    /// would move it by Σ logvar / 2), and the ELBO bounds both. The two classes need one latent dimension, so one
    /// unit is active and the mutual information is about log 2 (measured 0.66).
    /// </summary>
    [Test]
    public void Eval_metrics_against_quadrature_and_the_two_classes()
    {
        var data = Images(30, 5);
        var t = NewTrainer(Tiny with { Epochs = 40, Hidden = [32] }, data);
        while (!t.Finished) t.TrainStep();
        var rep = Evaluation.Run(t.Net, data, iwSamples: 1000);
        double exact = QuadratureNll(t.Net, data);
        TestContext.Out.WriteLine($"-ELBO {-rep.Elbo:F4}, IW-NLL (K = 1000) {rep.IwNll:F4}, quadrature NLL {exact:F4}, "
            + $"active {rep.ActiveUnits}, MI {rep.MutualInformation:F4}");
        Assert.That(rep.IwNll, Is.EqualTo(exact).Within(0.02), "IW-NLL against the quadrature");
        Assert.That(-rep.Elbo, Is.GreaterThan(exact + 0.05), "the ELBO is a looser bound than the IW one");
        Assert.That(rep.ActiveUnits, Is.EqualTo(1), "one dimension carries the class");
        Assert.That(rep.MutualInformation, Is.InRange(0.5, Math.Log(2) + 0.15), "about log 2: which of two classes");
    }

    /// <summary>
    /// Active units count the dimensions whose mu varies over the data by more than 0.01 (sample variance, n − 1):
    /// variances 0.0105, 0.0095, 0.5 and 0 give 2; with n − 1 replaced by n the first falls to 0.00945, and with the
    /// standard deviation in place of the variance the second rises to 0.097.
    /// </summary>
    [Test]
    public void Active_units_count_dimensions_whose_mean_varies_by_more_than_one_hundredth()
    {
        const int n = 10, z = 4;
        double[] variance = [0.0105, 0.0095, 0.5, 0];
        var mu = new float[n * z];
        for (int q = 0; q < z; q++)
        {
            // ±a around 3 (five each) has sample variance a²·n/(n − 1).
            double a = Math.Sqrt(variance[q] * (n - 1) / n);
            for (int i = 0; i < n; i++) mu[i * z + q] = (float)(3 + (i % 2 == 0 ? a : -a));
        }
        Assert.That(Evaluation.ActiveUnits(mu, n, z), Is.EqualTo(2));
        Assert.That(Evaluation.ActiveUnits(mu, n, z, threshold: 0.6), Is.Zero);
    }

    /// <summary>
    /// He et al.'s MI estimator in its two limits: posteriors that all coincide carry no information (0, up to the
    /// Monte Carlo noise of 6000 draws, about 0.02), and posteriors too far apart to overlap identify the image,
    /// log b for a batch of b (here one of 1000). A lost −log b, or sampling z with exp(logvar) as the standard
    /// deviation, moves the first by 3.4 or 1.0 nats.
    /// </summary>
    [Test]
    public void Mutual_information_is_zero_for_one_posterior_and_log_n_for_disjoint_ones()
    {
        const int z = 2;
        int same = 3000;
        var mu = new float[same * z]; var lv = new float[same * z];
        Array.Fill(mu, 0.4f); Array.Fill(lv, 0.7f);
        Assert.That(Evaluation.MutualInformation(mu, lv, same, z, seed: 3), Is.EqualTo(0).Within(0.1),
            "one shared posterior");

        int apart = 1000;
        mu = new float[apart * z]; lv = new float[apart * z];
        for (int i = 0; i < apart; i++) { mu[i * z] = 1000f * i; lv[i * z] = lv[i * z + 1] = 0.3f; }
        Assert.That(Evaluation.MutualInformation(mu, lv, apart, z, seed: 3), Is.EqualTo(Math.Log(apart)).Within(0.1),
            "disjoint posteriors");
    }

    /// <summary>
    /// −log p(x) = −log ∫ p(x|z) N(z; 0, I) dz by the midpoint rule on a 2-D grid (Z = 2), image by image: 121 × 121
    /// points over mu ± 7σ of q(z|x), where the integrand lives, in double from the decoder's float logits.
    /// Shares nothing with Evaluation's sampler but the decoder.
    /// </summary>
    static double QuadratureNll(InfoVaeNet<float> net, LabeledImages data)
    {
        const int g = 121;
        int n = data.Count, d = data.PixelsPerImage;
        var mu = new float[n * 2]; var lv = new float[n * 2];
        Evaluation.Encode(net, data, mu, lv);
        var tape = Tape<float>.Current;
        var zs = new float[g * g * 2]; var xs = new float[g * g * d];
        double total = 0;
        using var _ = tape.NoGrad();
        for (int i = 0; i < n; i++)
        {
            double w0 = 7 * Math.Exp(0.5 * lv[2 * i]), w1 = 7 * Math.Exp(0.5 * lv[2 * i + 1]);
            double cell = (2 * w0 / g) * (2 * w1 / g);
            for (int a = 0; a < g; a++)
                for (int b = 0; b < g; b++)
                {
                    int r = a * g + b;
                    zs[2 * r] = (float)(mu[2 * i] + w0 * (2 * (a + 0.5) / g - 1));
                    zs[2 * r + 1] = (float)(mu[2 * i + 1] + w1 * (2 * (b + 0.5) / g - 1));
                    data.Image(i).CopyTo(xs.AsSpan(r * d, d));
                }
            var zt = Tensor<float>.From(zs, new Shape(g * g, 2));
            var xt = Tensor<float>.From(xs, new Shape(g * g, d));
            var bce = Ops.BceWithLogits(net.Decode(zt), xt).Sum(1).ToArray();
            tape.Reset(); zt.Dispose(); xt.Dispose();
            double max = double.NegativeInfinity;
            var logf = new double[g * g];
            for (int r = 0; r < g * g; r++)
            {
                double z0 = zs[2 * r], z1 = zs[2 * r + 1];
                logf[r] = -bce[r] - 0.5 * (z0 * z0 + z1 * z1) - Math.Log(2 * Math.PI);
                max = Math.Max(max, logf[r]);
            }
            double sum = 0;
            foreach (var l in logf) sum += Math.Exp(l - max);
            total -= max + Math.Log(sum * cell);
        }
        return total / n;
    }
}
