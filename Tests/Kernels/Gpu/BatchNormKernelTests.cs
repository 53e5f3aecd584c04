using InfoVae.Kernels.Gpu;
using InfoVae.Kernels.Reference;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Kernels.Gpu.GpuTestAccelerator;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>
/// Batch norm over (R, C) (Kernels/Gpu/BatchNorm.cs) on ILGPU's CPU accelerator against Reference.BatchNorm* in
/// double: statistics, apply, the training-mode backward (every output accumulating, each one optional) and the
/// running-stat update. Chunk sizes are forced small so that R spans many chunks and the column totals run their
/// strided loop (more chunks than the 16 threads of a CPU-accelerator group) as well as a single chunk.
/// </summary>
public class BatchNormKernelTests
{
    const double Atol = 1e-5, Rtol = 1e-5;
    const double Eps = 1e-5;

    // (R, C, chunk): one row, one chunk, a ragged last chunk, more chunks than a group has threads, wide rows.
    public static readonly object[] Sizes =
    [
        new object[] { 1, 1, 64 }, new object[] { 2, 3, 1 }, new object[] { 37, 5, 4 }, new object[] { 37, 5, 64 },
        new object[] { 200, 3, 3 }, new object[] { 16, 33, 5 },
    ];

    // The reductions also at the first conv layer's R = 256·14·14 with the production chunk size (784 chunks): float
    // sums at full length.
    public static readonly object[] ReductionSizes = [.. Sizes, new object[] { 50176, 2, GpuKernels.BatchNormChunk }];

    /// <summary>
    /// Inputs away from zero mean (uniform in [3, 5]): a one-pass Σx² − (Σx)²/R would lose digits here.
    /// </summary>
    static double[] X(int n, int seed) => F(Rand.Uniform(n, seed, 3, 5));

    [TestCaseSource(nameof(ReductionSizes))]
    public void Stats_match_the_reference(int rows, int c, int chunk)
    {
        var x = X(rows * c, 41);
        double[] mean = new double[c], var = new double[c];
        Reference.BatchNormStats(x, rows, c, mean, var);
        using var gx = Dev(x); using var gm = Zeros(c); using var gv = Zeros(c);
        using var scratch = Zeros(GpuKernels.BatchNormScratchLength(rows, c, chunk));
        K.BatchNormStats(gx.View, rows, c, gm.View.SubView(0, c), gv.View.SubView(0, c), scratch.View, chunk);
        Close.Assert(mean, Host(gm), Atol, Rtol, "mean");
        Close.Assert(var, Host(gv), Atol, 1e-4, "var");
    }

    [Test]
    public void Stats_are_the_same_bits_every_run()
    {
        int rows = 123, c = 7;
        using var gx = Dev(X(rows * c, 42));
        using var scratch = Zeros(GpuKernels.BatchNormScratchLength(rows, c, 5));
        float[] Run()
        {
            using var gm = Zeros(c); using var gv = Zeros(c);
            K.BatchNormStats(gx.View, rows, c, gm.View, gv.View, scratch.View, 5);
            return [.. Host(gm), .. Host(gv)];
        }
        Assert.That(Run(), Is.EqualTo(Run()));
    }

    [TestCaseSource(nameof(Sizes))]
    public void Apply_matches_the_reference(int rows, int c, int chunk)
    {
        _ = chunk;
        var x = X(rows * c, 43);
        var mean = F(Rand.Uniform(c, 44, 3, 5));
        var var = F(Rand.Uniform(c, 45, 0, 2));
        var gamma = F(Rand.Uniform(c, 46));
        var beta = F(Rand.Uniform(c, 47));
        var expected = new double[rows * c];
        Reference.BatchNormApply(x, rows, c, mean, var, Eps, gamma, beta, expected);
        using var gx = Dev(x); using var gm = Dev(mean); using var gv = Dev(var); using var gg = Dev(gamma);
        using var gb = Dev(beta);
        using var gy = Dev(Rand.Uniform(rows * c, 48));
        K.BatchNormApply(gx.View, rows, c, gm.View, gv.View, (float)Eps, gg.View, gb.View, gy.View);
        Close.Assert(expected, Host(gy), Atol, 1e-5, "y");
    }

    [TestCaseSource(nameof(ReductionSizes))]
    public void Backward_accumulates_the_reference_gradients(int rows, int c, int chunk)
    {
        var x = X(rows * c, 51);
        var dy = F(Rand.Uniform(rows * c, 52));
        var gamma = F(Rand.Uniform(c, 53));
        // The batch's own statistics, as training passes them (the dx formula assumes them).
        double[] mean = new double[c], var = new double[c];
        Reference.BatchNormStats(x, rows, c, mean, var);
        mean = F(mean); var = F(var);
        var dx0 = F(Rand.Uniform(rows * c, 54));
        var dg0 = F(Rand.Uniform(c, 55));
        var db0 = F(Rand.Uniform(c, 56));

        foreach (var (doDx, doG, doB) in new[] { (true, true, true), (true, false, false), (false, true, false),
            (false, false, true) })
        {
            double[] edx = (double[])dx0.Clone(), edg = (double[])dg0.Clone(), edb = (double[])db0.Clone();
            Reference.BatchNormBackward(x, rows, c, mean, var, Eps, gamma, dy, doDx ? edx : [], doG ? edg : [],
                doB ? edb : []);
            using var gx = Dev(x); using var gdy = Dev(dy); using var gm = Dev(mean); using var gv = Dev(var);
            using var gg = Dev(gamma);
            using var gdx = Dev(dx0); using var gdg = Dev(dg0); using var gdb = Dev(db0);
            using var scratch = Zeros(GpuKernels.BatchNormScratchLength(rows, c, chunk));
            K.BatchNormBackward(gx.View, rows, c, gm.View, gv.View, (float)Eps, gg.View, gdy.View,
                doDx ? gdx.View : default, doG ? gdg.View : default, doB ? gdb.View : default, scratch.View, chunk);
            string label = $"dx={doDx} dGamma={doG} dBeta={doB}";
            // dx is a difference of O(1) terms: compare at the scale of the gradient, as the engine tests do.
            double scale = edx.Max(Math.Abs);
            Close.Assert(edx, Host(gdx), 1e-5 * scale + 1e-6, 1e-4, "dx " + label);
            Close.Assert(edg, Host(gdg), 1e-5, 1e-4, "dGamma " + label);
            Close.Assert(edb, Host(gdb), 1e-5, 1e-5, "dBeta " + label);
        }
    }

    [TestCase(2, 1)]
    [TestCase(50176, 32)]
    [TestCase(7, 5)]
    public void Running_stats_follow_pytorch(int rows, int c)
    {
        var mean = F(Rand.Uniform(c, 61));
        var var = F(Rand.Uniform(c, 62, 0, 2));
        var rm = F(Rand.Uniform(c, 63));
        var rv = F(Rand.Uniform(c, 64, 0.5, 1.5));
        double[] erm = (double[])rm.Clone(), erv = (double[])rv.Clone();
        Reference.BatchNormUpdateRunning(mean, var, rows, 0.1, erm, erv);
        using var gm = Dev(mean); using var gv = Dev(var); using var grm = Dev(rm); using var grv = Dev(rv);
        K.BatchNormUpdateRunning(gm.View, gv.View, rows, 0.1f, grm.View, grv.View);
        Close.Assert(erm, Host(grm), 1e-6, 1e-6, "running mean");
        Close.Assert(erv, Host(grv), 1e-6, 1e-6, "running var");
    }
}
