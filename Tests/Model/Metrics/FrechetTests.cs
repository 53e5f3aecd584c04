using InfoVae.Kernels.Cpu;
using InfoVae.Model;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model.Metrics;

/// <summary>
/// The Fréchet distance against closed forms, and FID of sampled Gaussian features against its population value.
/// </summary>
public class FrechetTests
{
    static FeatureStats Stats(double[] mean, double[] cov) => new(1000, mean.Length, mean, cov);

    /// <summary>A random d × d rotation: Gram-Schmidt on a random matrix, columns orthonormal.</summary>
    static double[] Rotation(int d, int seed)
    {
        var q = Rand.Normal(d * d, seed);
        for (int k = 0; k < d; k++)
        {
            for (int j = 0; j < k; j++)
            {
                double dot = 0;
                for (int i = 0; i < d; i++) dot += q[i * d + k] * q[i * d + j];
                for (int i = 0; i < d; i++) q[i * d + k] -= dot * q[i * d + j];
            }
            double norm = 0;
            for (int i = 0; i < d; i++) norm += q[i * d + k] * q[i * d + k];
            for (int i = 0; i < d; i++) q[i * d + k] /= Math.Sqrt(norm);
        }
        return q;
    }

    /// <summary>Q·diag(λ)·Qᵀ.</summary>
    static double[] Rotated(double[] q, double[] lambda)
    {
        int d = lambda.Length;
        var a = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                for (int k = 0; k < d; k++) a[i * d + j] += q[i * d + k] * lambda[k] * q[j * d + k];
        return a;
    }

    [Test]
    public void Diagonal_covariances_give_the_sum_of_squared_root_differences()
    {
        double[] a = [4, 1, 0.25, 9], b = [1, 1, 1, 0];
        double[] m1 = [1, 2, 3, 4], m2 = [0, 2, 5, 4];
        double expected = 1 + 4 + (2 - 1) * (2 - 1) + 0 + (0.5 - 1) * (0.5 - 1) + 9;
        double fid = Frechet.Distance(Stats(m1, Diag(a)), Stats(m2, Diag(b)));
        Assert.That(fid, Is.EqualTo(expected).Within(1e-12));
    }

    static double[] Diag(double[] v)
    {
        var m = new double[v.Length * v.Length];
        for (int i = 0; i < v.Length; i++) m[i * v.Length + i] = v[i];
        return m;
    }

    [TestCase(5)]
    [TestCase(64)]
    public void Commuting_rotated_covariances_match_the_closed_form(int d)
    {
        // Σ₁ = Q diag(a) Qᵀ, Σ₂ = Q diag(b) Qᵀ: FID = ‖μ₁ − μ₂‖² + Σ (√aᵢ − √bᵢ)², whatever Q.
        var q = Rotation(d, d);
        var a = Rand.Uniform(d, 1, 0, 3); var b = Rand.Uniform(d, 2, 0, 3);
        a[0] = 0;                                              // a singular one
        var m1 = Rand.Uniform(d, 3); var m2 = Rand.Uniform(d, 4);
        double expected = 0;
        for (int i = 0; i < d; i++) expected += (m1[i] - m2[i]) * (m1[i] - m2[i])
            + Math.Pow(Math.Sqrt(a[i]) - Math.Sqrt(b[i]), 2);
        // √ is not Lipschitz at 0: the zero eigenvalue comes out as ±1e-16·‖Σ‖, whose root is ~1e-8. Without it, 1e-12.
        Assert.That(Frechet.Distance(Stats(m1, Rotated(q, a)), Stats(m2, Rotated(q, b))),
            Is.EqualTo(expected).Within(1e-7));
        a[0] = 0.5;
        expected += Math.Pow(Math.Sqrt(0.5) - Math.Sqrt(b[0]), 2) - b[0];
        Assert.That(Frechet.Distance(Stats(m1, Rotated(q, a)), Stats(m2, Rotated(q, b))),
            Is.EqualTo(expected).Within(1e-12 * d));
    }

