using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using InfoVae.Kernels.Cpu;
using TorchSharp;
using static TorchSharp.torch;

namespace InfoVae.Bench;

/// <summary>
/// M1 (docs/benchmarks.md): C = A·B, square, float32, row-major, 2 threads, against TorchSharp (libtorch 2.10, oneMKL).
/// Napkin math: 2·N³ FLOP per call: N = 256: 33.6 MFLOP, 512: 268 MFLOP, 1024: 2.15 GFLOP, 2048: 17.2 GFLOP.
/// At the 185 GFLOP/s target (FMA peak here ≈ 207 with two threads) N = 1024 takes 11.6 ms.
/// The GFLOP/s column is 2·N³ / mean. Inputs are uniform in [-1, 1); C is preallocated for both.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(GflopsConfig))]
public class GemmBench
{
    [Params(256, 512, 1024, 2048)] public int N;

    float[] a = [], b = [], c = [];
    Tensor ta = null!, tb = null!, tc = null!;

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        Workers.MaxThreads = 2;
        var r = new Random(42);
        a = new float[N * N]; b = new float[N * N]; c = new float[N * N];
        for (int i = 0; i < a.Length; i++) { a[i] = r.NextSingle() * 2 - 1; b[i] = r.NextSingle() * 2 - 1; }
        ta = torch.tensor(a, [N, N]); tb = torch.tensor(b, [N, N]); tc = torch.zeros(N, N);
    }

    [GlobalCleanup]
    public void Cleanup() { ta.Dispose(); tb.Dispose(); tc.Dispose(); }

    /// <summary>addmm_ with beta = 0: libtorch's mm written into the preallocated C, as ours does.</summary>
    [Benchmark(Baseline = true)]
    public void TorchSharp() => tc.addmm_(ta, tb, beta: 0, alpha: 1);

    [Benchmark]
    public void Ours() => Gemm.Multiply(false, false, N, N, N, 1f, a, N, b, N, 0f, c, N);

    sealed class GflopsConfig : ManualConfig
    {
        public GflopsConfig() => AddColumn(new GflopsColumn());
    }

    /// <summary>2·N³ / mean time, from the benchmark's N parameter.</summary>
    sealed class GflopsColumn : IColumn
    {
        public string Id => nameof(GflopsColumn);
        public string ColumnName => "GFLOP/s";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Custom;
        public int PriorityInCategory => 0;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Dimensionless;
        public string Legend => "2·N³ / Mean, in 1e9 floating-point operations per second";
        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
        public bool IsAvailable(Summary summary) => true;
        public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
            => GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var stats = summary[benchmarkCase]?.ResultStatistics;
            if (stats == null) return "NA";
            double n = Convert.ToDouble(benchmarkCase.Parameters["N"]);
            return (2 * n * n * n / stats.Mean).ToString("F1");   // FLOP per ns = GFLOP/s
        }
    }
}
