using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Gpu;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Kernels.Gpu.GpuTestAccelerator;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>
/// Axis sums and their broadcast backward (against Kernels/Cpu/Reduce in double), fills, strided row copies and the
/// transpose.
/// </summary>
public class ReduceLayoutKernelTests
{
    const double Atol = 1e-5, Rtol = 1e-5;

    /// <summary>y (=|+=) scale·Σ through <paramref name="k"/> with the scratch it asks for.</summary>
    internal static float[] SumOnDevice(GpuKernels k, double[] x, int outer, int axis, int inner, double[] y0,
        float scale, bool accumulate)
    {
        using var gx = Dev(x.Length == 0 ? new double[1] : x); using var gy = Dev(y0);   // a buffer is never empty
        using var scratch = Zeros(GpuKernels.SumScratchLength(outer, axis, inner));
        k.SumAxis(gx.View, outer, axis, inner, gy.View, scale, accumulate, scratch.View);
        return Host(gy);
    }

    // (outer, axis, inner): whole-tensor sums (1, N, 1), row sums (inner 1), column sums and middle axes; past one
    // chunk of a row (4096) and of a column (256 rows), with several rows and columns around them.
    [TestCase(1, 1, 1)]
    [TestCase(1, 31, 1)]
    [TestCase(1, 1000, 1)]
    [TestCase(33, 5, 1)]
    [TestCase(1, 33, 5)]
    [TestCase(2, 3, 5)]
    [TestCase(17, 1, 3)]
    [TestCase(3, 17, 1)]
    [TestCase(3, 9000, 1)]
    [TestCase(2, 600, 3)]
    [TestCase(1, 0, 4)]
    public void Sum_axis_matches_the_cpu_reduce(int outer, int axis, int inner)
    {
        var x = F(Rand.Uniform(outer * axis * inner, 21));
        var y0 = F(Rand.Uniform(outer * inner, 22));
        // The 4-multiprocessor, 256-thread configuration costs ~1 s a launch here: only on the sizes that need it.
        var grids = axis >= 600 || axis == 0 ? Grids : Grids[..2];
        foreach (var (grid, label) in grids)
            foreach (bool accumulate in new[] { false, true })
            {
                var expected = (double[])y0.Clone();
                Reduce.SumAxis<double>(x, outer, axis, inner, 0.5, accumulate, expected);
                // Float partial sums of up to 9000 terms in [0, 1): error relative to the sum's size, not per element.
                Close.Assert(expected, SumOnDevice(grid, x, outer, axis, inner, y0, 0.5f, accumulate),
                    Atol * Math.Max(1, axis / 100), Rtol,
                    $"sum {label} accumulate={accumulate}");
            }
    }

    [Test]
    public void Row_sums_use_the_group_tree_and_are_the_same_bits_every_run()
    {
        var x = F(Rand.Uniform(3 * 257, 23));
        var y0 = new double[3];
        var first = SumOnDevice(K, x, 3, 257, 1, y0, 1f, false);
        Assert.That(SumOnDevice(K, x, 3, 257, 1, y0, 1f, false), Is.EqualTo(first));
    }

    /// <summary>What the launches of one call looked like: (kernel, threads, threads per group) in order.</summary>
    static List<KernelLaunch> Launches(GpuKernels k, Action run)
    {
        var seen = new List<KernelLaunch>();
        k.LaunchObserver = seen.Add;
        try { run(); }
        finally { k.LaunchObserver = null; }
        return seen;
    }

    [Test]
    public void A_full_sum_of_a_batch_of_bce_terms_spreads_over_many_groups_and_repeats_bit_for_bit()
    {
        // The BCE sum of a batch of 256 images: 200,704 floats. Stage 1 must use ⌈200,704 / 4096⌉ = 49 groups (it
        // used to be one group of 256 threads, 784 elements each), stage 2 one group per output. The repeat runs with
        // the 16-thread groups (a 256-thread run costs ~10 s on the CPU accelerator): same chunks, its own tree.
        int n = 256 * 784;
        var x = F(Rand.Uniform(n, 24));
        var y0 = new double[1];
        float[] first = [];
        var launches = Launches(Production, () => first = SumOnDevice(Production, x, 1, n, 1, y0, 1f, false));
        Assert.That(launches.Select(l => l.Kernel), Is.EqualTo(new[] { nameof(ReduceKernels.SumRowChunksKernel),
            nameof(ReduceKernels.SumPartialsKernel) }));
        Assert.That(launches[0].Threads / launches[0].GroupSize, Is.EqualTo(49), "stage-1 groups");
        Assert.That(launches[0].GroupSize, Is.EqualTo(256));
        double expected = x.Sum();
        Assert.That(first[0], Is.EqualTo(expected).Within(1e-6 * expected), "sum");
        var small = SumOnDevice(K, x, 1, n, 1, y0, 1f, false);
        Assert.That(small[0], Is.EqualTo(expected).Within(1e-6 * expected), "sum, 16-thread groups");
        Assert.That(SumOnDevice(K, x, 1, n, 1, y0, 1f, false), Is.EqualTo(small), "a second run");
    }

