using System.Numerics;
using InfoVae.Kernels.Cpu;
using InfoVae.Tests.Support;
using Ref = InfoVae.Kernels.Reference.Reference;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// The tiled squared-distance kernels (<see cref="PairwiseDistance"/>) against the double reference.
/// A (n, D), B (m, D), dist (n, m); sizes around the 64-point tile, the 4-row block and the vector width.
/// </summary>
public class PairwiseDistanceKernelTests
{
    static readonly (int N, int M, int D)[] Sizes =
    [
        (1, 1, 1), (1, 2, 3), (2, 7, 3), (7, 2, 17), (31, 33, 32), (33, 31, 33), (65, 64, 5), (64, 65, 32), (70, 1, 3),
        (64, 64, 17), (128, 70, 32), (129, 97, 32), (3, 130, 1),
    ];

    static IEnumerable<TestCaseData> Cases()
    {
        foreach (var (n, m, d) in Sizes)
        {
            yield return new TestCaseData(false, n, m, d).SetName($"float n={n} m={m} d={d}");
            yield return new TestCaseData(true, n, m, d).SetName($"double n={n} m={m} d={d}");
        }
    }

    static T[] To<T>(double[] a) where T : INumberBase<T> => Array.ConvertAll(a, T.CreateTruncating);
    static double[] Wide<T>(T[] a) where T : INumberBase<T> => Array.ConvertAll(a, double.CreateTruncating);

    static double MaxRowNorm(double[] a, int rows, int d)
    {
        double best = 0;
        for (int i = 0; i < rows; i++)
        {
            double s = 0;
            for (int k = 0; k < d; k++) s += a[i * d + k] * a[i * d + k];
            best = Math.Max(best, s);
        }
        return best;
    }

    [TestCaseSource(nameof(Cases))]
    public void Matches_reference(bool isDouble, int n, int m, int d)
    {
        if (isDouble) Compare<double>(n, m, d, 1e-14);
        else Compare<float>(n, m, d, 1e-6);
    }

    static void Compare<T>(int n, int m, int d, double eps) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var a = To<T>(Rand.Normal(n * d, 100 + n)); var b = To<T>(Rand.Normal(m * d, 200 + m));
        double[] ad = Wide(a), bd = Wide(b);
        // ‖a‖² + ‖b‖² − 2a·b loses about eps·(‖a‖² + ‖b‖²) to cancellation.
        double atol = 4 * eps * (MaxRowNorm(ad, n, d) + MaxRowNorm(bd, m, d)) + 1e-30;

        var expected = new double[n * m];
        Ref.PairwiseDistance(ad, n, bd, m, d, expected);
        var got = new T[n * m + 3];
        got.AsSpan().Fill(T.CreateTruncating(-7));
        PairwiseDistance.Forward<T>(a, n, b, m, d, got);
        Close.Assert(expected, got.AsSpan(0, n * m), atol, 8 * eps, "dist");
        Assert.That(got.AsSpan(n * m).ToArray(), Is.All.EqualTo(T.CreateTruncating(-7)), "wrote past n·m");

        // Backward accumulates into random starting values; the reference masks with the same dist.
        var dD = Rand.Uniform(n * m, 5);
        double[] da0 = Rand.Uniform(n * d, 6), db0 = Rand.Uniform(m * d, 7);
        double[] ea = (double[])da0.Clone(), eb = (double[])db0.Clone();
        var distD = Wide(got.AsSpan(0, n * m).ToArray());
        Ref.PairwiseDistanceBackward(ad, n, bd, m, d, distD, dD, ea, eb);
        // Σ_j g_ij (a_i − b_j) as a_i Σ g − Σ g b_j: the rounding scales with Σ_j |g| (|a| + |b|).
        double maxAbs = Math.Max(ad.Length == 0 ? 0 : ad.Max(Math.Abs), bd.Length == 0 ? 0 : bd.Max(Math.Abs));
        double gtol = 8 * eps * 2 * Math.Max(n, m) * 2 * maxAbs + 1e-30;

        T[] da = To<T>(da0), db = To<T>(db0);
        var dDt = To<T>(dD);
        PairwiseDistance.Backward<T>(a, n, b, m, d, got.AsSpan(0, n * m), dDt, da, db);
        double[] ea2 = (double[])da0.Clone(), eb2 = (double[])db0.Clone();
        Ref.PairwiseDistanceBackward(ad, n, bd, m, d, distD, Wide(dDt), ea2, eb2);
        Close.Assert(ea2, da, gtol, 16 * eps, "da");
        Close.Assert(eb2, db, gtol, 16 * eps, "db");

