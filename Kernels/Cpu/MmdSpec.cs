using System.Collections.Immutable;

namespace InfoVae.Kernels.Cpu;

/// <summary>The kernel k(d²) of an MMD² (see <see cref="MmdSpec"/>).</summary>
public enum MmdKernel
{
    /// <summary>Inverse multiquadric, C/(C + d²): heavy tails, the WAE paper's choice.</summary>
    Imq,
    /// <summary>Gaussian, exp(−d²/C).</summary>
    Rbf,
}

/// <summary>
/// Which MMD² to compute between X (n×D) and Y (m×D). C = 2·D·bandwidth² (the WAE/pythae convention: with
/// bandwidth 1, C = E‖y − y'‖² for y ~ N(0, I_D)).
/// IMQ: k(d²) = Σ_s s·C / (s·C + d²). RBF: k(d²) = Σ_s exp(−d² / (s·C)).
/// Unbiased (U-statistic): off-diagonal means of k(X,X) and k(Y,Y), minus 2·mean k(X,Y); biased: all pairs.
/// </summary>
public sealed record MmdSpec(MmdKernel Kernel, double[] Scales, double Bandwidth = 1.0, bool Unbiased = true)
{
    /// <summary>The WAE paper's IMQ scales, read-only: configs and specs take a copy (<c>[.. WaeScales]</c>).</summary>
    public static ImmutableArray<double> WaeScales { get; } = [0.1, 0.2, 0.5, 1, 2, 5, 10];

    /// <summary>IMQ with <see cref="WaeScales"/>, a new spec and array on every read.</summary>
    public static MmdSpec Default => new(MmdKernel.Imq, [.. WaeScales]);

    /// <summary>The per-scale constants s·C for latent size d.</summary>
    public double[] ScaledC(int d) => Array.ConvertAll(Scales, s => s * 2.0 * d * Bandwidth * Bandwidth);

    /// <summary>Throws <see cref="ArgumentException"/> when the spec cannot be computed for n and m points.</summary>
    public void Validate(int n, int m)
    {
        if (Scales.Length == 0) throw new ArgumentException("MMD needs at least one kernel scale");
        foreach (var s in Scales)
            if (!(s > 0) || !double.IsFinite(s))
                throw new ArgumentException($"MMD scale {s} must be positive and finite");
        if (!(Bandwidth > 0) || !double.IsFinite(Bandwidth))
            throw new ArgumentException($"MMD bandwidth {Bandwidth} must be positive and finite");
        if (n < 1 || m < 1) throw new ArgumentException("MMD needs at least one sample on each side");
        if (Unbiased && (n < 2 || m < 2))
            throw new ArgumentException("the unbiased MMD estimator needs at least 2 samples on each side (use the "
                + "biased one for batch 1)");
    }
}
