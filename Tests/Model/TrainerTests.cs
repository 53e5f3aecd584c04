using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Model;
using InfoVae.Model.Data;

namespace InfoVae.Tests.Model;

/// <summary>The training loop on tiny generated data: it learns, it is deterministic, and a resumed run continues bit for bit.</summary>
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
                px[i * 16 + p] = Math.Clamp(((p % 4 < 2) == (labels[i] == 0) ? 0.9f : 0.1f) + 0.1f * (float)(r.NextDouble() - 0.5), 0, 1);
        }
        return new LabeledImages(px, labels, 4, 4);
    }

    static TrainConfig Tiny => new() { InputSize = 16, Hidden = [8], Latent = 2, Batch = 6, Epochs = 3, Seed = 11, Lambda = 10, LearningRate = 1e-2 };

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

    [Test]
    public void A_run_interrupted_and_resumed_ends_bit_identical_to_an_uninterrupted_one()
    {
        var data = Images(20, 3);
        var whole = NewTrainer(Tiny, data);
        while (!whole.Finished) whole.TrainStep();

        var path = Path.Combine(Path.GetTempPath(), $"infovae-resume-{Guid.NewGuid():N}.safetensors");
        try
        {
            var first = NewTrainer(Tiny, data);
            for (int i = 0; i < 7; i++) first.TrainStep();          // stop mid-epoch (epoch 1, batch 3)
            Checkpoint.Save(path, first);

            var second = new Trainer(Tiny, data, CpuBackend<float>.Instance);   // fresh process stand-in: no init
            Checkpoint.Load(path, second);
            Assert.That((second.Step, second.Epoch, second.NextBatch), Is.EqualTo((7L, 1, 3)));
            while (!second.Finished) second.TrainStep();

            Assert.That(second.Net.Params.All.ToArray(), Is.EqualTo(whole.Net.Params.All.ToArray()), "weights");
            Assert.That(second.Net.Params.AllM.ToArray(), Is.EqualTo(whole.Net.Params.AllM.ToArray()), "Adam m");
            Assert.That(second.Step, Is.EqualTo(whole.Step));
        }
        finally { File.Delete(path); }
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

    [Test]
    public void Eval_metrics_are_consistent()
    {
        var data = Images(30, 5);
        var t = NewTrainer(Tiny with { Epochs = 5 }, data);
        while (!t.Finished) t.TrainStep();
        var rep = Evaluation.Run(t.Net, data, iwSamples: 50);
        // The importance-weighted bound is at least as tight as the ELBO (up to Monte Carlo noise).
        Assert.That(rep.IwNll, Is.LessThan(-rep.Elbo + 0.05 * Math.Abs(rep.Elbo)));
        Assert.That(rep.ActiveUnits, Is.InRange(0, 2));
        Assert.That(rep.MutualInformation, Is.InRange(-0.1, Math.Log(30) + 0.1));   // bounded by log N
    }
}
