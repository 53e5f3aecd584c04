using System.Numerics;
using InfoVae.Kernels.Cpu;
using InfoVae.Tests.Support;
using Ref = InfoVae.Kernels.Reference.Reference;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// The tiled MMD² kernels (<see cref="Mmd"/>) against the explicit-matrix double reference. n, m = sample counts
/// (around the 64-point tile and the 4-row register block), D = point dimension (around the vector width).
/// </summary>
public class MmdKernelTests
{
    static readonly (int N, int M, int D)[] Sizes =
    [
        (1, 1, 3), (2, 2, 1), (2, 7, 3), (7, 2, 17), (31, 33, 32), (33, 31, 5), (65, 64, 33), (1, 65, 3), (70, 69, 17),
        (64, 2, 32), (129, 97, 32),
    ];

    static readonly double[][] ScaleSets = [[.. MmdSpec.WaeScales], [1.0], [0.5, 3.0]];

    static IEnumerable<TestCaseData> Cases()
    {
        int i = 0;
        foreach (var (n, m, d) in Sizes)
            foreach (var kernel in new[] { MmdKernel.Imq, MmdKernel.Rbf })
                foreach (var unbiased in new[] { true, false })
                {
                    if (unbiased && (n < 2 || m < 2)) continue;
                    var scales = ScaleSets[i % ScaleSets.Length];
                    double bw = i % 2 == 0 ? 1.0 : 0.7;
                    i++;
                    var spec = new MmdSpec(kernel, scales, bw, unbiased);
                    string name =
                        $"{kernel} {(unbiased ? "unbiased" : "biased")} n={n} m={m} d={d} scales={scales.Length} "
                        + $"bw={bw}";
                    yield return new TestCaseData(false, n, m, d, spec).SetName($"float {name}");
                    yield return new TestCaseData(true, n, m, d, spec).SetName($"double {name}");
                }
    }

    // X ~ N(0, I), Y ~ N(0.3, 1.2² I): far enough apart that MMD² and its gradient are not rounding noise.
    static double[] SampleX(int n, int d, int seed) => Rand.Normal(n * d, seed);
    static double[] SampleY(int m, int d, int seed) => Array.ConvertAll(Rand.Normal(m * d, seed), v => 0.3 + 1.2 * v);

    static T[] To<T>(double[] a) where T : INumberBase<T> => Array.ConvertAll(a, T.CreateTruncating);
    static double[] Wide<T>(T[] a) where T : INumberBase<T> => Array.ConvertAll(a, double.CreateTruncating);
    static double MaxAbs(double[] a) => a.Length == 0 ? 0 : a.Max(Math.Abs);

    [TestCaseSource(nameof(Cases))]
    public void Matches_reference(bool isDouble, int n, int m, int d, MmdSpec spec)
    {
        if (isDouble) Compare<double>(n, m, d, spec, 1e-11, 1e-10, 1e-9);
        else Compare<float>(n, m, d, spec, 2e-5, 1e-4, 2e-4);
    }

    static void Compare<T>(int n, int m, int d, MmdSpec spec, double atol, double rtol, double gradTol)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = To<T>(SampleX(n, d, 1000 + n + d)); var y = To<T>(SampleY(m, d, 2000 + m + d));
        double[] xd = Wide(x), yd = Wide(y);

        double expected = Ref.Mmd(xd, n, yd, m, d, spec);
        T got = Mmd.Forward<T>(x, n, y, m, d, spec);
        Close.Assert([expected], [double.CreateTruncating(got)], atol, rtol, "mmd²");

        // Backward accumulates: start both gradients from random values.
        const double g = 0.7;
        double[] dx0 = Rand.Uniform(n * d, 3), dy0 = Rand.Uniform(m * d, 4);
        double[] refX = new double[n * d], refY = new double[m * d];
        Ref.MmdBackward(xd, n, yd, m, d, spec, g, refX, refY);
        double[] ex = dx0.Zip(refX, (a, b) => a + b).ToArray(), ey = dy0.Zip(refY, (a, b) => a + b).ToArray();
        double sx = MaxAbs(refX), sy = MaxAbs(refY);

