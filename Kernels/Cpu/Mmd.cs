using System.Numerics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// Fused MMD² between X (n×D) and Y (m×D), see <see cref="MmdSpec"/>. Forward and backward stream over pairs:
/// no n×m matrix is ever stored. Squared distances are clamped at 0 and never go through a sqrt.
/// </summary>
public static class Mmd
{
    public static T Forward<T>(ReadOnlySpan<T> x, int n, ReadOnlySpan<T> y, int m, int d, MmdSpec spec)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        spec.Validate(n, m);
        var sc = spec.ScaledC(d);
        double sxx = PairSum(x, n, x, n, d, spec.Kernel, sc, excludeDiagonal: spec.Unbiased);
        double syy = PairSum(y, m, y, m, d, spec.Kernel, sc, excludeDiagonal: spec.Unbiased);
        double sxy = PairSum(x, n, y, m, d, spec.Kernel, sc, excludeDiagonal: false);
        double nn = spec.Unbiased ? n * (n - 1.0) : (double)n * n, mm = spec.Unbiased ? m * (m - 1.0) : (double)m * m;
        return T.CreateTruncating(sxx / nn + syy / mm - 2 * sxy / ((double)n * m));
    }

    /// <summary>dx += g · ∂MMD²/∂X and dy += g · ∂MMD²/∂Y; an empty span skips that side.</summary>
    public static void Backward<T>(ReadOnlySpan<T> x, int n, ReadOnlySpan<T> y, int m, int d, MmdSpec spec, T g, Span<T> dx, Span<T> dy)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        spec.Validate(n, m);
        var sc = spec.ScaledC(d);
        double gd = double.CreateTruncating(g);
        double nn = spec.Unbiased ? n * (n - 1.0) : (double)n * n, mm = spec.Unbiased ? m * (m - 1.0) : (double)m * m;
        // ∂/∂x_i Σ_{a,b} k(‖x_a − x_b‖²) = 2 Σ_j k'(d²_ij) · 2 (x_i − x_j)   (each unordered pair counted twice)
        if (!dx.IsEmpty)
        {
            PairGrad(x, n, x, n, d, spec.Kernel, sc, 4 * gd / nn, dx);
            PairGrad(x, n, y, m, d, spec.Kernel, sc, -4 * gd / ((double)n * m), dx);
        }
        if (!dy.IsEmpty)
        {
            PairGrad(y, m, y, m, d, spec.Kernel, sc, 4 * gd / mm, dy);
            PairGrad(y, m, x, n, d, spec.Kernel, sc, -4 * gd / ((double)n * m), dy);
        }
    }

    /// <summary>k(d²) summed over the scales, and its derivative with respect to d².</summary>
    public static (double K, double DK) Kernel(MmdKernel kind, double[] sc, double d2)
    {
        double k = 0, dk = 0;
        foreach (var c in sc)
        {
            if (kind == MmdKernel.Imq) { double r = 1 / (c + d2); k += c * r; dk -= c * r * r; }
            else { double e = Math.Exp(-d2 / c); k += e; dk -= e / c; }
        }
        return (k, dk);
    }

    static double SqDist<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double s = 0;
        for (int k = 0; k < a.Length; k++) { double t = double.CreateTruncating(a[k]) - double.CreateTruncating(b[k]); s += t * t; }
        return s;
    }

    static double PairSum<T>(ReadOnlySpan<T> a, int na, ReadOnlySpan<T> b, int nb, int d, MmdKernel kind, double[] sc, bool excludeDiagonal)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double s = 0;
        for (int i = 0; i < na; i++)
            for (int j = 0; j < nb; j++)
                if (!(excludeDiagonal && i == j)) s += Kernel(kind, sc, SqDist(a.Slice(i * d, d), b.Slice(j * d, d))).K;
        return s;
    }

    // da_i += coef · Σ_j k'(d²_ij) (a_i − b_j); the diagonal term of a self pair is (a_i − a_i) = 0 either way.
    static void PairGrad<T>(ReadOnlySpan<T> a, int na, ReadOnlySpan<T> b, int nb, int d, MmdKernel kind, double[] sc, double coef, Span<T> da)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < na; i++)
            for (int j = 0; j < nb; j++)
            {
                var ai = a.Slice(i * d, d); var bj = b.Slice(j * d, d);
                double d2 = SqDist(ai, bj);
                if (d2 <= 0) continue;
                double w = coef * Kernel(kind, sc, d2).DK;
                for (int k = 0; k < d; k++)
                    da[i * d + k] += T.CreateTruncating(w * (double.CreateTruncating(ai[k]) - double.CreateTruncating(bj[k])));
            }
    }
}
