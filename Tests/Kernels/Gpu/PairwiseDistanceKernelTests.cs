using InfoVae.Kernels.Cpu;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Kernels.Gpu.GpuTestAccelerator;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>Pairwise squared distances and their backward against Kernels/Cpu/PairwiseDistance in double.</summary>
public class PairwiseDistanceKernelTests
{
    [TestCase(1, 1, 1)]
    [TestCase(17, 31, 3)]
    [TestCase(5, 7, 33)]
    [TestCase(3, 1, 5)]
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
        // D(a, a) with dD = 1 everywhere: Σ_ij ‖a_i − a_j‖² has gradient 4 Σ_j (a_i − a_j) w.r.t. a_i via the a side
        // only.
        K.SquaredDistanceBackward(ga.View, n, ga.View, n, d, gd.View, gdD.View, gda.View, default);
        var expected = new double[n * d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                for (int k = 0; k < d; k++) expected[i * d + k] += 2 * (a[i * d + k] - a[j * d + k]);
        Close.Assert(expected, Host(gda), 1e-5, 1e-5, "da");
    }

    [Test]
    public void Both_sides_into_one_buffer_add_up_like_two_buffers()
    {
        // D(a, a) with da and db one buffer (SquaredDistance(x, x)): the two sides are separate launches on one
        // stream (GradA, then GradB), so unlike the CPU's first version they never add into one element at once.
        int n = 40, d = 5;
        var a = F(Rand.Uniform(n * d, 57)); var dD = F(Rand.Uniform(n * n, 58)); var start = F(Rand.Uniform(n * d, 59));
        var dist = new double[n * n]; var da = (double[])start.Clone(); var db = new double[n * d];
        PairwiseDistance.Forward<double>(a, n, a, n, d, dist);
        PairwiseDistance.Backward<double>(a, n, a, n, d, dist, dD, da, db);
        for (int i = 0; i < da.Length; i++) da[i] += db[i];
        foreach (var (grid, label) in Grids)
        {
            using var ga = Dev(a); using var gd = Zeros(n * n); using var gdD = Dev(dD); using var grad = Dev(start);
            grid.SquaredDistance(ga.View, n, ga.View, n, d, gd.View);
            grid.SquaredDistanceBackward(ga.View, n, ga.View, n, d, gd.View, gdD.View, grad.View, grad.View);
            Close.Assert(da, Host(grad), 1e-5, 1e-5, $"{label}: da + db in one buffer");
        }
    }

    [Test]
    public void Near_zero_distances_agree_with_the_cpu_expansion_to_its_stated_tolerance()
    {
        // Rows of b are rows of a moved by 1e-3 (or not at all): D is ~1e-6·d, where the CPU's ‖a‖² + ‖b‖² − 2a·b is
        // mostly rounding and the GPU's Σ (a − b)² is accurate. PairwiseDistanceKernels states the agreement:
        // |D_gpu − D_cpu| ≤ (d + 2)·2⁻²³·(‖a_i‖² + ‖b_j‖²), and D_gpu within 1e-5 relative of the exact value.
        int n = 9, m = 7, d = 32;
        var a = F(Rand.Normal(n * d, 60));
        var b = new double[m * d];
        var move = Rand.Uniform(m * d, 61);
        for (int j = 0; j < m; j++)
            for (int k = 0; k < d; k++)
                b[j * d + k] = (float)(a[j * d + k] + (j % 3 == 0 ? 0 : 1e-3 * move[j * d + k]));
        var exact = new double[n * m];
        PairwiseDistance.Forward<double>(a, n, b, m, d, exact);
        float[] af = Array.ConvertAll(a, v => (float)v), bf = Array.ConvertAll(b, v => (float)v);
        var cpu = new float[n * m];
        PairwiseDistance.Forward<float>(af, n, bf, m, d, cpu);
        using var ga = Dev(a); using var gb = Dev(b); using var gd = Zeros(n * m);
        K.SquaredDistance(ga.View, n, gb.View, m, d, gd.View);
        var gpu = Host(gd);
        double Norm2(double[] v, int row)
        {
            double s = 0;
            for (int k = 0; k < d; k++) s += v[row * d + k] * v[row * d + k];
            return s;
        }
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                int e = i * m + j;
                double tol = (d + 2) * Math.Pow(2, -23) * (Norm2(a, i) + Norm2(b, j));
                Assert.That((double)gpu[e], Is.EqualTo(cpu[e]).Within(tol), $"D[{i},{j}]: GPU vs the CPU's expansion");
                Assert.That((double)gpu[e], Is.EqualTo(exact[e]).Within(1e-5 * exact[e] + 1e-12),
                    $"D[{i},{j}]: GPU vs exact");
            }
        Assert.That(gpu[0], Is.EqualTo(0f), "an exact duplicate is exactly 0 on the GPU");
    }
}
