namespace InfoVae.Model.Sweep;

/// <summary>
/// The rate-distortion Pareto front (Alemi et al. 2018, "Fixing a Broken ELBO"): rate = KL(q(z|x) ‖ p(z)),
/// distortion = reconstruction NLL, both to be low. A point is on the front when no other point is at least as good
/// on both and better on one.
/// </summary>
public static class Pareto
{
    /// <summary>
    /// For each point, whether it is on the front. Points with a non-finite coordinate are never on it and never
    /// dominate; equal points do not dominate each other (both are on the front, or neither).
    /// </summary>
    public static bool[] Front(IReadOnlyList<(double Rate, double Distortion)> points)
    {
        static bool Finite((double Rate, double Distortion) p) =>
            double.IsFinite(p.Rate) && double.IsFinite(p.Distortion);
        var front = new bool[points.Count];
        for (int i = 0; i < points.Count; i++)
        {
            var p = points[i];
            if (!Finite(p)) continue;
            bool dominated = false;
            for (int j = 0; j < points.Count && !dominated; j++)
            {
                var q = points[j];
                dominated = j != i && Finite(q) && q.Rate <= p.Rate && q.Distortion <= p.Distortion
                    && (q.Rate < p.Rate || q.Distortion < p.Distortion);
            }
            front[i] = !dominated;
        }
        return front;
    }
}