        T[] dx = To<T>(dx0), dy = To<T>(dy0);
        Mmd.Backward<T>(x, n, y, m, d, spec, T.CreateTruncating(g), dx, dy);
        Close.Assert(ex, dx, gradTol * sx + atol, gradTol, "dx (both sides)");
        Close.Assert(ey, dy, gradTol * sy + atol, gradTol, "dy (both sides)");

        // One side at a time gives the same bits as both sides at once.
        T[] dxOnly = To<T>(dx0), dyOnly = To<T>(dy0);
        Mmd.Backward<T>(x, n, y, m, d, spec, T.CreateTruncating(g), dxOnly, default);
        Mmd.Backward<T>(x, n, y, m, d, spec, T.CreateTruncating(g), default, dyOnly);
        Assert.That(dxOnly, Is.EqualTo(dx), "dx alone differs from dx with dy");
        Assert.That(dyOnly, Is.EqualTo(dy), "dy alone differs from dy with dx");
    }

    // From 16 row blocks on, a backward work item takes several row blocks (17 blocks: 8 items of 2 and one of 1).
    [Test]
    public void Grouped_row_blocks_match_reference() =>
        // one scale keeps the O(n²) reference quick
        Compare<float>(1083, 1030, 3, new MmdSpec(MmdKernel.Imq, [1.0]), 2e-5, 1e-4, 2e-4);

    [Test]
    public void Gradient_scales_with_g_and_is_zero_for_g_zero()
    {
        int n = 37, m = 41, d = 5;
        var x = To<float>(SampleX(n, d, 5)); var y = To<float>(SampleY(m, d, 6));
        var dx = new float[n * d]; var dy = new float[m * d];
        Mmd.Backward<float>(x, n, y, m, d, MmdSpec.Default, 0f, dx, dy);
        Assert.That(dx.All(v => v == 0) && dy.All(v => v == 0), "g = 0 gave a non-zero gradient");
        var d1 = new float[n * d]; var d2 = new float[n * d];
        Mmd.Backward<float>(x, n, y, m, d, MmdSpec.Default, 1f, d1, default);
        Mmd.Backward<float>(x, n, y, m, d, MmdSpec.Default, -2f, d2, default);
        Close.Assert(Array.ConvertAll(d1, v => -2 * v), d2, 1e-7, 1e-5, "g = -2 vs g = 1");
    }

    [Test]
    public void Coincident_points_pass_no_gradient_and_stay_finite()
    {
        // x_0 = x_1 = y_0: those pairs' distances are exactly 0 (clamped); their weight must be 0, not 0/0.
        int n = 5, m = 4, d = 3;
        double[] xd = Rand.Uniform(n * d, 7), yd = Rand.Uniform(m * d, 8);
        for (int k = 0; k < d; k++) { xd[d + k] = xd[k]; yd[k] = xd[k]; }
        foreach (var kernel in new[] { MmdKernel.Imq, MmdKernel.Rbf })
        {
            var spec = new MmdSpec(kernel, [.. MmdSpec.WaeScales]);
            var x = To<float>(xd); var y = To<float>(yd);
            float v = Mmd.Forward<float>(x, n, y, m, d, spec);
            Assert.That(float.IsFinite(v), $"{kernel}: MMD² = {v}");
            var dx = new float[n * d]; var dy = new float[m * d];
            Mmd.Backward<float>(x, n, y, m, d, spec, 1f, dx, dy);
            double[] ex = new double[n * d], ey = new double[m * d];
            Ref.MmdBackward(Wide(x), n, Wide(y), m, d, spec, 1, ex, ey);
            Close.Assert(ex, dx, 1e-6, 1e-4, $"{kernel} dx");
            Close.Assert(ey, dy, 1e-6, 1e-4, $"{kernel} dy");
        }
    }

    [Test]
    public void Far_apart_points_give_kernel_values_near_zero_not_nan()
    {
        // Y spread to |y| ~ 1e9: float d² reaches 1e20, past where the IMQ kernel's paired product (c1 + t)(c2 + t)
        // overflows; those pairs must come out as (nearly) 0, as in the reference, not ∞/∞.
        int n = 40, m = 35, d = 32;
        double[] xd = SampleX(n, d, 15), yd = Array.ConvertAll(SampleX(m, d, 16), v => 1e9 * v);
        foreach (var kernel in new[] { MmdKernel.Imq, MmdKernel.Rbf })
        {
            var spec = new MmdSpec(kernel, [.. MmdSpec.WaeScales]);
            var x = To<float>(xd); var y = To<float>(yd);
            Close.Assert([Ref.Mmd(Wide(x), n, Wide(y), m, d, spec)], [Mmd.Forward<float>(x, n, y, m, d, spec)], 1e-5,
                1e-4, $"{kernel} mmd²");
            var dx = new float[n * d]; var dy = new float[m * d];
            Mmd.Backward<float>(x, n, y, m, d, spec, 1f, dx, dy);
            double[] ex = new double[n * d], ey = new double[m * d];
            Ref.MmdBackward(Wide(x), n, Wide(y), m, d, spec, 1, ex, ey);
            Close.Assert(ex, dx, 1e-4 * MaxAbs(ex), 1e-3, $"{kernel} dx");
            Close.Assert(ey, dy, 1e-12, 1e-3, $"{kernel} dy");
        }
    }

    [TestCase(false, 0)]
    [TestCase(false, 77)]
    [TestCase(true, 0)]
    [TestCase(true, 200)]
    public void NaN_in_an_input_propagates(bool inY, int at)
    {
        int n = 70, m = 67, d = 3;
        double[] xd = SampleX(n, d, 9), yd = SampleY(m, d, 10);
        (inY ? yd : xd)[at] = double.NaN;
        foreach (var spec in new[] { MmdSpec.Default, new MmdSpec(MmdKernel.Rbf, [1.0], Unbiased: false) })
        {
            var x = To<float>(xd); var y = To<float>(yd);
            Assert.That(float.IsNaN(Mmd.Forward<float>(x, n, y, m, d, spec)), $"{spec.Kernel}: forward hid the NaN");
            var dx = new float[n * d]; var dy = new float[m * d];
            Mmd.Backward<float>(x, n, y, m, d, spec, 1f, dx, dy);
            double[] ex = new double[n * d], ey = new double[m * d];
            Ref.MmdBackward(xd, n, yd, m, d, spec, 1, ex, ey);
            Assert.That(ex.Any(double.IsNaN), "the reference should see the NaN");
            Close.Assert(ex, dx, 1e-5, 1e-3, $"{spec.Kernel} dx");   // NaN where the reference has NaN, and only there
            Close.Assert(ey, dy, 1e-5, 1e-3, $"{spec.Kernel} dy");
        }
    }

    [Test]
    public void Too_short_spans_throw()
    {
        int n = 9, m = 6, d = 4;
        var x = new float[n * d]; var y = new float[m * d];
        var spec = MmdSpec.Default;
        Assert.Throws<ArgumentException>(() => Mmd.Backward<float>(x, n, y, m, d, spec, 1f, new float[n * d - 1],
            default));
        Assert.Throws<ArgumentException>(() => Mmd.Backward<float>(x, n, y, m, d, spec, 1f, default,
            new float[m * d - 1]));
        Assert.Throws<ArgumentException>(() => Mmd.Backward<float>(x, n, y, m, d, spec, 1f, new float[n * d],
            new float[1]));
        Assert.Throws<ArgumentException>(() => Mmd.Forward<float>(x.AsSpan(1), n, y, m, d, spec));
        Assert.Throws<ArgumentException>(() => Mmd.Forward<float>(x, n, y.AsSpan(0, m * d - 1), m, d, spec));
        Assert.Throws<ArgumentException>(() => Mmd.Forward<float>(x, 1, y, m, d, spec));    // unbiased needs n ≥ 2
    }

    [Test]
    public void Mmd_of_a_set_against_itself_adds_both_gradients_into_one_buffer_without_a_race()
    {
        // MMD²(x, x) with dX and dY one buffer: the dX and dY row blocks must not add to the same rows at once.
        int n = 5, d = 3;                                   // one block each side: both finish at about the same moment
        var x = To<float>(Rand.Normal(n * d, 21));
        var dx = new float[n * d]; var dy = new float[n * d];
        Mmd.Backward<float>(x, n, x, n, d, MmdSpec.Default, 1f, dx, dy);
        var expected = new float[n * d];
        for (int i = 0; i < expected.Length; i++) expected[i] = 0f + dx[i] + dy[i];
        for (int rep = 0; rep < 20000; rep++)
        {
            var both = new float[n * d];
            Mmd.Backward<float>(x, n, x, n, d, MmdSpec.Default, 1f, both, both);
            Assert.That(both, Is.EqualTo(expected).Within(1e-4f).Percent, $"repetition {rep}");
        }
    }

    [Test]
    public void Same_bits_with_one_and_two_threads()
    {
        int n = 1083, m = 150, d = 32;
        var x = To<float>(SampleX(n, d, 11)); var y = To<float>(SampleY(m, d, 12));
        var xd = SampleX(n, d, 11); var yd = SampleY(m, d, 12);
        int saved = Workers.MaxThreads;
        try
        {
            (float, float[], float[], double, double[]) Run(int threads)
            {
                Workers.MaxThreads = threads;
                var spec = MmdSpec.Default;
                float f = Mmd.Forward<float>(x, n, y, m, d, spec);
                var dx = new float[n * d]; var dy = new float[m * d];
                Mmd.Backward<float>(x, n, y, m, d, spec, 1f, dx, dy);
                var rbf = new MmdSpec(MmdKernel.Rbf, [.. MmdSpec.WaeScales], Unbiased: false);
                double fd = Mmd.Forward<double>(xd, n, yd, m, d, rbf);
                var dxd = new double[n * d];
                Mmd.Backward<double>(xd, n, yd, m, d, rbf, 1.0, dxd, default);
                return (f, dx, dy, fd, dxd);
            }
            var one = Run(1); var two = Run(2);
            Assert.That(BitConverter.SingleToInt32Bits(two.Item1),
                Is.EqualTo(BitConverter.SingleToInt32Bits(one.Item1)), "float forward");
            Assert.That(two.Item2, Is.EqualTo(one.Item2), "float dx");
            Assert.That(two.Item3, Is.EqualTo(one.Item3), "float dy");
            Assert.That(BitConverter.DoubleToInt64Bits(two.Item4),
                Is.EqualTo(BitConverter.DoubleToInt64Bits(one.Item4)), "double forward");
            Assert.That(two.Item5, Is.EqualTo(one.Item5), "double dx");
        }
        finally { Workers.MaxThreads = saved; }
    }

    [TestCase(1)]
    [TestCase(2)]
    public void Repeated_calls_allocate_nothing_that_grows_with_n(int threads)
    {
        // The backward must not hold an n × m matrix (1 MiB at n = 512) or allocate per call: its scratch is reused,
        // and Workers.For's persistent pool allocates nothing, so a warm call allocates nothing on the calling thread.
        int saved = Workers.MaxThreads;
        try
        {
            Workers.MaxThreads = threads;
            var (small, _) = BytesPerCall(64);
            var (mine, all) = BytesPerCall(512);
            Assert.That(mine, Is.Zero, "bytes per forward + backward on the calling thread");
            if (threads == 1) Assert.That(mine, Is.EqualTo(small), "bytes per call grew from n = 64 to n = 512");
            Assert.That(all, Is.LessThan(64 * 1024), "bytes per forward + backward on all threads");
        }
        finally { Workers.MaxThreads = saved; }
    }

    static (long Mine, long All) BytesPerCall(int n)
    {
        const int d = 32, calls = 5;
        var x = To<float>(SampleX(n, d, 13)); var y = To<float>(SampleY(n, d, 14));
        var dx = new float[n * d];
        var spec = MmdSpec.Default;
        Mmd.Forward<float>(x, n, y, n, d, spec);
        Mmd.Backward<float>(x, n, y, n, d, spec, 1f, dx, default);
        long mine = GC.GetAllocatedBytesForCurrentThread(), all = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < calls; i++)
        {
            Mmd.Forward<float>(x, n, y, n, d, spec);
            Mmd.Backward<float>(x, n, y, n, d, spec, 1f, dx, default);
        }
        return ((GC.GetAllocatedBytesForCurrentThread() - mine) / calls,
            (GC.GetTotalAllocatedBytes(precise: true) - all) / calls);
    }
}
