namespace InfoVae.Model;

/// <summary>
/// Eigendecomposition of a real symmetric n × n matrix in double by the cyclic Jacobi method (Golub &amp; Van Loan,
/// Matrix Computations, §8.5; Rutishauser's rotation formulas): A = V·diag(λ)·Vᵀ with V orthogonal. Each rotation
/// zeroes one off-diagonal pair; sweeps over all pairs repeat until the off-diagonal mass is below rounding.
/// Accurate to a few units of rounding relative to ‖A‖ (it converges quadratically); O(n³) per sweep, which is
/// nothing at the feature widths it serves (FID's covariances: n = 128).
/// </summary>
public static class SymmetricEigen
{
    const int MaxSweeps = 60;

    /// <summary>
    /// Eigenvalues (unsorted, in the order of V's columns) and eigenvectors of the symmetric matrix
    /// <paramref name="a"/> (n × n row-major; only its symmetric part matters, it is not changed).
    /// <paramref name="vectors"/> (n × n row-major) receives V: column j is the eigenvector of values[j].
    /// </summary>
    public static void Decompose(ReadOnlySpan<double> a, int n, Span<double> values, Span<double> vectors)
    {
        if (a.Length != n * n || vectors.Length != n * n || values.Length != n)
            throw new ArgumentException($"a ({a.Length}) and vectors ({vectors.Length}) must hold n² = {n * n} "
                + $"values, values {n}");
        var m = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) m[i * n + j] = 0.5 * (a[i * n + j] + a[j * n + i]);
        vectors.Clear();
        for (int i = 0; i < n; i++) vectors[i * n + i] = 1;

        double total = 0;
        foreach (var v in m) total += v * v;
        for (int sweep = 0; sweep < MaxSweeps; sweep++)
        {
            double off = 0;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++) off += m[p * n + q] * m[p * n + q];
            // Off-diagonal mass below rounding of the whole: the diagonal holds the eigenvalues.
            if (off <= 1e-32 * total || off == 0) break;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++)
                    Rotate(m, vectors, n, p, q);
        }
        for (int i = 0; i < n; i++) values[i] = m[i * n + i];
    }

    /// <summary>
    /// A ← JᵀAJ and V ← VJ for the rotation J in the (p, q) plane that zeroes A[p,q]: with θ = (a_qq − a_pp)/(2a_pq),
    /// t = tan φ = sign(θ)/(|θ| + √(θ² + 1)) (the smaller root, so |φ| ≤ π/4), c = 1/√(t² + 1), s = t·c.
    /// </summary>
    static void Rotate(double[] m, Span<double> v, int n, int p, int q)
    {
        double apq = m[p * n + q];
        if (apq == 0) return;
        double theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        double t = (theta >= 0 ? 1 : -1) / (Math.Abs(theta) + Math.Sqrt(theta * theta + 1));
        double c = 1 / Math.Sqrt(t * t + 1), s = t * c;
        for (int k = 0; k < n; k++)                       // columns p and q: A·J
        {
            double akp = m[k * n + p], akq = m[k * n + q];
            m[k * n + p] = c * akp - s * akq;
            m[k * n + q] = s * akp + c * akq;
        }
        for (int k = 0; k < n; k++)                       // rows p and q: Jᵀ·(A·J)
        {
            double apk = m[p * n + k], aqk = m[q * n + k];
            m[p * n + k] = c * apk - s * aqk;
            m[q * n + k] = s * apk + c * aqk;
        }
        m[p * n + q] = m[q * n + p] = 0;                  // zero by construction; rounding would leave ~1e-17
        for (int k = 0; k < n; k++)
        {
            double vkp = v[k * n + p], vkq = v[k * n + q];
            v[k * n + p] = c * vkp - s * vkq;
            v[k * n + q] = s * vkp + c * vkq;
        }
    }

    /// <summary>
    /// The principal square root of a symmetric positive semi-definite matrix: V·diag(√max(λ, 0))·Vᵀ (eigenvalues
    /// that rounding pushed below zero count as zero). a, destination: n × n row-major.
    /// </summary>
    public static void Sqrt(ReadOnlySpan<double> a, int n, Span<double> destination)
    {
        var values = new double[n]; var v = new double[n * n];
        Decompose(a, n, values, v);
        destination.Clear();
        for (int k = 0; k < n; k++)
        {
            double r = Math.Sqrt(Math.Max(values[k], 0));
            if (r == 0) continue;
            for (int i = 0; i < n; i++)
            {
                double vik = r * v[i * n + k];
                for (int j = 0; j < n; j++) destination[i * n + j] += vik * v[j * n + k];
            }
        }
    }
}
