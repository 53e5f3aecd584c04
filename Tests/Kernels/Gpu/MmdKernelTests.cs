using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Gpu;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Kernels.Gpu.GpuTestAccelerator;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>
/// The fused MMD² kernels against Kernels/Cpu/Mmd in double: IMQ and RBF, unbiased and biased, one and several
/// scales, n ≠ m, sizes off the tile, with 4×4 and 2×2 groups.
/// </summary>
public class MmdKernelTests
{
    // The CPU accelerator pays for every barrier of every 16-thread group, so the full matrix of kernel, estimator and
    // scales runs at one awkward size (7 × 10, d = 5: two chunks of D, partial tiles on both sides), and the larger
    // shapes each once: n ≠ m past several tiles, D over many chunks, the smallest unbiased case, a batch of one.
    static IEnumerable<TestCaseData> Cases()
    {
        foreach (var kernel in new[] { MmdKernel.Imq, MmdKernel.Rbf })
            foreach (bool unbiased in new[] { true, false })
                foreach (var scales in new double[][] { [1.0], [.. MmdSpec.WaeScales] })
                    yield return Case(kernel, unbiased, scales, 7, 10, 5);
        yield return Case(MmdKernel.Imq, true, [.. MmdSpec.WaeScales], 17, 31, 3);
        yield return Case(MmdKernel.Rbf, false, [0.5, 2.0], 31, 17, 3);
        yield return Case(MmdKernel.Rbf, true, [.. MmdSpec.WaeScales], 5, 3, 33);
        yield return Case(MmdKernel.Imq, true, [1.0], 2, 3, 1);
        yield return Case(MmdKernel.Imq, false, [.. MmdSpec.WaeScales], 1, 3, 2);
    }

    static TestCaseData Case(MmdKernel kernel, bool unbiased, double[] scales, int n, int m, int d) =>
        new TestCaseData(kernel, unbiased, scales, n, m, d)
            .SetArgDisplayNames(kernel.ToString(), unbiased ? "unbiased" : "biased", $"{scales.Length} scales",
                $"{n}x{m}x{d}");

    [TestCaseSource(nameof(Cases))]
    public void Forward_and_backward_match_the_cpu(MmdKernel kernel, bool unbiased, double[] scales, int n, int m,
        int d) =>
        Check(K, new MmdSpec(kernel, scales, Bandwidth: 0.7, Unbiased: unbiased), n, m, d);

    [Test]
    public void Forward_and_backward_match_the_cpu_with_2x2_groups() =>
        Check(Tile2, new MmdSpec(MmdKernel.Imq, [.. MmdSpec.WaeScales], Bandwidth: 0.7), 7, 10, 5);

    // A GPU's tile (16) on 4 multiprocessors: several blocks per side with ragged edges (34 = 16 + 16 + 2,
    // 19 = 16 + 3), D over two chunks (20 = 16 + 4); the backward in the default five chunks (the one-chunk path
    // runs at tile 16 in the one-buffer test below, and at every size at tile 4).
    [Test]
    public void Forward_and_backward_match_the_cpu_with_production_groups() =>
        Check(Production, new MmdSpec(MmdKernel.Rbf, [.. MmdSpec.WaeScales], Bandwidth: 0.7, Unbiased: false), 34, 19,
            20);

    // The backward's partner chunks: one (adding into dx, dy directly), several of one block, several of two blocks.
    [TestCase(1)]
    [TestCase(3)]
    [TestCase(null)]
    public void Backward_matches_the_cpu_however_the_partners_are_chunked(int? chunks) =>
        Check(K, new MmdSpec(MmdKernel.Imq, [.. MmdSpec.WaeScales], Bandwidth: 0.7), 17, 10, 6, chunks);

