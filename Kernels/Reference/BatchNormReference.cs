namespace InfoVae.Kernels.Reference;

// Batch norm over an (R, C) matrix x: every leading axis is a row, statistics are per column c over the R rows
// (NHWC activations (N, H, W, C) are R = N·H·W rows). PyTorch's BatchNorm2d:
// https://pytorch.org/docs/stable/generated/torch.nn.BatchNorm2d.html
// Tested against: Kernels/Cpu/BatchNorm.cs (Tests/Kernels/BatchNormKernelTests.cs), Engine/Ops/BatchNorm.cs.
public static partial class Reference
{
    /// <summary>
    /// mean[c] = Σ_r x[r, c] / R; var[c] = Σ_r (x[r, c] − mean[c])² / R (biased), two passes. x: (R, C).
    /// </summary>
    public static void BatchNormStats(ReadOnlySpan<double> x, int rows, int c, Span<double> mean, Span<double> variance)
    {
        for (int j = 0; j < c; j++)
        {
            double s = 0;
            for (int r = 0; r < rows; r++) s += x[r * c + j];
            double m = s / rows, q = 0;
            for (int r = 0; r < rows; r++) { double d = x[r * c + j] - m; q += d * d; }
            mean[j] = m;
            variance[j] = q / rows;
        }
    }

    /// <summary>y[r, c] = (x[r, c] − mean[c]) · gamma[c] / √(var[c] + eps) + beta[c].</summary>
    public static void BatchNormApply(ReadOnlySpan<double> x, int rows, int c, ReadOnlySpan<double> mean,
        ReadOnlySpan<double> variance, double eps,
        ReadOnlySpan<double> gamma, ReadOnlySpan<double> beta, Span<double> y)
    {
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < c; j++)
                y[r * c + j] = (x[r * c + j] - mean[j]) * gamma[j] / Math.Sqrt(variance[j] + eps) + beta[j];
    }

    /// <summary>
    /// Training-mode backward, every output accumulated (an empty span skips it), with xhat = (x − mean)/√(var + eps):
    /// dBeta += Σ_r dy; dGamma += Σ_r dy·xhat; dx += gamma/√(var + eps) · (dy − mean_r(dy) − xhat · mean_r(dy·xhat)).
    /// </summary>
    public static void BatchNormBackward(ReadOnlySpan<double> x, int rows, int c, ReadOnlySpan<double> mean,
        ReadOnlySpan<double> variance, double eps,
        ReadOnlySpan<double> gamma, ReadOnlySpan<double> dy, Span<double> dx, Span<double> dGamma, Span<double> dBeta)
    {
        for (int j = 0; j < c; j++)
        {
            double inv = 1 / Math.Sqrt(variance[j] + eps), sdy = 0, sdyx = 0;
            for (int r = 0; r < rows; r++)
            {
                sdy += dy[r * c + j];
                sdyx += dy[r * c + j] * (x[r * c + j] - mean[j]) * inv;
            }
            if (!dBeta.IsEmpty) dBeta[j] += sdy;
            if (!dGamma.IsEmpty) dGamma[j] += sdyx;
            if (dx.IsEmpty) continue;
            for (int r = 0; r < rows; r++)
            {
                double xhat = (x[r * c + j] - mean[j]) * inv;
                dx[r * c + j] += gamma[j] * inv * (dy[r * c + j] - sdy / rows - xhat * sdyx / rows);
            }
        }
    }

    /// <summary>
    /// PyTorch's running-stat update: rm = (1 − m)·rm + m·mean; rv = (1 − m)·rv + m·var·R/(R − 1) (var unbiased).
    /// </summary>
    public static void BatchNormUpdateRunning(ReadOnlySpan<double> mean, ReadOnlySpan<double> variance, int rows,
        double momentum,
        Span<double> runningMean, Span<double> runningVar)
    {
        for (int j = 0; j < mean.Length; j++)
        {
            runningMean[j] = (1 - momentum) * runningMean[j] + momentum * mean[j];
            runningVar[j] = (1 - momentum) * runningVar[j] + momentum * variance[j] * rows / (rows - 1);
        }
    }
}
