using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using InfoVae.Bench.Peer;
using InfoVae.Kernels.Cpu;
using TorchSharp;
using static TorchSharp.torch;

namespace InfoVae.Bench;

/// <summary>
/// M3 (docs/benchmarks.md): unbiased IMQ MMD² (7 scales) of z (n×d) against prior samples p (n×d), forward plus the
/// gradient with respect to z, float32, 2 threads. Ours: the fused <see cref="Mmd"/> kernels (no n×n matrix stored,
/// the backward recomputes distances); the peer: the anchor's Mmd (three n×n SqDist + Kernel in dispose scopes) and
/// autograd.grad w.r.t. z.
/// Napkin math, counting the distance and gradient dot products only: forward 3 blocks of n² pairs × 2d, backward
/// 2 blocks (zz, pz) × (2d recompute + 2d accumulate): 14·n²·d FLOP (n = 1024, d = 32: 470 MFLOP), plus
/// 5·n²·7 = 35·n² kernel divides. The peer keeps ~10 n×n float temporaries per block for autograd: at n = 4096,
/// 64 MiB each, all faulted in afresh every call.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Columns))]
public class MmdBench
{
    [ParamsSource(nameof(Sizes))] public int N;
    [Params(32, 128)] public int D;

    public virtual IEnumerable<int> Sizes => [256, 1024];

    float[] z = [], p = [], dz = [];
    Tensor tz = null!, tp = null!;
    float sink;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        Workers.MaxThreads = 2;
        var r = new Random(42);
        z = SqDistBench.Normal(r, N * D); p = SqDistBench.Normal(r, N * D); dz = new float[N * D];
        tz = torch.tensor(z, [N, D]).requires_grad_(true); tp = torch.tensor(p, [N, D]);
    }

    [GlobalCleanup]
    public void Cleanup() { tz.Dispose(); tp.Dispose(); }

    [Benchmark(Baseline = true)]
    public void TorchSharp() { using (NewDisposeScope()) torch.autograd.grad([TorchLoss.Mmd(tz, tp, "imq")], [tz]); }

    [Benchmark]
    public void Ours()
    {
        var spec = MmdSpec.Default;
        sink = Mmd.Forward<float>(z, N, p, N, D, spec);
        Array.Clear(dz);    // Backward accumulates
        Mmd.Backward<float>(z, N, p, N, D, spec, 1f, dz, default);
    }

    internal sealed class Columns : ManualConfig
    {
        public Columns() => AddColumn(new RateColumn("GFLOP/s", "14·n²·d (distance and gradient dot products) / Mean",
            c => 14.0 * RateColumn.Param(c, "N") * RateColumn.Param(c, "N") * RateColumn.Param(c, "D")));
    }
}

/// <summary>
/// M3 at n = 4096: the peer takes 15–22 s per call (mostly page faults on its 64 MiB temporaries), so one warm-up
/// and three measured calls, each a single invocation, whatever job the command line asks for.
/// </summary>
[WarmupCount(1), IterationCount(3), InvocationCount(1, 1)]
public class MmdLargeBench : MmdBench
{
    public override IEnumerable<int> Sizes => [4096];
}