    static void Check(GpuKernels grid, MmdSpec spec, int n, int m, int d, int? chunks = null)
    {
        var x = F(Rand.Normal(n * d, 61)); var y = F(Rand.Normal(m * d, 62));
        // a different distribution: MMD² well above 0
        for (int i = 0; i < y.Length; i++) y[i] = (float)(y[i] * 1.3 + 0.4);
        double g = 0.7;
        var dx0 = F(Rand.Uniform(n * d, 63)); var dy0 = F(Rand.Uniform(m * d, 64));
        double expected = Mmd.Forward<double>(x, n, y, m, d, spec);
        var dx = (double[])dx0.Clone(); var dy = (double[])dy0.Clone();
        Mmd.Backward<double>(x, n, y, m, d, spec, g, dx, dy);
        // Float kernel values summed: error relative to the terms (each ≤ number of scales), not to their difference.
        double atol = 2e-6 * spec.Scales.Length;

        using var gx = Dev(x); using var gy = Dev(y); using var sc = Dev(GpuKernels.ScaledC(spec, d));
        using var partials = Zeros(grid.MmdPartialCount(n, m)); using var result = Zeros(1);
        using var gg = Dev(new[] { (float)g }); using var gdx = Dev(dx0); using var gdy = Dev(dy0);
        using var scratch = Zeros(grid.MmdBackwardScratchLength(n, m, d, true, true, chunks));
        grid.Mmd(gx.View, n, gy.View, m, d, spec, sc.View, partials.View, result.View);
        grid.MmdBackward(gx.View, n, gy.View, m, d, spec, sc.View, gg.View, gdx.View, gdy.View, scratch.View, chunks);
        Close.Assert(new[] { expected }, Host(result), atol, 1e-5, $"tile {grid.Tile} MMD²");
        Close.Assert(dx, Host(gdx), 1e-5, 1e-4, $"tile {grid.Tile} dx");
        Close.Assert(dy, Host(gdy), 1e-5, 1e-4, $"tile {grid.Tile} dy");
    }

    [Test]
    public void Backward_of_one_side_leaves_the_other_alone_and_repeats_bit_for_bit()
    {
        var spec = MmdSpec.Default;
        int n = 6, m = 7, d = 4;
        var x = F(Rand.Normal(n * d, 65)); var y = F(Rand.Normal(m * d, 66));
        var dx = new double[n * d];
        Mmd.Backward<double>(x, n, y, m, d, spec, 1.0, dx, default);
        using var gx = Dev(x); using var gy = Dev(y); using var sc = Dev(GpuKernels.ScaledC(spec, d));
        using var one = Dev(new[] { 1f });
        using var a = Zeros(n * d); using var b = Zeros(n * d);
        using var scratch = Zeros(K.MmdBackwardScratchLength(n, m, d, true, false));
        K.MmdBackward(gx.View, n, gy.View, m, d, spec, sc.View, one.View, a.View, default, scratch.View);
        K.MmdBackward(gx.View, n, gy.View, m, d, spec, sc.View, one.View, b.View, default, scratch.View);
        var first = Host(a);
        Assert.That(Host(b), Is.EqualTo(first), "two runs differ");
        Close.Assert(dx, first, 1e-5, 1e-4, "dx alone");
    }

    [Test]
    public void Identical_samples_give_zero_biased_mmd_and_zero_gradient()
    {
        var spec = new MmdSpec(MmdKernel.Rbf, [1.0], Unbiased: false);
        int n = 5, d = 3;
        var x = F(Rand.Normal(n * d, 67));
        using var gx = Dev(x); using var sc = Dev(GpuKernels.ScaledC(spec, d));
        using var partials = Zeros(K.MmdPartialCount(n, n)); using var result = Dev(new[] { 1f });
        using var one = Dev(new[] { 1f }); using var dx = Zeros(n * d); using var dy = Zeros(n * d);
        using var scratch = Zeros(K.MmdBackwardScratchLength(n, n, d, true, true));
        K.Mmd(gx.View, n, gx.View, n, d, spec, sc.View, partials.View, result.View);
        K.MmdBackward(gx.View, n, gx.View, n, d, spec, sc.View, one.View, dx.View, dy.View, scratch.View);
        Assert.That(Host(result)[0], Is.EqualTo(0f).Within(1e-6));
        // x and y are the same tensor: the gradients through each side cancel when added.
        var sum = Host(dx).Zip(Host(dy), (p, q) => p + q).ToArray();
        Assert.That(sum, Is.All.EqualTo(0f).Within(1e-6));
    }

