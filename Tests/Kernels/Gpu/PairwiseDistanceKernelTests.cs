using InfoVae.Kernels.Cpu;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Kernels.Gpu.GpuTestAccelerator;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>Pairwise squared distances and their backward against Kernels/Cpu/PairwiseDistance in double.</summary>
public class PairwiseDistanceKernelTests
{
    [TestCase(1, 1, 1)] [TestCase(17, 31, 3)] [TestCase(5, 7, 33)] [TestCase(3, 1, 5)]
    public void Forward_and_backward(int n, int m, int d)
    {
        var a = F(Rand.Uniform(n * d, 51)); var b = F(Rand.Uniform(m * d, 52));
        var dD = F(Rand.Uniform(n * m, 53));
        var da0 = F(Rand.Uniform(n * d, 54)); var db0 = F(Rand.Uniform(m * d, 55));
        var dist = new double[n * m]; var da = (double[])da0.Clone(); var db = (double[])db0.Clone();
        PairwiseDistance.Forward<double>(a, n, b, m, d, dist);
        PairwiseDistance.Backward<double>(a, n, b, m, d, dist, dD, da, db);

        using var ga = Dev(a); using var gb = Dev(b); using var gd = Zeros(n * m); using var gdD = Dev(dD);
        using var gda = Dev(da0); using var gdb = Dev(db0);
        K.SquaredDistance(ga.View, n, gb.View, m, d, gd.View);
        K.SquaredDistanceBackward(ga.View, n, gb.View, m, d, gd.View, gdD.View, gda.View, gdb.View);
        Close.Assert(dist, Host(gd), 1e-5, 1e-5, "distances");
        Close.Assert(da, Host(gda), 1e-5, 1e-5, "da");
        Close.Assert(db, Host(gdb), 1e-5, 1e-5, "db");
    }

    [Test]
    public void Self_distance_has_an_exact_zero_diagonal_and_no_gradient_through_it()
    {
        int n = 5, d = 3;
        var a = F(Rand.Uniform(n * d, 56));
        using var ga = Dev(a); using var gd = Zeros(n * n); using var gdD = Dev(Enumerable.Repeat(1f, n * n).ToArray());
        using var gda = Zeros(n * d);
        K.SquaredDistance(ga.View, n, ga.View, n, d, gd.View);
        var dist = Host(gd);
        for (int i = 0; i < n; i++) Assert.That(dist[i * n + i], Is.EqualTo(0f), $"D[{i},{i}]");
        // D(a, a) with dD = 1 everywhere: Σ_ij ‖a_i − a_j‖² has gradient 4 Σ_j (a_i − a_j) w.r.t. a_i via the a side only.
        K.SquaredDistanceBackward(ga.View, n, ga.View, n, d, gd.View, gdD.View, gda.View, default);
        var expected = new double[n * d];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) for (int k = 0; k < d; k++) expected[i * d + k] += 2 * (a[i * d + k] - a[j * d + k]);
        Close.Assert(expected, Host(gda), 1e-5, 1e-5, "da");
    }
}
