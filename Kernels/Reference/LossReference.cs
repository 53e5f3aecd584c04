namespace InfoVae.Kernels.Reference;

// The loss terms in double, from their definitions. Tested against: Kernels/Cpu/Losses.cs
// (Tests/Kernels/LossKernelTests.cs).
public static partial class Reference
{
    /// <summary>
    /// Binary cross-entropy of target t under logit z: −[t·log σ(z) + (1 − t)·log(1 − σ(z))]
    /// = t·softplus(−z) + (1 − t)·softplus(z), since log σ(z) = −softplus(−z) and log(1 − σ(z)) = −softplus(z).
    /// A term whose weight is 0 is 0 even where its log is −∞ (cross-entropy's 0·log 0 = 0): so z = +∞ with t = 1
    /// costs 0, while z = +∞ with t &lt; 1 costs +∞.
    /// </summary>
    public static double BceWithLogits(double z, double t) => Weighted(t, Softplus(-z)) + Weighted(1 - t, Softplus(z));

    static double Weighted(double w, double v) => w == 0 ? 0 : w * v;

    /// <summary>∂BCE/∂z = σ(z) − t.</summary>
    public static double BceWithLogitsGradZ(double z, double t) => Sigmoid(z) - t;

    /// <summary>∂BCE/∂t = softplus(−z) − softplus(z) = −z.</summary>
    public static double BceWithLogitsGradT(double z) => -z;

    /// <summary>
    /// KL(N(mu, σ²) ‖ N(0, 1)) summed over each row of z, σ² = exp(lv), from the closed form for one dimension
    /// ½ (σ² + mu² − 1 − log σ²). mu, logvar: (rows, z); destination: rows. An infinite input gives +∞
    /// (the term tends to +∞ as lv → ±∞ or mu → ±∞); NaN gives NaN.
    /// </summary>
    public static void GaussianKl(ReadOnlySpan<double> mu, ReadOnlySpan<double> logvar, int rows, int z,
        Span<double> destination)
    {
        for (int r = 0; r < rows; r++)
        {
            double s = 0;
            for (int j = 0; j < z; j++)
            {
                double m = mu[r * z + j], lv = logvar[r * z + j];
                double varTerm = double.IsPositiveInfinity(lv) ? lv : Math.Exp(lv) - 1 - lv;
                s += 0.5 * (varTerm + m * m);
            }
            destination[r] = s;
        }
    }

    /// <summary>∂KL/∂mu = mu.</summary>
    public static double GaussianKlGradMu(double mu) => mu;

    /// <summary>∂KL/∂lv = ½ (exp(lv) − 1).</summary>
    public static double GaussianKlGradLogvar(double lv) => 0.5 * (Math.Exp(lv) - 1);

    /// <summary>
    /// Cross-entropy of the target weights t under softmax(z) for one row, from the definition
    /// −Σ_c t_c·log softmax(z)_c with log softmax(z)_c = z_c − log Σ_k exp(z_k) (shifted by the maximum); a zero
    /// weight contributes 0.
    /// </summary>
    public static double SoftmaxCrossEntropy(ReadOnlySpan<double> z, ReadOnlySpan<double> t)
    {
        double lse = LogSumExp(z), s = 0;
        for (int c = 0; c < z.Length; c++) s += Weighted(t[c], lse - z[c]);
        return s;
    }

    /// <summary>∂/∂z_c = softmax(z)_c·Σ_k t_k − t_c.</summary>
    public static double SoftmaxCrossEntropyGradZ(ReadOnlySpan<double> z, ReadOnlySpan<double> t, int c)
    {
        double mass = 0;
        foreach (var v in t) mass += v;
        return Math.Exp(z[c] - LogSumExp(z)) * mass - t[c];
    }

    /// <summary>∂/∂t_c = −log softmax(z)_c.</summary>
    public static double SoftmaxCrossEntropyGradT(ReadOnlySpan<double> z, int c) => LogSumExp(z) - z[c];

    static double LogSumExp(ReadOnlySpan<double> z)
    {
        double max = double.NegativeInfinity, s = 0;
        foreach (var v in z) max = Math.Max(max, v);
        foreach (var v in z) s += Math.Exp(v - max);
        return max + Math.Log(s);
    }
}
