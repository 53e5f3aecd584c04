using InfoVae.Kernels.Cpu;

namespace InfoVae.Kernels.Reference;

public static partial class Reference
{
    /// <summary>
    /// MMD²(X, Y) for X (n, d), Y (m, d) from the explicit kernel matrices, in double (see <see cref="MmdSpec"/>):
    /// unbiased 1/(n(n−1)) Σ_{i≠j} k(x_i, x_j) + 1/(m(m−1)) Σ_{i≠j} k(y_i, y_j) − 2/(nm) Σ_{i,j} k(x_i, y_j);
    /// biased keeps the diagonals and divides by n², m².
    /// </summary>
    public static double Mmd(ReadOnlySpan<double> x, int n, ReadOnlySpan<double> y, int m, int d, MmdSpec spec)
    {
        var kxx = KernelMatrix(x, n, x, n, d, spec, derivative: false);
        var kyy = KernelMatrix(y, m, y, m, d, spec, derivative: false);
        var kxy = KernelMatrix(x, n, y, m, d, spec, derivative: false);
        double sxx = 0, syy = 0, sxy = 0;
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) if (!spec.Unbiased || i != j) sxx += kxx[i, j];
        for (int i = 0; i < m; i++) for (int j = 0; j < m; j++) if (!spec.Unbiased || i != j) syy += kyy[i, j];
        for (int i = 0; i < n; i++) for (int j = 0; j < m; j++) sxy += kxy[i, j];
        double nn = spec.Unbiased ? (double)n * (n - 1) : (double)n * n,
            mm = spec.Unbiased ? (double)m * (m - 1) : (double)m * m;
        return sxx / nn + syy / mm - 2 * sxy / ((double)n * m);
    }

    /// <summary>
    /// dx += g ∂MMD²/∂X, dy += g ∂MMD²/∂Y (an empty span skips that side). With k' = dk/d(d²):
    /// ∂/∂x_i = 4/nn Σ_j k'(‖x_i − x_j‖²)(x_i − x_j) − 4/(nm) Σ_j k'(‖x_i − y_j‖²)(x_i − y_j), and Y likewise.
    /// Pairs at distance 0 pass nothing (their difference is 0; the clamp's convention).
    /// </summary>
    public static void MmdBackward(ReadOnlySpan<double> x, int n, ReadOnlySpan<double> y, int m, int d, MmdSpec spec,
        double g,
        Span<double> dx, Span<double> dy)
    {
        double nn = spec.Unbiased ? (double)n * (n - 1) : (double)n * n,
            mm = spec.Unbiased ? (double)m * (m - 1) : (double)m * m;
        double cross = -4 * g / ((double)n * m);
        if (!dx.IsEmpty)
        {
            PairGradient(x, n, x, n, d, KernelMatrix(x, n, x, n, d, spec, derivative: true), 4 * g / nn, dx);
            PairGradient(x, n, y, m, d, KernelMatrix(x, n, y, m, d, spec, derivative: true), cross, dx);
        }
        if (!dy.IsEmpty)
        {
            PairGradient(y, m, y, m, d, KernelMatrix(y, m, y, m, d, spec, derivative: true), 4 * g / mm, dy);
            PairGradient(y, m, x, n, d, KernelMatrix(y, m, x, n, d, spec, derivative: true), cross, dy);
        }
    }

    // K[i, j] = k(‖a_i − b_j‖²), or k'(‖a_i − b_j‖²) (0 where the distance is 0).
    // IMQ: k(t) = Σ_s c_s / (c_s + t), k'(t) = −Σ_s c_s / (c_s + t)². RBF: k(t) = Σ_s exp(−t / c_s), k'(t) = −Σ_s
    // exp(−t / c_s) / c_s. c_s = s · 2 · d · bandwidth².
    static double[,] KernelMatrix(ReadOnlySpan<double> a, int na, ReadOnlySpan<double> b, int nb, int d, MmdSpec spec,
        bool derivative)
    {
        var dist = new double[na * nb];
        PairwiseDistance(a, na, b, nb, d, dist);
        var k = new double[na, nb];
        for (int i = 0; i < na; i++)
            for (int j = 0; j < nb; j++)
            {
                double t = dist[i * nb + j], sum = 0;
                if (derivative && t <= 0) continue;
                foreach (var s in spec.Scales)
                {
                    double c = s * 2 * d * spec.Bandwidth * spec.Bandwidth;
                    if (spec.Kernel == MmdKernel.Imq) sum += derivative ? -c / ((c + t) * (c + t)) : c / (c + t);
                    else sum += derivative ? -Math.Exp(-t / c) / c : Math.Exp(-t / c);
                }
                k[i, j] = sum;
            }
        return k;
    }

    // da_i += coef · Σ_j K'[i, j] (a_i − b_j)
    static void PairGradient(ReadOnlySpan<double> a, int na, ReadOnlySpan<double> b, int nb, int d, double[,] kp,
        double coef, Span<double> da)
    {
        for (int i = 0; i < na; i++)
            for (int j = 0; j < nb; j++)
                for (int k = 0; k < d; k++)
                    da[i * d + k] += coef * kp[i, j] * (a[i * d + k] - b[j * d + k]);
    }
}
