using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Distributed;
using InfoVae.Model;
using InfoVae.Model.Cli;
using InfoVae.Model.Data;
using InfoVae.Model.Distributed;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// Data-parallel training with ranks as threads of this process (<see cref="ThreadRanks"/>): the loss and gradients
/// summed over N ranks equal those of one process on the whole batch (float64, MLP and conv net, with uneven
/// shares), the trainer on N ranks follows the single-process trainer step by step with every replica identical,
/// and the pieces around them: batch shares, the refusal of batches that do not split, the launcher's environment.
/// </summary>
public class DataParallelTests
{
    static TrainConfig Mlp =>
        new() { InputSize = 16, Hidden = [8], Latent = 2, Batch = 7, Seed = 3, Lambda = 10, LearningRate = 1e-2 };
    static TrainConfig Conv => new()
    {
        Arch = Architecture.Conv, Channels = [2, 3, 4], Latent = 3, InputSize = 784, Batch = 5, Seed = 4, Lambda = 10,
    };

    static IEnumerable<TestCaseData> Cases()
    {
        yield return new TestCaseData(Architecture.Mlp, 2).SetName("MLP, batch 7 over 2 ranks");
        yield return new TestCaseData(Architecture.Mlp, 3).SetName("MLP, batch 7 over 3 ranks");
        yield return new TestCaseData(Architecture.Conv, 2).SetName("conv net, batch 5 over 2 ranks");
    }

    [TestCaseSource(nameof(Cases))]
    public void Loss_and_gradients_summed_over_ranks_equal_one_process_on_the_whole_batch(Architecture arch, int ranks)
    {
        var cfg = arch == Architecture.Mlp ? Mlp : Conv;
        int b = cfg.Batch, z = cfg.Latent, d = cfg.InputSize;
        var x = Rand.Uniform(b * d, 1, 0, 1); var eps = Rand.Normal(b * z, 2); var prior = Rand.Normal(b * z, 3);
        var init = new InfoVaeNet<double>(cfg, CpuBackend<double>.Instance);
        init.Params.Initialize(cfg.Seed);
        var weights = init.Params.All.ToArray();

        var one = Step(cfg, weights, SingleProcess.Instance, x, eps, prior);
        var parts = ThreadRanks.Run(ranks, comm => Step(cfg, weights, comm, x, eps, prior));

        Close.Assert(new[] { one.Recon }, new[] { parts.Sum(p => p.Recon) }, 1e-12, 1e-12,
            "recon: the ranks' shares add up");
        Close.Assert(new[] { one.Kl }, new[] { parts.Sum(p => p.Kl) }, 1e-12, 1e-12, "KL: the ranks' shares add up");
        foreach (var p in parts)
            Close.Assert(new[] { one.Mmd }, new[] { p.Mmd }, 1e-14, 1e-12, "MMD² of the whole batch, on every rank");
        var summed = parts.Select(p => p.Grad).Aggregate((a, g) => a.Zip(g, (u, v) => u + v).ToArray());
        Close.Assert(one.Grad, summed, 1e-11, 1e-9, "parameter gradients summed over the ranks");
        foreach (var p in parts) Close.Assert(one.Buffers, p.Buffers, 1e-14, 1e-12, "batch norm's running statistics");
        Assert.That(parts[0].Grad.Zip(one.Grad).Any(g => Math.Abs(g.First - g.Second) > 1e-6),
            "one rank's gradient alone is not the whole batch's");
    }

    sealed record Terms(double Recon, double Kl, double Mmd, double[] Grad, double[] Buffers);

