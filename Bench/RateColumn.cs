using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace InfoVae.Bench;

/// <summary>
/// Work per call divided by the mean time: with work in FLOP the value is GFLOP/s (FLOP per ns), in bytes GB/s,
/// in images (× 1e9) images/s. <paramref name="work"/> reads the case's parameters.
/// </summary>
sealed class RateColumn(string name, string legend, Func<BenchmarkCase, double> work) : IColumn
{
    public string Id => nameof(RateColumn) + name;
    public string ColumnName => name;
    public bool AlwaysShow => true;
    public ColumnCategory Category => ColumnCategory.Custom;
    public int PriorityInCategory => 0;
    public bool IsNumeric => true;
    public UnitType UnitType => UnitType.Dimensionless;
    public string Legend => legend;
    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    public bool IsAvailable(Summary summary) => true;
    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
        => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var stats = summary[benchmarkCase]?.ResultStatistics;
        return stats == null ? "NA" : (work(benchmarkCase) / stats.Mean).ToString("G4");
    }

    public static int Param(BenchmarkCase c, string name) => Convert.ToInt32(c.Parameters[name]);
}
