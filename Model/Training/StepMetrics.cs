namespace InfoVae.Model;

/// <summary>The loss terms of one step or one evaluation, per image (nats), as logged.</summary>
public readonly record struct StepMetrics(double Total, double Recon, double Kl, double Mmd)
{
    public bool IsFinite => double.IsFinite(Total) && double.IsFinite(Recon) && double.IsFinite(Kl) && double.IsFinite(Mmd);

    /// <summary>The first non-finite term's name, for the error that stops training.</summary>
    /// <summary>"recon 12.3, kl NaN, mmd +∞, total NaN": the four terms for a message.</summary>
    public string Describe()
    {
        static string F(double v) => double.IsNaN(v) ? "NaN" : double.IsPositiveInfinity(v) ? "+∞" : double.IsNegativeInfinity(v) ? "−∞"
            : v.ToString("G6", System.Globalization.CultureInfo.InvariantCulture);
        return $"recon {F(Recon)}, kl {F(Kl)}, mmd {F(Mmd)}, total {F(Total)}";
    }

    public string? FirstNonFinite() =>
        !double.IsFinite(Recon) ? "recon" : !double.IsFinite(Kl) ? "kl" : !double.IsFinite(Mmd) ? "mmd" : !double.IsFinite(Total) ? "total" : null;
}