    /// <summary>One rank's forward and backward on its share of the batch (one process: the whole batch).</summary>
    static Terms Step(TrainConfig cfg, double[] weights, ICommunicator comm, double[] x, double[] eps, double[] prior)
    {
        int b = cfg.Batch, z = cfg.Latent, d = cfg.InputSize;
        var net = new InfoVaeNet<double>(cfg, CpuBackend<double>.Instance) { Replicas = comm, Training = true };
        net.Params.All.CopyFrom(weights);
        net.Params.ResetBuffers();
        var share = BatchShare.Of(b, comm.Rank, comm.Size);
        var xs = Tensor<double>.From(x.AsSpan(share.Offset * d, share.Count * d), new Shape(share.Count, d));
        var es = Tensor<double>.From(eps.AsSpan(share.Offset * z, share.Count * z), new Shape(share.Count, z));
        var ps = Tensor<double>.From(prior, new Shape(b, z));
        var tape = Tape<double>.Current;
        tape.Reset();
        net.Params.ZeroGrad();
        var t = net.Loss(xs, es, ps, share);
        var terms = (t.Recon.Item(), t.Kl.Item(), t.Mmd.Item());
        t.Total.Backward();
        tape.Reset();
        net.Params.MaterializeGrads();
        return new Terms(terms.Item1, terms.Item2, terms.Item3, net.Params.AllGrad.ToArray(),
            net.Params.AllBuffers?.ToArray() ?? []);
    }

    static LabeledImages Images(int n, int side, int seed)
    {
        var px = Rand.UniformF(n * side * side, seed, 0, 1);
        return new LabeledImages(px, new byte[n], side, side);
    }

    static IEnumerable<TestCaseData> TrainerCases()
    {
        // 40 images in batches of 8: 5 steps an epoch, 4 rows per rank.
        var mlp = new TrainConfig
        {
            InputSize = 16, Hidden = [16], Latent = 2, Epochs = 2, Lambda = 10, LearningRate = 1e-2,
        };
        yield return new TestCaseData(mlp with { Batch = 8, Seed = 5 }, 40, 4, 2).SetName("MLP on 2 ranks");
        // 40 images in batches of 9: the last batch of 4 splits 1, 1, 2 over 3 ranks.
        yield return new TestCaseData(mlp with { Batch = 9, Seed = 6 }, 40, 4, 3)
            .SetName("MLP on 3 ranks, uneven last batch");
        yield return new TestCaseData(Conv with { Batch = 8, Epochs = 1 }, 24, 28, 2).SetName("conv net on 2 ranks");
    }

    [TestCaseSource(nameof(TrainerCases))]
    public void The_trainer_on_ranks_follows_the_single_process_trainer_and_keeps_the_replicas_identical(
        TrainConfig cfg, int images, int side, int ranks)
    {
        var data = Images(images, side, 7);
        var one = new Trainer(cfg, data, CpuBackend<float>.Instance);
        one.InitializeWeights();
        var oneLosses = new List<double>();
        while (!one.Finished) oneLosses.Add(one.TrainStep().Total);

        var replicas = ThreadRanks.Run(ranks, comm =>
        {
            var t = new Trainer(cfg, data, CpuBackend<float>.Instance, comm);
            t.InitializeWeights();
            var losses = new List<double>();
            while (!t.Finished) losses.Add(t.TrainStep().Total);
            return (Params: t.Net.Params.All.ToArray(), Buffers: t.Net.Params.AllBuffers?.ToArray() ?? [],
                Losses: losses, Sum: ReplicaState.Checksum(t));
        });
        for (int r = 1; r < ranks; r++)
        {
            Assert.That(replicas[r].Params, Is.EqualTo(replicas[0].Params),
                $"rank {r}'s weights are rank 0's, bit for bit");
            Assert.That(replicas[r].Sum, Is.EqualTo(replicas[0].Sum),
                $"rank {r}'s whole state (moments, buffers, position, generator)");
        }
        Close.Assert(oneLosses.ToArray(), replicas[0].Losses.ToArray(), 1e-6, 1e-5, "every step's loss");
        Close.Assert(one.Net.Params.All.ToArray(), replicas[0].Params, 1e-6, 1e-4, "final weights");
        Close.Assert(one.Net.Params.AllBuffers?.ToArray() ?? [], replicas[0].Buffers, 1e-6, 1e-4,
            "final running statistics");
    }

