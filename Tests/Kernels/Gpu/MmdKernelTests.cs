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
            .SetArgDisplayNames(kernel.ToString(), unbiased ? "unbiased" : "biased", $"{scales.Length} scales", $"{n}x{m}x{d}");

    [TestCaseSource(nameof(Cases))]
    public void Forward_and_backward_match_the_cpu(MmdKernel kernel, bool unbiased, double[] scales, int n, int m, int d) =>
        Check(K, new MmdSpec(kernel, scales, Bandwidth: 0.7, Unbiased: unbiased), n, m, d);

    [Test]
    public void Forward_and_backward_match_the_cpu_with_2x2_groups() =>
        Check(Tile2, new MmdSpec(MmdKernel.Imq, [.. MmdSpec.WaeScales], Bandwidth: 0.7), 7, 10, 5);

    static void Check(GpuKernels grid, MmdSpec spec, int n, int m, int d)
    {
        var x = F(Rand.Normal(n * d, 61)); var y = F(Rand.Normal(m * d, 62));
        for (int i = 0; i < y.Length; i++) y[i] = (float)(y[i] * 1.3 + 0.4);   // a different distribution: MMD² well above 0
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
        grid.Mmd(gx.View, n, gy.View, m, d, spec, sc.View, partials.View, result.View);
        grid.MmdBackward(gx.View, n, gy.View, m, d, spec, sc.View, gg.View, gdx.View, gdy.View);
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
        using var gx = Dev(x); using var gy = Dev(y); using var sc = Dev(GpuKernels.ScaledC(spec, d)); using var one = Dev(new[] { 1f });
        using var a = Zeros(n * d); using var b = Zeros(n * d);
        K.MmdBackward(gx.View, n, gy.View, m, d, spec, sc.View, one.View, a.View, default);
        K.MmdBackward(gx.View, n, gy.View, m, d, spec, sc.View, one.View, b.View, default);
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
        K.Mmd(gx.View, n, gx.View, n, d, spec, sc.View, partials.View, result.View);
        K.MmdBackward(gx.View, n, gx.View, n, d, spec, sc.View, one.View, dx.View, dy.View);
        Assert.That(Host(result)[0], Is.EqualTo(0f).Within(1e-6));
        // x and y are the same tensor: the gradients through each side cancel when added.
        var sum = Host(dx).Zip(Host(dy), (p, q) => p + q).ToArray();
        Assert.That(sum, Is.All.EqualTo(0f).Within(1e-6));
    }
}
