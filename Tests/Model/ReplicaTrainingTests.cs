using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Distributed;
using InfoVae.Kernels.Cpu;
using InfoVae.Model;
using InfoVae.Model.Data;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// The trainer with in-process replicas (<see cref="TrainConfig.Replicas"/>): it computes what as many MPI ranks
/// compute (<see cref="ThreadRanks"/>), bit for bit, on any number of threads (side by side or by turns), close to
/// one process on the whole batch; and what holds for one process holds with replicas: a batch too small to split,
/// anomaly mode on every replica's tape, no NaN into the weights, nothing allocated once warm.
/// </summary>
public class ReplicaTrainingTests
{
    int saved;

    [SetUp] public void Save() => saved = Workers.MaxThreads;

    [TearDown]
    public void Restore()
    {
        Workers.MaxThreads = saved;
        Tape<float>.Current.DetectAnomaly = false;
        Tape<float>.Current.Reset();
    }

    static TrainConfig Mlp => new()
    {
        InputSize = 16, Hidden = [16], Latent = 2, Epochs = 2, Lambda = 10, LearningRate = 1e-2, Batch = 8, Seed = 5,
    };
    static TrainConfig Conv => new()
    {
        Arch = Architecture.Conv, Channels = [2, 3, 4], Latent = 3, InputSize = 784, Batch = 8, Epochs = 1, Seed = 4,
        Lambda = 10,
    };

    static LabeledImages Images(int n, int side, int seed) =>
        new(Rand.UniformF(n * side * side, seed, 0, 1), new byte[n], side, side);

    sealed record Result(float[] Params, float[] M, float[] V, float[] Buffers, double[] Losses);

    static Result Train(TrainConfig cfg, LabeledImages data, ICommunicator? ranks = null)
    {
        var t = new Trainer(cfg, data, CpuBackend<float>.Instance, ranks);
        t.InitializeWeights();
        var losses = new List<double>();
        while (!t.Finished) losses.Add(t.TrainStep().Total);
        var p = t.Net.Params;
        return new Result(p.All.ToArray(), p.AllM.ToArray(), p.AllV.ToArray(), p.AllBuffers?.ToArray() ?? [],
            [.. losses]);
    }

    static IEnumerable<TestCaseData> Cases()
    {
        // 40 images in batches of 8: 5 steps an epoch, 4 rows per replica.
        yield return new TestCaseData(Mlp, 40, 4, 2).SetName("MLP, 2 replicas");
        // 40 images in batches of 9: the last batch of 4 splits 1, 1, 2 over 3 replicas.
        yield return new TestCaseData(Mlp with { Batch = 9, Seed = 6 }, 40, 4, 3)
            .SetName("MLP, 3 replicas, uneven last batch");
        yield return new TestCaseData(Conv, 24, 28, 2).SetName("conv net, 2 replicas (sync batch norm)");
    }

    [TestCaseSource(nameof(Cases))]
    public void Replicas_compute_what_as_many_mpi_ranks_compute_bit_for_bit(TrainConfig cfg, int images, int side,
        int n)
    {
        var data = Images(images, side, 7);
        Workers.MaxThreads = n;    // side by side
        var ours = Train(cfg with { Replicas = n }, data);
        var ranks = ThreadRanks.Run(n, comm => Train(cfg, data, comm));
        Assert.That(ours.Losses, Is.EqualTo(ranks[0].Losses), "every step's loss");
        Assert.That(ours.Params, Is.EqualTo(ranks[0].Params), "weights");
        Assert.That(ours.M, Is.EqualTo(ranks[0].M), "Adam m");
        Assert.That(ours.V, Is.EqualTo(ranks[0].V), "Adam v");
        Assert.That(ours.Buffers, Is.EqualTo(ranks[0].Buffers), "batch norm's running statistics");
    }

