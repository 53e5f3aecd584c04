using InfoVae.Kernels.Cpu;

namespace InfoVae.Model;

/// <summary>
/// The mean (d) and covariance (d × d, row-major, ÷ (n − 1) as numpy.cov) of n feature vectors of width d.
/// </summary>
public sealed record FeatureStats(int Count, int Width, double[] Mean, double[] Covariance)
{
    /// <summary>Statistics of <paramref name="features"/> (n × d row-major), in double.</summary>
    public static FeatureStats Of(ReadOnlySpan<double> features, int n, int d)
    {
        if (features.Length != n * d) throw new ArgumentException($"{features.Length} values are not {n} features of "
            + $"width {d}");
        if (n < 2) throw new ArgumentException($"a covariance needs at least 2 feature vectors, not {n}");
        var mean = new double[d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) mean[j] += features[i * d + j];
        for (int j = 0; j < d; j++) mean[j] /= n;
        var centred = new double[n * d];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < d; j++) centred[i * d + j] = features[i * d + j] - mean[j];
        var cov = new double[d * d];
        Gemm.Multiply(true, false, d, d, n, 1.0 / (n - 1), centred, d, centred, d, 0.0, cov, d);
        return new FeatureStats(n, d, mean, cov);
    }
}

/// <summary>
/// The Fréchet distance between two Gaussians (Dowson &amp; Landau 1982), which FID (Heusel et al. 2017,
/// arXiv 1706.08500) applies to the feature statistics of two image sets:
/// d² = ‖μ₁ − μ₂‖² + tr(Σ₁ + Σ₂ − 2·(Σ₁^½ Σ₂ Σ₁^½)^½).
/// (Σ₁^½ Σ₂ Σ₁^½)^½ has the trace of (Σ₁Σ₂)^½ (the two are similar) but is symmetric positive semi-definite, so both
/// square roots are eigendecompositions of symmetric matrices (<see cref="SymmetricEigen"/>) and no complex
/// arithmetic or iteration of the kind scipy.linalg.sqrtm needs is involved.
/// </summary>
public static class Frechet
{
    public static double Distance(FeatureStats a, FeatureStats b)
    {
        if (a.Width != b.Width) throw new ArgumentException($"feature widths differ: {a.Width} and {b.Width}");
        int d = a.Width;
        double meanTerm = 0;
        for (int j = 0; j < d; j++) { double diff = a.Mean[j] - b.Mean[j]; meanTerm += diff * diff; }
        double trace = 0;
        for (int j = 0; j < d; j++) trace += a.Covariance[j * d + j] + b.Covariance[j * d + j];
        return meanTerm + trace - 2 * TraceSqrtProduct(a.Covariance, b.Covariance, d);
    }

    /// <summary>tr((A^½ B A^½)^½) for symmetric positive semi-definite A and B (d × d).</summary>
    public static double TraceSqrtProduct(double[] a, double[] b, int d)
    {
        var rootA = new double[d * d];
        SymmetricEigen.Sqrt(a, d, rootA);
        var t = new double[d * d]; var m = new double[d * d];
        Gemm.Multiply(false, false, d, d, d, 1.0, rootA, d, b, d, 0.0, t, d);
        Gemm.Multiply(false, false, d, d, d, 1.0, t, d, rootA, d, 0.0, m, d);
        var values = new double[d]; var vectors = new double[d * d];
        SymmetricEigen.Decompose(m, d, values, vectors);
        double s = 0;
        foreach (var v in values) s += Math.Sqrt(Math.Max(v, 0));
        return s;
    }
}
