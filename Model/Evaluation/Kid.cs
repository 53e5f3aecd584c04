using InfoVae.Kernels.Cpu;

namespace InfoVae.Model;

/// <summary>KID's mean over subsets and the standard deviation of the subset estimates.</summary>
public readonly record struct KidResult(double Mean, double Std, int Subsets, int SubsetSize);

/// <summary>
/// Kernel Inception Distance (Bińkowski et al. 2018, arXiv 1801.01401): the unbiased MMD² between two feature sets
/// under the polynomial kernel k(x, y) = (x·y/d + 1)³, averaged over random subsets, as torch-fidelity computes it
/// (kid_subsets = 100, kid_subset_size = 1000; each subset draws m of each set without replacement):
/// MMD²ᵤ = Σ_{i≠j} k(xᵢ, xⱼ)/(m(m − 1)) + Σ_{i≠j} k(yᵢ, yⱼ)/(m(m − 1)) − 2·Σ_{i,j} k(xᵢ, yⱼ)/m².
/// The reported spread is the standard deviation of the subset estimates (numpy.std, ÷ subsets), as torch-fidelity
/// reports it. The Gram matrices are double GEMMs on gathered subsets; the buffers are allocated once per call.
/// </summary>
public static class Kid
{
    public const int DefaultSubsets = 100, DefaultSubsetSize = 1000;

    /// <param name="x">n₁ × d features, row-major.</param>
    /// <param name="y">n₂ × d features.</param>
    /// <param name="rng">draws the subsets (randperm of each set per subset, its first m entries).</param>
    public static KidResult Compute(ReadOnlySpan<double> x, int n1, ReadOnlySpan<double> y, int n2, int d,
        TorchGenerator rng, int subsets = DefaultSubsets, int subsetSize = DefaultSubsetSize)
    {
        if (x.Length != n1 * d || y.Length != n2 * d) throw new ArgumentException($"features ({x.Length}, {y.Length}) "
            + $"are not ({n1}, {n2}) × {d}");
        int m = Math.Min(subsetSize, Math.Min(n1, n2));
        if (m < 2) throw new ArgumentException($"KID needs at least 2 features on each side, not {n1} and {n2}");
        var estimates = new double[subsets];
        var permX = new int[n1]; var permY = new int[n2];
        double[] sx = new double[m * d], sy = new double[m * d], gram = new double[m * m];
        for (int s = 0; s < subsets; s++)
        {
            rng.Randperm(permX);
            rng.Randperm(permY);
            for (int i = 0; i < m; i++)
            {
                x.Slice(permX[i] * d, d).CopyTo(sx.AsSpan(i * d, d));
                y.Slice(permY[i] * d, d).CopyTo(sy.AsSpan(i * d, d));
            }
            estimates[s] = UnbiasedMmd(sx, sy, m, d, gram);
        }
        double mean = 0;
        foreach (var e in estimates) mean += e;
        mean /= subsets;
        double var = 0;
        foreach (var e in estimates) var += (e - mean) * (e - mean);
        return new KidResult(mean, Math.Sqrt(var / subsets), subsets, m);
    }

    /// <summary>
    /// MMD²ᵤ of two m × d sets under the cubic polynomial kernel; <paramref name="gram"/> is m × m scratch.
    /// </summary>
    public static double UnbiasedMmd(ReadOnlySpan<double> x, ReadOnlySpan<double> y, int m, int d, Span<double> gram)
    {
        double xx = KernelSum(x, x, m, d, gram, offDiagonal: true);
        double yy = KernelSum(y, y, m, d, gram, offDiagonal: true);
        double xy = KernelSum(x, y, m, d, gram, offDiagonal: false);
        return (xx + yy) / ((double)m * (m - 1)) - 2 * xy / ((double)m * m);
    }

    /// <summary>Σ k(aᵢ, bⱼ) over all pairs (or i ≠ j), k = (a·b/d + 1)³, from one GEMM a·bᵀ.</summary>
    static double KernelSum(ReadOnlySpan<double> a, ReadOnlySpan<double> b, int m, int d, Span<double> gram,
        bool offDiagonal)
    {
        Gemm.Multiply(false, true, m, m, d, 1.0 / d, a, d, b, d, 0.0, gram, m);
        double sum = 0;
        for (int i = 0; i < m; i++)
        {
            var row = gram.Slice(i * m, m);
            double r = 0;
            for (int j = 0; j < m; j++)
            {
                if (offDiagonal && i == j) continue;
                double k = row[j] + 1;
                r += k * k * k;
            }
            sum += r;
        }
        return sum;
    }
}
