using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using InfoVae.Bench.Peer;
using InfoVae.Kernels.Cpu;
using TorchSharp;
using static TorchSharp.torch;

namespace InfoVae.Bench;

/// <summary>
/// M2 (docs/benchmarks.md): D (n×n) = max(0, ‖a_i‖² + ‖b_j‖² − 2 a_i·b_j) for A, B (n×d), float32, 2 threads.
/// Napkin math: the cross term is a GEMM, 2·n²·d FLOP (n = 1024, d = 32: 67 MFLOP; n = 4096, d = 128: 4.3 GFLOP),
/// and D is 4·n² bytes written (n = 1024: 4 MiB; n = 4096: 64 MiB, 16,384 pages). At d = 32 the write dominates:
/// at ~10 GB/s, 64 MiB take 6.7 ms, while a fresh 64 MiB costs the peer 110–220 ms of page faults.
/// Ours writes into a preallocated D (buffer reuse); the peer is the anchor's SqDist (addmm + clamp_min) in a dispose
/// scope, so its n×n result and temporaries are freed, and at n = 4096 mmap'd afresh, on every call.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Columns))]
public class SqDistBench
{
    [Params(256, 1024, 4096)] public int N;
    [Params(32, 128)] public int D;

    float[] a = [], b = [], dist = [];
    Tensor ta = null!, tb = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        Workers.MaxThreads = 2;
        var r = new Random(42);
        a = Normal(r, N * D); b = Normal(r, N * D); dist = new float[N * N];
        ta = torch.tensor(a, [N, D]); tb = torch.tensor(b, [N, D]);
    }

    internal static float[] Normal(Random r, int count)
    {
        var v = new float[count];
        for (int i = 0; i < v.Length; i++)    // Box–Muller: N(0, 1) like the anchor's randn
            v[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble()));
        return v;
    }

    [GlobalCleanup]
    public void Cleanup() { ta.Dispose(); tb.Dispose(); }

    [Benchmark(Baseline = true)]
    public void TorchSharp() { using (NewDisposeScope()) TorchLoss.SqDist(ta, tb); }

    [Benchmark]
    public void Ours() => PairwiseDistance.Forward<float>(a, N, b, N, D, dist);

    sealed class Columns : ManualConfig
    {
        public Columns() => AddColumn(
            new RateColumn("GFLOP/s", "2·n²·d (the cross-term GEMM) / Mean",
                c => 2.0 * RateColumn.Param(c, "N") * RateColumn.Param(c, "N") * RateColumn.Param(c, "D")),
            new RateColumn("GB/s", "4·n² bytes of D written / Mean", c => 4.0 * RateColumn.Param(c, "N")
                * RateColumn.Param(c, "N")));
    }
}
