using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using InfoVae.Bench.Peer;
using InfoVae.Kernels.Cpu;
using InfoVae.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace InfoVae.Bench;

/// <summary>
/// M5 (docs/benchmarks.md): one epoch over the 60,000 training images at batch 256 (235 steps, the last one of 96),
/// from a fresh model built in the iteration setup (not timed), batching and shuffling included. Ours runs on
/// INFOVAE_BENCH_DEVICE. One long call: one warm-up and three measured epochs whatever the job.
/// Napkin math: 60,000 × 6 × 1.09 M ≈ 393 GFLOP of layers (2.1 s at 185 GFLOP/s) plus 235 MMDs of ~29 MFLOP.
/// The target (≤ 3.0 s) is 20,000 images/s.
/// M8 (category conv): the same epoch of `--arch conv` (channels 32-64-128), ours only (the peer has no conv twin
/// here; ConvBench races TorchSharp on the conv layers). Napkin math: 8.81 GFLOP of conv GEMMs per step at batch
/// 256 plus 0.30 GFLOP of linear layers: 2.1 TFLOP per epoch; the target (≤ 9 s) is 6,500 images/s.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Columns))]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[WarmupCount(1), IterationCount(3), InvocationCount(1, 1)]
public class EpochBench
{
    const int Batch = 256;
    readonly PeerConfig peer = new();
    Trainer trainer = null!, wholeBatch = null!, convTrainer = null!;
    TorchInfoVae? model;
    optim.Optimizer? opt;
    double sink;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        Workers.MaxThreads = 2;
        _ = ModelData.Data;
        _ = ModelData.TorchTrain;
    }

    [IterationSetup(Target = nameof(Ours))]
    public void FreshOurs()
    {
        trainer = new Trainer(BenchDevice.Config(new TrainConfig { Batch = Batch, Epochs = int.MaxValue }),
            ModelData.Data.Train, BenchDevice.Backend);
        trainer.InitializeWeights();
    }

    [IterationSetup(Target = nameof(OursWholeBatch))]
    public void FreshWholeBatch()
    {
        wholeBatch = new Trainer(new TrainConfig { Batch = Batch, Epochs = int.MaxValue }, ModelData.Data.Train,
            BenchDevice.Backend);
        wholeBatch.InitializeWeights();
    }

    [IterationSetup(Target = nameof(Conv))]
    public void FreshConv()
    {
        convTrainer = new Trainer(BenchDevice.Config(new TrainConfig
        {
            Batch = Batch, Epochs = int.MaxValue, Arch = Architecture.Conv,
        }), ModelData.Data.Train, BenchDevice.Backend);
        convTrainer.InitializeWeights();
    }

    [IterationSetup(Target = nameof(TorchSharp))]
    public void FreshPeer()
    {
        opt?.Dispose(); model?.Dispose();
        (model, opt) = TorchTraining.NewModel(peer);
    }

    [Benchmark(Baseline = true), BenchmarkCategory("mlp")]
    public void TorchSharp()
    {
        using var gen = new Generator(0);
        sink = TorchTraining.Epoch(model!, opt!, ModelData.TorchTrain, Batch, gen, peer);
    }

    [Benchmark, BenchmarkCategory("mlp")]
    public void Ours()
    {
        for (int i = 0, steps = trainer.BatchesPerEpoch; i < steps; i++) sink = trainer.TrainStep().Total;
    }

    /// <summary>Ours with the whole batch on one replica (--replicas 1), its kernels on both threads.</summary>
    [Benchmark, BenchmarkCategory("mlp")]
    public void OursWholeBatch()
    {
        for (int i = 0, steps = wholeBatch.BatchesPerEpoch; i < steps; i++) sink = wholeBatch.TrainStep().Total;
    }

    [Benchmark, BenchmarkCategory("conv")]
    public void Conv()
    {
        for (int i = 0, steps = convTrainer.BatchesPerEpoch; i < steps; i++) sink = convTrainer.TrainStep().Total;
    }

    /// <summary>One conv-net step: the six conv layers (ConvBench), the two linear layers (2048 → 64, 32 → 2048), the
    /// MMD.</summary>
    static double ConvStepFlop(int b) => ConvBench.Flop(b) + 6.0 * (2048 * 64 + 32 * 2048) * b + 14.0 * b * b * 32;

    sealed class Columns : ManualConfig
    {
        public Columns() => AddColumn(
            new RateColumn("images/s", "60,000 images / Mean", _ => 60_000 * 1e9),
            new RateColumn("GFLOP/s",
                "M4's (conv: ConvBench's + linear layers') FLOP count summed over the epoch's 235 steps / Mean",
                c => c.Descriptor.WorkloadMethod.Name == nameof(Conv)
                    ? 234 * ConvStepFlop(Batch) + ConvStepFlop(60_000 - 234 * Batch)
                    : 234 * TrainStepBench.Flop(Batch) + TrainStepBench.Flop(60_000 - 234 * Batch)));
    }
}