    /// <summary>
    /// The x-side and y-side gradients of MMD(x, y) in double, summed: what one shared buffer must receive.
    /// </summary>
    static double[] BothSides(double[] x, int n, int d, MmdSpec spec, double g, double[] start)
    {
        var dx = (double[])start.Clone(); var dy = new double[n * d];
        Mmd.Backward<double>(x, n, x, n, d, spec, g, dx, dy);
        for (int i = 0; i < dx.Length; i++) dx[i] += dy[i];
        return dx;
    }

    // MMD(x, x) with both gradients into one buffer (the same tensor on both sides, as Ops.Mmd(z, z) hands it over).
    // In one launch the X groups and the Y groups of rows i add into the same elements at the same time, and on a GPU
    // some additions get lost. The CPU accelerator almost never interleaves two threads inside one `+=` (six runs at
    // 48 rows passed without the fix), so the launches are checked: the two sides must never share one. One chunk
    // (the direct path: two stage-1 launches) and five chunks (stage 1 writes disjoint scratch in one launch; stage 2's
    // additions into the shared buffer are two launches). Then the sum, on 4 multiprocessors.
    [TestCase(1, new[] { "MmdBackwardKernel", "MmdBackwardKernel" })]
    [TestCase(null, new[] { "MmdBackwardKernel", nameof(MmdKernels.MmdGradReduceKernel),
        nameof(MmdKernels.MmdGradReduceKernel) })]
    public void Backward_into_one_buffer_for_both_sides_never_adds_both_sides_in_one_launch(int? chunks,
        string[] kernels)
    {
        var spec = new MmdSpec(MmdKernel.Imq, [.. MmdSpec.WaeScales], Bandwidth: 0.7);
        int n = 20, d = 8;
        var x = F(Rand.Normal(n * d, 68));
        var start = F(Rand.Uniform(n * d, 69));
        double g = 0.9;
        using var gx = Dev(x); using var sc = Dev(GpuKernels.ScaledC(spec, d)); using var gg = Dev(new[] { (float)g });
        using var scratch = Zeros(Production.MmdBackwardScratchLength(n, n, d, true, true, chunks));
        using var grad = Dev(start);
        var seen = new List<KernelLaunch>();
        Production.LaunchObserver = seen.Add;
        try
        {
            Production.MmdBackward(gx.View, n, gx.View, n, d, spec, sc.View, gg.View, grad.View, grad.View,
                scratch.View, chunks);
        }
        finally { Production.LaunchObserver = null; }
        Assert.That(seen.Select(l => l.Kernel), Is.EqualTo(kernels), "launches");
        // 20 rows = 2 blocks of 16 (threads per launch)
        int rowBlocks = 2, perSide = chunks == 1 ? rowBlocks * 256 : n * d;
        Assert.That(seen.Skip(seen.Count - 2).Select(l => l.Threads), Is.All.EqualTo(perSide),
            "each of the last two launches takes one side only");
        Close.Assert(BothSides(x, n, d, spec, g, start), Host(grad), 1e-5, 1e-4, "dx + dy in one buffer");
    }

