using System.Numerics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// Batch norm over an (R, C) matrix, statistics per column over the R rows (NHWC activations: R = N·H·W).
/// Sums are accumulated in double (a float sum over 50k rows loses digits).
/// Correctness: Tests/Kernels/BatchNormKernelTests.cs against Kernels/Reference/BatchNormReference.cs.
/// </summary>
public static class BatchNorm
{
    /// <summary>mean[c] = Σ_r x[r, c] / R, variance[c] = Σ_r (x[r, c] − mean[c])² / R (biased), two passes in double.</summary>
    public static void Stats<T>(ReadOnlySpan<T> x, int rows, int c, Span<T> mean, Span<T> variance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, rows, c);
        if (mean.Length < c || variance.Length < c) Simd.ThrowDestinationTooShort();
        for (int j = 0; j < c; j++)
        {
            double s = 0;
            for (int r = 0; r < rows; r++) s += double.CreateTruncating(x[r * c + j]);
            double m = s / rows, q = 0;
            for (int r = 0; r < rows; r++) { double d = double.CreateTruncating(x[r * c + j]) - m; q += d * d; }
            mean[j] = T.CreateTruncating(m);
            variance[j] = T.CreateTruncating(q / rows);
        }
    }

    /// <summary>y[r, c] = (x[r, c] − mean[c]) · gamma[c] / √(var[c] + eps) + beta[c]. In place (y = x) is allowed.</summary>
    public static void Apply<T>(ReadOnlySpan<T> x, int rows, int c, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, double eps,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, rows, c);
        CheckParams(c, mean, variance, gamma, beta);
        if (y.Length < x.Length) Simd.ThrowDestinationTooShort();
        for (int j = 0; j < c; j++)
        {
            T scale = T.CreateTruncating(double.CreateTruncating(gamma[j]) / Math.Sqrt(double.CreateTruncating(variance[j]) + eps));
            for (int r = 0; r < rows; r++) y[r * c + j] = (x[r * c + j] - mean[j]) * scale + beta[j];
        }
    }

    /// <summary>
    /// Training-mode backward (accumulates; an empty span skips that output), xhat = (x − mean)/√(var + eps):
    /// dBeta += Σ_r dy; dGamma += Σ_r dy·xhat; dx += gamma/√(var + eps) · (dy − mean_r(dy) − xhat · mean_r(dy·xhat)).
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> x, int rows, int c, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, double eps,
        ReadOnlySpan<T> gamma, ReadOnlySpan<T> dy, Span<T> dx, Span<T> dGamma, Span<T> dBeta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check(x.Length, rows, c);
        CheckParams(c, mean, variance, gamma, gamma);
        if (dy.Length != x.Length) throw new ArgumentException($"dy holds {dy.Length} elements, x {x.Length}", nameof(dy));
        if ((!dx.IsEmpty && dx.Length < x.Length) || (!dGamma.IsEmpty && dGamma.Length < c) || (!dBeta.IsEmpty && dBeta.Length < c))
            Simd.ThrowDestinationTooShort();
        for (int j = 0; j < c; j++)
        {
            double m = double.CreateTruncating(mean[j]), inv = 1 / Math.Sqrt(double.CreateTruncating(variance[j]) + eps), sdy = 0, sdyx = 0;
            for (int r = 0; r < rows; r++)
            {
                double g = double.CreateTruncating(dy[r * c + j]);
                sdy += g;
                sdyx += g * (double.CreateTruncating(x[r * c + j]) - m);
            }
            sdyx *= inv;
            if (!dBeta.IsEmpty) dBeta[j] += T.CreateTruncating(sdy);
            if (!dGamma.IsEmpty) dGamma[j] += T.CreateTruncating(sdyx);
            if (dx.IsEmpty) continue;
            double a = double.CreateTruncating(gamma[j]) * inv;
            T ta = T.CreateTruncating(a), tb = T.CreateTruncating(-a * inv * sdyx / rows), tc = T.CreateTruncating(-a * sdy / rows);
            for (int r = 0; r < rows; r++)
                dx[r * c + j] += ta * dy[r * c + j] + tb * (x[r * c + j] - mean[j]) + tc;
        }
    }

    /// <summary>PyTorch's update: rm = (1 − m)·rm + m·mean; rv = (1 − m)·rv + m·var·R/(R − 1). R must be ≥ 2.</summary>
    public static void UpdateRunning<T>(ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, int rows, double momentum,
        Span<T> runningMean, Span<T> runningVar) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (rows < 2) throw new ArgumentException($"the unbiased running variance needs at least 2 rows, not {rows}", nameof(rows));
        int c = mean.Length;
        if (variance.Length != c || runningMean.Length != c || runningVar.Length != c)
            throw new ArgumentException($"mean ({c}), variance ({variance.Length}), running mean ({runningMean.Length}) and running variance ({runningVar.Length}) differ in length");
        double unbias = (double)rows / (rows - 1);
        for (int j = 0; j < c; j++)
        {
            runningMean[j] = T.CreateTruncating((1 - momentum) * double.CreateTruncating(runningMean[j]) + momentum * double.CreateTruncating(mean[j]));
            runningVar[j] = T.CreateTruncating((1 - momentum) * double.CreateTruncating(runningVar[j]) + momentum * double.CreateTruncating(variance[j]) * unbias);
        }
    }

    static void Check(int length, int rows, int c)
    {
        if (rows < 1 || c < 1) throw new ArgumentException($"batch norm needs rows ≥ 1 and C ≥ 1, not ({rows}, {c})");
        if ((long)rows * c != length) throw new ArgumentException($"x holds {length} elements, not R·C = {rows}·{c}", "x");
    }

    static void CheckParams<T>(int c, ReadOnlySpan<T> mean, ReadOnlySpan<T> variance, ReadOnlySpan<T> gamma, ReadOnlySpan<T> beta)
    {
        if (mean.Length != c || variance.Length != c || gamma.Length != c || beta.Length != c)
            throw new ArgumentException($"mean ({mean.Length}), variance ({variance.Length}), gamma ({gamma.Length}) and beta ({beta.Length}) must each hold C = {c}");
    }
}
