namespace InfoVae.Model;

/// <summary>
/// The Inception Score (Salimans et al. 2016, arXiv 1606.03498) with a classifier's class probabilities in place of
/// Inception's: IS = exp(E_x KL(p(y|x) ‖ p(y))), p(y) = E_x p(y|x), over the whole set (one split). It is high when
/// each sample is classified confidently (low entropy of p(y|x)) and the classes are balanced (high entropy of
/// p(y)); it lies between 1 and the number of classes.
/// </summary>
public static class InceptionScore
{
    /// <param name="probabilities">n × c rows of class probabilities, each summing to 1.</param>
    public static double Compute(ReadOnlySpan<double> probabilities, int n, int c)
    {
        if (probabilities.Length != n * c || n < 1 || c < 1) throw new ArgumentException($"{probabilities.Length} "
            + $"probabilities are not {n} rows of {c} classes");
        var marginal = new double[c];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < c; k++) marginal[k] += probabilities[i * c + k];
        for (int k = 0; k < c; k++) marginal[k] /= n;
        double kl = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < c; k++)
            {
                double p = probabilities[i * c + k];
                if (p > 0) kl += p * (Math.Log(p) - Math.Log(marginal[k]));   // 0·log 0 = 0
            }
        return Math.Exp(kl / n);
    }
}