    [Test]
    public void Overlap_finds_views_that_share_an_element()
    {
        using var a = Zeros(10); using var b = Zeros(10);
        Assert.That(GpuKernels.Overlap<float>(a.View, a.View), Is.True, "the same view");
        Assert.That(GpuKernels.Overlap<float>(a.View.SubView(0, 5), a.View.SubView(4, 3)), Is.True,
            "one shared element");
        Assert.That(GpuKernels.Overlap<float>(a.View.SubView(0, 5), a.View.SubView(5, 5)), Is.False, "adjacent halves");
        Assert.That(GpuKernels.Overlap<float>(a.View, b.View), Is.False, "two buffers");
        Assert.That(GpuKernels.Overlap<float>(a.View, default), Is.False, "an empty view");
    }

    [Test]
    public void The_combine_is_one_group_of_the_reduction_size_and_a_batch_of_256_gets_hundreds_of_backward_groups()
    {
        // Forward: the partial sums are added by a tree over a whole group, not by one thread.
        var spec = MmdSpec.Default;
        int n = 20, m = 9, d = 3;
        using var gx = Dev(F(Rand.Normal(n * d, 70))); using var gy = Dev(F(Rand.Normal(m * d, 71)));
        using var sc = Dev(GpuKernels.ScaledC(spec, d)); using var result = Zeros(1);
        using var partials = Zeros(Production.MmdPartialCount(n, m));
        var seen = new List<KernelLaunch>();
        Production.LaunchObserver = seen.Add;
        try { Production.Mmd(gx.View, n, gy.View, m, d, spec, sc.View, partials.View, result.View); }
        finally { Production.LaunchObserver = null; }
        Assert.That(seen.Select(l => l.Kernel), Is.EqualTo(new[] { "MmdForwardKernel",
            nameof(MmdKernels.MmdCombineKernel) }));
        Assert.That(seen[1].GroupSize, Is.EqualTo(Production.ReduceGroup).And.EqualTo(256),
            "threads that combine the partials");
        // Backward at the model's batch (z: 256 × 32 against 256 prior draws, only z's gradient): 16 row blocks of
        // 16 at tile 16 used to be 16 groups for an H200's 132 SMs; the partners now come in chunks.
        Assert.That(Production.MmdBackwardGroups(256, 256, doX: true, doY: false), Is.GreaterThanOrEqualTo(264),
            "groups at batch 256");
        Assert.That(Production.MmdBackwardGroups(256, 256, doX: true, doY: true), Is.GreaterThanOrEqualTo(264));
        // Partials are capped per pair grid: at n = 4096 (65,536 blocks a grid) the forward makes 3 × 1024.
        Assert.That(Production.MmdPartialCount(4096, 4096), Is.EqualTo(3 * GpuKernels.MmdMaxGroupsPerGrid));
    }

    [Test]
    public void Forward_with_more_blocks_than_groups_matches_the_cpu()
    {
        // 2×2 tiles: 50 rows are 25 blocks a side, 625 blocks per grid, more than the 1024 cap only in total; force the
        // loop over blocks by a size past the cap: 70 rows = 35 blocks, 1225 blocks per self grid.
        var spec = new MmdSpec(MmdKernel.Rbf, [1.0, 4.0], Bandwidth: 0.7, Unbiased: true);
        int n = 70, m = 66, d = 2;
        var x = F(Rand.Normal(n * d, 72)); var y = F(Rand.Normal(m * d, 73));
        double expected = Mmd.Forward<double>(x, n, y, m, d, spec);
        using var gx = Dev(x); using var gy = Dev(y); using var sc = Dev(GpuKernels.ScaledC(spec, d));
        using var partials = Zeros(Tile2.MmdPartialCount(n, m)); using var result = Zeros(1);
        Assert.That(Tile2.MmdPartialCount(n, m), Is.EqualTo(3 * GpuKernels.MmdMaxGroupsPerGrid), "every grid capped");
        Tile2.Mmd(gx.View, n, gy.View, m, d, spec, sc.View, partials.View, result.View);
        Close.Assert(new[] { expected }, Host(result), 4e-6, 1e-5, "MMD² over capped grids");
    }
}