    [TestCaseSource(nameof(Cases))]
    public void The_bits_do_not_depend_on_the_thread_count(TrainConfig cfg, int images, int side, int n)
    {
        var data = Images(images, side, 8);
        var runs = new[] { 1, n, 2 * n + 1 }.Select(threads =>
        {
            Workers.MaxThreads = threads;   // by turns, side by side, by turns with the pool
            return (threads, result: Train(cfg with { Replicas = n }, data));
        }).ToArray();
        foreach (var (threads, r) in runs.Skip(1))
        {
            Assert.That(r.Losses, Is.EqualTo(runs[0].result.Losses), $"losses on {threads} threads vs 1");
            Assert.That(r.Params, Is.EqualTo(runs[0].result.Params), $"weights on {threads} threads vs 1");
            Assert.That(r.Buffers, Is.EqualTo(runs[0].result.Buffers), $"buffers on {threads} threads vs 1");
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Replicas_follow_one_process_on_the_whole_batch(TrainConfig cfg, int images, int side, int n)
    {
        var data = Images(images, side, 9);
        Workers.MaxThreads = 2;
        var one = Train(cfg, data);
        var ours = Train(cfg with { Replicas = n }, data);
        Close.Assert(one.Losses, ours.Losses, 1e-6, 1e-5, "every step's loss");
        Close.Assert(one.Params, ours.Params, 1e-6, 1e-4, "final weights");
        Close.Assert(one.Buffers, ours.Buffers, 1e-6, 1e-4, "final running statistics");
        Assert.That(ours.Params, Is.Not.EqualTo(one.Params), "the gradients were summed from shares");
    }

    [Test]
    public void A_batch_smaller_than_the_replicas_trains_whole_on_the_first()
    {
        // 42 images in batches of 8: five batches of 8 split over 3 replicas, then a last batch of 2 that cannot
        Workers.MaxThreads = 3;
        var data = Images(42, 4, 10);
        var cfg = Mlp with { Replicas = 3, Epochs = 1 };
        var t = new Trainer(cfg, data, CpuBackend<float>.Instance);
        t.InitializeWeights();
        var steps = new List<StepMetrics>();
        while (!t.Finished) steps.Add(t.TrainStep());
        Assert.That(steps, Has.Count.EqualTo(6));
        Assert.That(steps.All(s => s.IsFinite), "every step");
        Assert.That((t.Step, t.Epoch, t.NextBatch), Is.EqualTo((6L, 1, 0)));
        Workers.MaxThreads = 1;
        Assert.That(Train(cfg, data).Params, Is.EqualTo(t.Net.Params.All.ToArray()), "by turns, the same bits");
    }

    [Test]
    public void Anomaly_mode_checks_every_replica_and_names_the_op_where_the_nan_appeared()
    {
        // NaN pixels in the rows replica 1 takes in the first batch only (the first epoch's order is PyTorch's
        // randperm): replica 1's first layer makes the NaN. A replica that did not check its own tape would pass it
        // on through the gathered z, and replica 0 would name the MMD instead.
        var cfg = Mlp with { Replicas = 2 };
        var data = Images(40, 4, 11);
        var order = new int[40];
        new TorchGenerator(cfg.Seed).Randperm(order);
        foreach (int image in order[4..8]) data.Pixels.AsSpan(image * 16, 16).Fill(float.NaN);
        NonFiniteException Fail(TrainConfig c)
        {
            var t = new Trainer(c, data, CpuBackend<float>.Instance);
            t.InitializeWeights();
            Tape<float>.Current.DetectAnomaly = true;
            try { return Assert.Throws<NonFiniteException>(() => t.TrainStep())!; }
            finally { Tape<float>.Current.DetectAnomaly = false; }
        }
        foreach (int threads in new[] { 1, 2 })
        {
            Workers.MaxThreads = threads;
            var e = Fail(cfg);
            var whole = Fail(cfg with { Replicas = 1 });
            TestContext.Out.WriteLine($"{threads} thread(s): {e.Message}");
            Assert.That((e.Op, e.InBackward), Is.EqualTo((whole.Op, whole.InBackward)),
                "the op one process names: the first layer, in the forward pass");
            Assert.That(e.Shape, Is.EqualTo(new Shape(4, whole.Shape[1])), "replica 1's rows");
        }
    }

    [TestCase(1)]
    [TestCase(2)]
    public void A_finite_loss_with_an_infinite_gradient_changes_nothing(int threads)
    {
        Workers.MaxThreads = threads;
        var t = new Trainer(Mlp with { Replicas = 2, InputSize = 16, Hidden = [8] }, Images(12, 4, 12),
            CpuBackend<float>.Instance);
        t.InitializeWeights();
        NonFiniteGradientTests.PlantOverflowingGradient(t.Net.Params);
        var p = t.Net.Params;
        float[] values = p.All.ToArray(), m = p.AllM.ToArray(), v = p.AllV.ToArray();
        var e = Assert.Throws<NonFiniteException>(() => t.TrainStep())!;
        Assert.That((e.Parameter, e.Value), Is.EqualTo(("encoder.2.weight", double.PositiveInfinity)));
        Assert.That((t.Step, t.Epoch, t.NextBatch), Is.EqualTo((0L, 0, 0)), "the step is not counted");
        Assert.That(p.All.ToArray(), Is.EqualTo(values), "weights");
        Assert.That(p.AllM.ToArray(), Is.EqualTo(m), "Adam m");
        Assert.That(p.AllV.ToArray(), Is.EqualTo(v), "Adam v");
    }

    [Test]
    public void A_step_allocates_nothing_on_the_callers_thread_once_warm()
    {
        // replica 0 runs on the caller: its share, the sum and Adam on its slice, and the step around them. Warm
        // until the runtime compiles nothing new: a method that reaches its call count for the optimising recompile
        // allocates the runtime's bookkeeping on the calling thread (a few hundred bytes, now and then, for a while).
        Workers.MaxThreads = 2;
        var t = new Trainer(Mlp with { Replicas = 2, Batch = 6, Epochs = 100_000 }, Images(20, 4, 13),
            CpuBackend<float>.Instance);
        t.InitializeWeights();
        for (int round = 0; round < 20; round++)
        {
            long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
            for (int i = 0; i < 100; i++) t.TrainStep();
            Thread.Sleep(150);
            if (round > 0 && System.Runtime.JitInfo.GetCompiledMethodCount() == compiled) break;
        }
        while (t.NextBatch != 1) t.TrainStep();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 8; i++) t.TrainStep();                // 6, 6, 2, then a shuffle and 6, 6, 6, 2, 6
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero, "bytes allocated by eight steps");
    }
}