    [Test]
    public void A_batch_share_is_an_even_slice_and_the_shares_cover_the_batch()
    {
        Assert.That(Enumerable.Range(0, 4).Select(r => BatchShare.Of(256, r, 4)),
            Is.EqualTo(new[] { new BatchShare(0, 64, 256), new(64, 64, 256), new(128, 64, 256), new(192, 64, 256) }));
        for (int total = 1; total < 40; total++)
            for (int n = 1; n <= total; n++)
            {
                var shares = Enumerable.Range(0, n).Select(r => BatchShare.Of(total, r, n)).ToArray();
                Assert.That(shares.Sum(s => s.Count), Is.EqualTo(total));
                Assert.That(shares.Max(s => s.Count) - shares.Min(s => s.Count), Is.LessThanOrEqualTo(1),
                    $"{total} over {n}");
                for (int r = 1; r < n; r++)
                    Assert.That(shares[r].Offset, Is.EqualTo(shares[r - 1].Offset + shares[r - 1].Count));
            }
    }

    [Test]
    public void A_batch_that_does_not_split_over_the_ranks_is_refused_with_the_fix()
    {
        var cfg = new TrainConfig { Batch = 255 };
        var e = Assert.Throws<UserError>(() => TrainCommand.CheckSplit(cfg, 4096, 2, resuming: false))!;
        Assert.That(e.Message,
            Does.Contain("--batch 255 does not split evenly over 2 ranks").And.Contain("--batch 256"));
        e = Assert.Throws<UserError>(() => TrainCommand.CheckSplit(cfg, 4096, 4, resuming: true))!;
        Assert.That(e.Message, Does.Contain("the run's batch of 255 does not split evenly over 4 ranks"));
        var b256 = new TrainConfig { Batch = 256 };
        e = Assert.Throws<UserError>(() => TrainCommand.CheckSplit(b256, 4097, 2, resuming: false))!;
        Assert.That(e.Message, Does.Contain("the last batch of each epoch holds 1 image(s)"));
        Assert.DoesNotThrow(() => TrainCommand.CheckSplit(b256, 60000, 64, resuming: false));   // last batch 96
        Assert.DoesNotThrow(() => TrainCommand.CheckSplit(cfg, 4096, 1, resuming: false));
    }

    [Test]
    public void The_launchers_environment_says_whether_this_is_one_rank_of_many()
    {
        static Func<string, string?> Env(params (string, string)[] vars) =>
            name => vars.FirstOrDefault(v => v.Item1 == name).Item2;
        Assert.That(Launch.IsParallel(Env()), Is.False);
        var ompi = Env(("OMPI_COMM_WORLD_SIZE", "4"), ("OMPI_COMM_WORLD_RANK", "3"));
        Assert.That((Launch.Size(ompi), Launch.Rank(ompi)), Is.EqualTo((4, 3)));
        Assert.That(Launch.IsParallel(Env(("OMPI_COMM_WORLD_SIZE", "1"))), Is.False, "mpirun -np 1 needs no MPI");
        Assert.That(Launch.Size(Env(("PMI_SIZE", "2"), ("PMI_RANK", "1"))), Is.EqualTo(2));
        Assert.That(Launch.Size(Env(("PMIX_RANK", "0"))), Is.EqualTo(0), "PMIx: a launcher that does not say how many");
        Assert.That(Launch.IsParallel(Env(("SLURM_PROCID", "0"), ("SLURM_NTASKS", "8"))), Is.False,
            "an sbatch script is one process");
        Assert.That(Launch.Size(Env(("SLURM_PROCID", "5"), ("SLURM_STEP_NUM_TASKS", "8"))), Is.EqualTo(8), "srun");
    }
}