    [Test]
    public void Non_commuting_two_by_two_matches_the_closed_form()
    {
        // For 2 × 2 PSD M = A^½BA^½: tr √M = √(tr M + 2√det M), tr M = tr(AB), det M = det A · det B.
        double[] a = [2, 0.7, 0.7, 1], b = [0.5, -0.3, -0.3, 3];
        double trAb = a[0] * b[0] + a[1] * b[2] + a[2] * b[1] + a[3] * b[3];
        double det = (a[0] * a[3] - a[1] * a[2]) * (b[0] * b[3] - b[1] * b[2]);
        double expected = 2 + 1 + 0.5 + 3 - 2 * Math.Sqrt(trAb + 2 * Math.Sqrt(det));
        Assert.That(Frechet.Distance(Stats([0, 0], a), Stats([0, 0], b)), Is.EqualTo(expected).Within(1e-13));
    }

    [Test]
    public void A_feature_set_against_itself_is_zero_even_with_dead_features()
    {
        int n = 500, d = 16;
        var x = Rand.Normal(n * d, 5);
        // a dead and a ReLU'd unit
        for (int i = 0; i < n; i++) { x[i * d + 3] = 0; x[i * d + 7] = Math.Max(0, x[i * d + 7]); }
        var s = FeatureStats.Of(x, n, d);
        double trace = 0;
        for (int j = 0; j < d; j++) trace += s.Covariance[j * d + j];
        Assert.That(Frechet.Distance(s, s), Is.EqualTo(0).Within(1e-12 * trace));
    }

    [Test]
    public void Feature_statistics_are_numpys_mean_and_cov()
    {
        // Three points in 2-D, numpy.cov(x, rowvar=False) by hand: divides by n − 1.
        double[] x = [1, 2, 3, 6, 5, 4];
        var s = FeatureStats.Of(x, 3, 2);
        Assert.That(s.Mean, Is.EqualTo(new[] { 3.0, 4 }).Within(1e-15));
        Assert.That(s.Covariance, Is.EqualTo(new[] { 4.0, 2, 2, 4 }).Within(1e-14));
    }

    [Test]
    public void Fid_of_sampled_gaussian_features_approaches_the_population_value()
    {
        // x = μ₁ + Q·diag(√a)·ε, y = μ₂ + Q·diag(√b)·ε' with 20,000 draws each, d = 6; the population FID is known in
        // closed form. The sample FID is biased upwards by about tr(Σ₁ + Σ₂)/n·(something of order d) and scatters by
        // ~1/√n: both are well under 2 % here, while a wrong matrix square root is off by tens of percent.
        int n = 20_000, d = 6;
        var q = Rotation(d, 11);
        double[] a = [3, 2, 1, 0.5, 0.2, 0.1], b = [0.1, 1, 1, 2, 0.3, 4];
        double[] m1 = [0, 0.5, 0, -1, 0, 0], m2 = [0.3, 0, 0, 0, 0, 1];
        double expected = 0;
        for (int i = 0; i < d; i++) expected += (m1[i] - m2[i]) * (m1[i] - m2[i])
            + Math.Pow(Math.Sqrt(a[i]) - Math.Sqrt(b[i]), 2);
        double[] Draw(double[] mean, double[] lambda, ulong key)
        {
            var eps = new double[n * d];
            Philox.Normal<double>(key, 0, eps);
            var x = new double[n * d];
            for (int r = 0; r < n; r++)
                for (int i = 0; i < d; i++)
                {
                    double s = mean[i];
                    for (int k = 0; k < d; k++) s += q[i * d + k] * Math.Sqrt(lambda[k]) * eps[r * d + k];
                    x[r * d + i] = s;
                }
            return x;
        }
        double fid = Frechet.Distance(FeatureStats.Of(Draw(m1, a, 1), n, d), FeatureStats.Of(Draw(m2, b, 2), n, d));
        Assert.That(fid, Is.EqualTo(expected).Within(0.02 * expected), $"population FID {expected:F4}");
    }
}