    [Test]
    public void A_conv_bias_gradient_column_sum_gives_no_thread_more_than_256_rows_and_repeats_bit_for_bit()
    {
        // The first conv layer's bias gradient at batch 256: Σ over 256·14·14 = 50,176 rows of (rows, C). One thread
        // per column used to walk all 50,176 rows; now ⌈50,176 / 256⌉ = 196 threads per column do, then a tree.
        int rows = 50176, c = 3;
        var x = F(Rand.Uniform(rows * c, 25, -1, 1));
        var y0 = F(Rand.Uniform(c, 26));
        float[] first = [];
        var launches = Launches(Production, () => first = SumOnDevice(Production, x, 1, rows, c, y0, 1f, true));
        Assert.That(launches.Select(l => l.Kernel), Is.EqualTo(new[] { nameof(ReduceKernels.SumColumnChunksKernel),
            nameof(ReduceKernels.SumPartialsKernel) }));
        Assert.That(launches[0].Threads, Is.EqualTo(196 * c), "stage-1 threads: one per (chunk of 256 rows, column)");
        var expected = (double[])y0.Clone();
        Reduce.SumAxis<double>(x, 1, rows, c, 1.0, true, expected);
        Close.Assert(expected, first, 1e-4, 1e-5, "column sums");
        Assert.That(SumOnDevice(Production, x, 1, rows, c, y0, 1f, true), Is.EqualTo(first), "a second run");
    }

    [TestCase(1, 1, 1)]
    [TestCase(33, 5, 1)]
    [TestCase(1, 33, 5)]
    [TestCase(2, 3, 5)]
    public void Broadcast_axis_matches_the_cpu_reduce(int outer, int axis, int inner)
    {
        var dy = F(Rand.Uniform(outer * inner, 24));
        var dx0 = F(Rand.Uniform(outer * axis * inner, 25));
        var expected = (double[])dx0.Clone();
        Reduce.BroadcastAxis<double>(dy, outer, axis, inner, 0.25, expected);
        using var gdy = Dev(dy); using var gdx = Dev(dx0);
        K.BroadcastAxis(gdy.View, outer, axis, inner, gdx.View, 0.25f);
        Close.Assert(expected, Host(gdx), Atol, Rtol, "broadcast");
    }

    [Test]
    public void Fill_writes_every_element_of_the_window_only()
    {
        using var y = Dev(new float[7]);
        K.Fill(y.View.SubView(2, 4), 3.5f);
        Assert.That(Host(y), Is.EqualTo(new[] { 0f, 0f, 3.5f, 3.5f, 3.5f, 3.5f, 0f }));
    }

    // (rows, cols, source row stride, destination row stride): packed, slices of wider rows, a stride-0 (broadcast)
    // source.
    [TestCase(1, 1, 1, 1)]
    [TestCase(17, 3, 3, 3)]
    [TestCase(5, 3, 7, 4)]
    [TestCase(33, 5, 0, 9)]
    [TestCase(4, 2, 5, 2)]
    public void Copy_rows_between_strided_views(int rows, int cols, int srcStride, int dstStride)
    {
        int srcOff = 2, dstOff = 1;
        var src = Rand.UniformF(srcOff + Math.Max(srcStride * (rows - 1), 0) + cols, 26);
        var dst0 = Rand.UniformF(dstOff + dstStride * (rows - 1) + cols + 3, 27);
        foreach (bool accumulate in new[] { false, true })
        {
            var expected = (float[])dst0.Clone();
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                {
                    float v = src[srcOff + r * srcStride + c];
                    ref float d = ref expected[dstOff + r * dstStride + c];
                    d = accumulate ? d + v : v;
                }
            using var gs = Dev(src); using var gd = Dev(dst0);
            K.CopyRows(gs.View.SubView(srcOff, src.Length - srcOff), srcStride,
                gd.View.SubView(dstOff, dst0.Length - dstOff), dstStride, rows, cols, accumulate);
            Assert.That(Host(gd), Is.EqualTo(expected), $"accumulate={accumulate}");
        }
    }

    [TestCase(1, 1)]
    [TestCase(17, 3)]
    [TestCase(33, 5)]
    [TestCase(1, 31)]
    public void Transpose_matches_index_swap(int rows, int cols)
    {
        var x = Rand.UniformF(rows * cols, 28);
        var y0 = Rand.UniformF(rows * cols, 29);
        foreach (bool accumulate in new[] { false, true })
        {
            var expected = (float[])y0.Clone();
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    expected[j * rows + i] = accumulate ? expected[j * rows + i] + x[i * cols + j] : x[i * cols + j];
            using var gx = Dev(x); using var gy = Dev(y0);
            K.Transpose(gx.View, rows, cols, gy.View, accumulate);
            Assert.That(Host(gy), Is.EqualTo(expected), $"accumulate={accumulate}");
        }
    }
}