        T[] daOnly = To<T>(da0), dbOnly = To<T>(db0);
        PairwiseDistance.Backward<T>(a, n, b, m, d, got.AsSpan(0, n * m), dDt, daOnly, default);
        PairwiseDistance.Backward<T>(a, n, b, m, d, got.AsSpan(0, n * m), dDt, default, dbOnly);
        Assert.That(daOnly, Is.EqualTo(da), "da alone");
        Assert.That(dbOnly, Is.EqualTo(db), "db alone");
    }

    [Test]
    public void Distance_to_itself_is_exactly_zero_and_never_negative()
    {
        // Points far from the origin: ‖a‖² + ‖b‖² − 2a·b cancels badly in float and must be clamped, not negative.
        int n = 67, d = 17;
        var a = To<float>(Array.ConvertAll(Rand.Uniform(n * d, 8), v => 1000 + 1e-3 * v));
        var dist = new float[n * n];
        PairwiseDistance.Forward<float>(a, n, a, n, d, dist);
        for (int i = 0; i < n; i++) Assert.That(dist[i * n + i], Is.EqualTo(0f), $"dist[{i},{i}]");
        Assert.That(dist.All(v => v >= 0), "a negative squared distance");
    }

    [Test]
    public void Clamped_pairs_pass_no_gradient()
    {
        // The mask reads the dist it is given: zero some entries of a genuine dist and those pairs must drop out.
        int n = 9, m = 70, d = 5;
        double[] a = Rand.Uniform(n * d, 9), b = Rand.Uniform(m * d, 10), dD = Rand.Uniform(n * m, 11);
        var dist = new double[n * m];
        PairwiseDistance.Forward<double>(a, n, b, m, d, dist);
        for (int i = 0; i < dist.Length; i += 3) dist[i] = 0;
        dist[1] = -0.0;
        double[] ea = new double[n * d], eb = new double[m * d], ga = new double[n * d], gb = new double[m * d];
        Ref.PairwiseDistanceBackward(a, n, b, m, d, dist, dD, ea, eb);
        PairwiseDistance.Backward<double>(a, n, b, m, d, dist, dD, ga, gb);
        Close.Assert(ea, ga, 1e-12, 1e-10, "da");
        Close.Assert(eb, gb, 1e-12, 1e-10, "db");
        // ... and without the zeros the answer differs, so the test could fail.
        var full = new double[n * m];
        PairwiseDistance.Forward<double>(a, n, b, m, d, full);
        var ga2 = new double[n * d];
        PairwiseDistance.Backward<double>(a, n, b, m, d, full, dD, ga2, default);
        Assert.That(ga2, Is.Not.EqualTo(ga));
    }

    [Test]
    public void NaN_in_an_input_propagates()
    {
        int n = 66, m = 70, d = 3;
        double[] ad = Rand.Normal(n * d, 12), bd = Rand.Normal(m * d, 13);
        ad[65 * d + 1] = double.NaN;
        bd[0] = double.NaN;
        var a = To<float>(ad); var b = To<float>(bd);
        var dist = new float[n * m];
        PairwiseDistance.Forward<float>(a, n, b, m, d, dist);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
                Assert.That(float.IsNaN(dist[i * m + j]), Is.EqualTo(i == 65 || j == 0),
                    $"dist[{i},{j}] = {dist[i * m + j]}");
        var dD = Rand.Uniform(n * m, 14);
        double[] ea = new double[n * d], eb = new double[m * d];
        Ref.PairwiseDistanceBackward(ad, n, bd, m, d, Wide(dist), Wide(To<float>(dD)), ea, eb);
        var da = new float[n * d]; var db = new float[m * d];
        PairwiseDistance.Backward<float>(a, n, b, m, d, dist, To<float>(dD), da, db);
        Close.Assert(ea, da, 1e-4, 1e-4, "da");     // NaN exactly where the reference has it
        Close.Assert(eb, db, 1e-4, 1e-4, "db");
    }

    [Test]
    public void Too_short_spans_throw()
    {
        int n = 5, m = 7, d = 3;
        var a = new float[n * d]; var b = new float[m * d]; var dist = new float[n * m];
        Assert.Throws<ArgumentException>(() => PairwiseDistance.Forward<float>(a, n, b, m, d, new float[n * m - 1]));
        Assert.Throws<ArgumentException>(() => PairwiseDistance.Forward<float>(a.AsSpan(1), n, b, m, d, dist));
        Assert.Throws<ArgumentException>(() => PairwiseDistance.Backward<float>(a, n, b, m, d, dist, dist,
            new float[n * d - 1], default));
        Assert.Throws<ArgumentException>(() => PairwiseDistance.Backward<float>(a, n, b, m, d, dist, dist, default,
            new float[m * d - 1]));
        Assert.Throws<ArgumentException>(() => PairwiseDistance.Backward<float>(a, n, b, m, d, dist.AsSpan(1), dist,
            new float[n * d], default));
    }

    [Test]
    public void Same_bits_with_one_and_two_threads()
    {
        int n = 300, m = 260, d = 32;
        var a = To<float>(Rand.Normal(n * d, 15)); var b = To<float>(Rand.Normal(m * d, 16));
        var dD = To<float>(Rand.Uniform(n * m, 17));
        int saved = Workers.MaxThreads;
        try
        {
            (float[], float[], float[]) Run(int threads)
            {
                Workers.MaxThreads = threads;
                var dist = new float[n * m];
                PairwiseDistance.Forward<float>(a, n, b, m, d, dist);
                var da = new float[n * d]; var db = new float[m * d];
                PairwiseDistance.Backward<float>(a, n, b, m, d, dist, dD, da, db);
                return (dist, da, db);
            }
            var one = Run(1); var two = Run(2);
            Assert.That(two.Item1, Is.EqualTo(one.Item1), "dist");
            Assert.That(two.Item2, Is.EqualTo(one.Item2), "da");
            Assert.That(two.Item3, Is.EqualTo(one.Item3), "db");
        }
        finally { Workers.MaxThreads = saved; }
    }

    [Test]
    public void Distances_of_a_set_to_itself_add_both_gradients_into_one_buffer_without_a_race()
    {
        // sqdist(x, x): da and db are the same buffer. On two threads the da and db row blocks once ran at the same
        // time and lost each other's additions now and then (without the fix this fails within ~100 repetitions).
        int n = 5, d = 3;                                   // one block each side: both finish at about the same moment
        var a = To<float>(Rand.Normal(n * d, 18)); var dD = To<float>(Rand.Uniform(n * n, 19));
        var dist = new float[n * n];
        PairwiseDistance.Forward<float>(a, n, a, n, d, dist);
        var da = new float[n * d]; var db = new float[n * d];
        PairwiseDistance.Backward<float>(a, n, a, n, d, dist, dD, da, db);
        var expected = new float[n * d];
        // the kernel adds da's part first
        for (int i = 0; i < expected.Length; i++) expected[i] = 0f + da[i] + db[i];
        for (int rep = 0; rep < 20000; rep++)
        {
            var both = new float[n * d];
            PairwiseDistance.Backward<float>(a, n, a, n, d, dist, dD, both, both);
            Assert.That(both, Is.EqualTo(expected).Within(1e-5f).Percent, $"repetition {rep}");
        }
    }

    [TestCase(1)]
    [TestCase(2)]
    public void Repeated_calls_allocate_nothing_that_grows_with_n(int threads)
    {
        // Packed inputs and tiles are reused, and Workers.For's persistent pool allocates nothing (see MmdKernelTests).
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
        var a = To<float>(Rand.Normal(n * d, 18)); var dist = new float[n * n];
        var dD = To<float>(Rand.Uniform(n * n, 19));
        var da = new float[n * d]; var db = new float[n * d];
        PairwiseDistance.Forward<float>(a, n, a, n, d, dist);
        PairwiseDistance.Backward<float>(a, n, a, n, d, dist, dD, da, db);
        long mine = GC.GetAllocatedBytesForCurrentThread(), all = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < calls; i++)
        {
            PairwiseDistance.Forward<float>(a, n, a, n, d, dist);
            PairwiseDistance.Backward<float>(a, n, a, n, d, dist, dD, da, db);
        }
        return ((GC.GetAllocatedBytesForCurrentThread() - mine) / calls,
            (GC.GetTotalAllocatedBytes(precise: true) - all) / calls);
    }
}
