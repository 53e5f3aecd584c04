using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using InfoVae.Bench.Peer;
using InfoVae.Kernels.Cpu;
using InfoVae.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace InfoVae.Bench;

/// <summary>
/// M4 (docs/benchmarks.md): one training step (forward, loss, backward, Adam) of the canonical InfoVAE on real
/// Fashion-MNIST batches, 2 threads. Both sides cycle over the same 20 batches' worth of images (ours: a Trainer on
/// the first 20·B images, reshuffled each 20 steps; the peer: 20 batches drawn with randperm, as the anchor does).
/// Ours runs on INFOVAE_BENCH_DEVICE (cpu by default, see <see cref="BenchDevice"/>).
/// Napkin math: the six linear layers hold 1.09 M weights; forward + backward is 6 × 1.09 M × B FLOP
/// (B = 256: 1.67 GFLOP, 9 ms at 185 GFLOP/s), plus the MMD, 14·B²·32 (B = 256: 29 MFLOP; B = 1024: 470 MFLOP).
/// The GFLOP/s column counts both. Allocated should read 0 B for ours: the engine reuses its buffers.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Columns))]
public class TrainStepBench
{
    [Params(64, 256, 1024)] public int Batch;

    const int Batches = 20;
    Trainer trainer = null!, wholeBatch = null!;
    TorchInfoVae model = null!;
    optim.Optimizer opt = null!;
    Tensor[] batches = [];
    int next;
    readonly PeerConfig peer = new();
    double sink;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        Workers.MaxThreads = 2;
        var data = ModelData.Data;
        trainer = new Trainer(BenchDevice.Config(new TrainConfig { Batch = Batch, Epochs = int.MaxValue }),
            data.Train.Take(Batches * Batch), BenchDevice.Backend);
        trainer.InitializeWeights();
        wholeBatch = new Trainer(new TrainConfig { Batch = Batch, Epochs = int.MaxValue },
            data.Train.Take(Batches * Batch), BenchDevice.Backend);
        wholeBatch.InitializeWeights();

        (model, opt) = TorchTraining.NewModel(peer);
        using var gen = new Generator(0);
        using var perm = torch.randperm(data.Train.Count, generator: gen);
        var x = ModelData.TorchTrain;
        batches = [.. Enumerable.Range(0, Batches).Select(i => x.index_select(0, perm.narrow(0, i * Batch, Batch)))];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var b in batches) b.Dispose();
        opt.Dispose(); model.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void TorchSharp()
    {
        using (NewDisposeScope()) sink = TorchTraining.Step(model, opt,
        batches[next++ % Batches], peer);
    }

    /// <summary>Ours as `infovae train` runs it: with its default replicas (2 on the CPU).</summary>
    [Benchmark]
    public void Ours() => sink = trainer.TrainStep().Total;

    /// <summary>Ours with the whole batch on one replica (--replicas 1), its kernels on both threads.</summary>
    [Benchmark]
    public void OursWholeBatch() => sink = wholeBatch.TrainStep().Total;

    sealed class Columns : ManualConfig
    {
        public Columns() => AddColumn(new RateColumn("GFLOP/s", "(6 × 1.09 M weights × B + 14·B²·32) / Mean",
            c => Flop(RateColumn.Param(c, "Batch"))));
    }

    internal static double Flop(int b) => 6.0 * Weights * b + 14.0 * b * b * 32;

    /// <summary>784·512 + 512·256 + 256·64 + 32·256 + 256·512 + 512·784 weights (biases left out).</summary>
    const double Weights = 784 * 512 + 512 * 256 + 256 * 64 + 32 * 256 + 256 * 512 + 512 * 784;
}
