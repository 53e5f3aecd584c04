namespace InfoVae.Model;

/// <summary>
/// The loss terms of one step or one evaluation, per image (nats), as logged. <see cref="Adversarial"/> (the
/// generator loss) and <see cref="Discriminator"/> (the discriminator's loss) are 0 unless the divergence is
/// adversarial.
/// </summary>
public readonly record struct StepMetrics(double Total, double Recon, double Kl, double Mmd,
    double Adversarial = 0, double Discriminator = 0)
{
    public bool IsFinite => double.IsFinite(Total) && double.IsFinite(Recon) && double.IsFinite(Kl)
        && double.IsFinite(Mmd) && double.IsFinite(Adversarial) && double.IsFinite(Discriminator);

    /// <summary>"recon 12.3, kl NaN, mmd +∞, total NaN": the terms for a message.</summary>
    public string Describe()
    {
        static string F(double v) => double.IsNaN(v) ? "NaN" : double.IsPositiveInfinity(v) ? "+∞"
            : double.IsNegativeInfinity(v) ? "−∞"
            : v.ToString("G6", System.Globalization.CultureInfo.InvariantCulture);
        string adversarial = Adversarial != 0 || Discriminator != 0
            ? $", adversarial {F(Adversarial)}, discriminator {F(Discriminator)}"
            : "";
        return $"recon {F(Recon)}, kl {F(Kl)}, mmd {F(Mmd)}{adversarial}, total {F(Total)}";
    }

    /// <summary>The first non-finite term's name, for the error that stops training.</summary>
    public string? FirstNonFinite() =>
        !double.IsFinite(Recon) ? "recon" : !double.IsFinite(Kl) ? "kl" : !double.IsFinite(Mmd) ? "mmd"
        : !double.IsFinite(Adversarial) ? "adversarial" : !double.IsFinite(Discriminator) ? "discriminator"
        : !double.IsFinite(Total) ? "total" : null;
}
