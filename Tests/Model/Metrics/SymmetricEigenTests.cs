using InfoVae.Model;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model.Metrics;

/// <summary>
/// The Jacobi eigendecomposition behind FID: A·V = V·Λ with V orthogonal, on random and special matrices.
/// </summary>
public class SymmetricEigenTests
{
    static double[] RandomSymmetric(int n, int seed)
    {
        var r = Rand.Uniform(n * n, seed, -1, 1);
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) a[i * n + j] = r[i * n + j] + r[j * n + i];
        return a;
    }

    /// <summary>‖A·V − V·Λ‖ and ‖VᵀV − I‖, elementwise, relative to A's largest element.</summary>
    static void AssertDecomposes(double[] a, int n, double[] values, double[] v)
    {
        double scale = Math.Max(a.Max(Math.Abs), 1e-300);
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
            {
                double av = 0;
                for (int j = 0; j < n; j++) av += a[i * n + j] * v[j * n + k];
                Assert.That(av, Is.EqualTo(v[i * n + k] * values[k]).Within(1e-12 * scale * n), $"(A·V)[{i},{k}]");
                double dot = 0;
                for (int j = 0; j < n; j++) dot += v[j * n + i] * v[j * n + k];
                Assert.That(dot, Is.EqualTo(i == k ? 1.0 : 0.0).Within(1e-13 * n), $"(VᵀV)[{i},{k}]");
            }
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(7)]
    [TestCase(40)]
    [TestCase(128)]
    public void Random_symmetric_matrices_decompose(int n)
    {
        var a = RandomSymmetric(n, n);
        var values = new double[n]; var v = new double[n * n];
        SymmetricEigen.Decompose(a, n, values, v);
        AssertDecomposes(a, n, values, v);
        // The trace is the sum of the eigenvalues.
        double trace = 0;
        for (int i = 0; i < n; i++) trace += a[i * n + i];
        Assert.That(values.Sum(), Is.EqualTo(trace).Within(1e-12 * n * a.Max(Math.Abs)));
    }

    [Test]
    public void Two_by_two_by_hand()
    {
        var values = new double[2]; var v = new double[4];
        SymmetricEigen.Decompose([2, 1, 1, 2], 2, values, v);
        Assert.That(values.Order(), Is.EqualTo(new[] { 1.0, 3.0 }).Within(1e-15));
        AssertDecomposes([2, 1, 1, 2], 2, values, v);
    }

    [Test]
    public void Repeated_eigenvalues_identity_plus_rank_one()
    {
        // I + u·uᵀ: eigenvalue 1 four times, 1 + |u|² once.
        double[] u = [0.5, -1, 2, 0.25, 1];
        int n = u.Length;
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) a[i * n + j] = (i == j ? 1 : 0) + u[i] * u[j];
        var values = new double[n]; var v = new double[n * n];
        SymmetricEigen.Decompose(a, n, values, v);
        var sorted = values.Order().ToArray();
        Assert.That(sorted[..4], Is.EqualTo(new[] { 1.0, 1, 1, 1 }).Within(1e-14));
        Assert.That(sorted[4], Is.EqualTo(1 + u.Sum(x => x * x)).Within(1e-13));
        AssertDecomposes(a, n, values, v);
    }

    [Test]
    public void Diagonal_and_zero_matrices_are_their_own_decomposition()
    {
        var values = new double[3]; var v = new double[9];
        SymmetricEigen.Decompose([3, 0, 0, 0, -2, 0, 0, 0, 0], 3, values, v);
        Assert.That(values, Is.EqualTo(new[] { 3.0, -2, 0 }));
        Assert.That(v, Is.EqualTo(new double[] { 1, 0, 0, 0, 1, 0, 0, 0, 1 }));
        SymmetricEigen.Decompose(new double[9], 3, values, v);
        Assert.That(values, Is.All.EqualTo(0.0));
    }

    [TestCase(6)]
    [TestCase(33)]
    public void Square_root_of_a_covariance_squares_back(int n)
    {
        // A = B·Bᵀ is positive semi-definite; with n/2 columns in B it is singular (rank n/2), as covariances of dead
        // features are.
        int r = n / 2;
        var b = Rand.Uniform(n * r, 100 + n);
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                for (int k = 0; k < r; k++) a[i * n + j] += b[i * r + k] * b[j * r + k];
        var root = new double[n * n];
        SymmetricEigen.Sqrt(a, n, root);
        double scale = a.Max(Math.Abs);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int k = 0; k < n; k++) s += root[i * n + k] * root[k * n + j];
                Assert.That(s, Is.EqualTo(a[i * n + j]).Within(1e-10 * scale), $"(√A)²[{i},{j}]");
                Assert.That(root[i * n + j], Is.EqualTo(root[j * n + i]).Within(1e-12 * scale), "√A is symmetric");
            }
    }
}
