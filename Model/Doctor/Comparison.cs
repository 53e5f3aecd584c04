namespace InfoVae.Model.Doctor;

/// <summary>
/// How a device's outputs compare with the reference's, over all outputs of one check. MaxAbs = the largest
/// |got − expected|; MaxRel = the largest MaxAbs / max |expected| of an output (normwise, so that elements near zero do
/// not blow it up); Ratio = the largest |got − expected| / allowed (≤ 1 passes; +∞ for a NaN or ∞ where the
/// reference has none, or a length mismatch); Atol and Rtol those of the output with the largest ratio; Worst
/// names that element ("dx[17]: expected 0.25 got 0.2499").
/// </summary>
public sealed record Comparison(double MaxAbs, double MaxRel, double Ratio, double Atol, double Rtol, string? Worst)
{
    public bool Ok => Ratio <= 1;

    public static Comparison Of(IReadOnlyList<CheckOutput> expected, IReadOnlyList<CheckOutput> actual, bool exact)
    {
        if (expected.Count != actual.Count)
            return new(double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity, 0, 0,
                $"{actual.Count} outputs where the reference has {expected.Count}");
        double maxAbs = 0, maxRel = 0, ratio = 0, atolWorst = 0, rtolWorst = 0;
        string? worst = null;
        for (int o = 0; o < expected.Count; o++)
        {
            var (e, a) = (expected[o].Values, actual[o].Values);
            var tol = exact ? Tolerance.Exact : expected[o].Tolerance;
            if (e.Length != a.Length)
                return new(double.PositiveInfinity, double.PositiveInfinity, double.PositiveInfinity, 0, 0,
                    $"{expected[o].Name}: {a.Length} values where the reference has {e.Length}");
            double scale = 0;
            foreach (float v in e) if (float.IsFinite(v)) scale = Math.Max(scale, Math.Abs(v));
            double atol = tol.Scale * scale + tol.Floor, outAbs = 0;
            if (o == 0) (atolWorst, rtolWorst) = (atol, tol.Rel);
            for (int i = 0; i < e.Length; i++)
            {
                double d, r;
                if (!exact && float.IsFinite(e[i]) && float.IsFinite(a[i]))
                {
                    d = Math.Abs((double)a[i] - e[i]);
                    double allowed = atol + tol.Rel * Math.Abs(e[i]);
                    r = d == 0 ? 0 : allowed > 0 ? d / allowed : double.PositiveInfinity;
                }
                else
                {
                    bool same = BitConverter.SingleToInt32Bits(e[i]) == BitConverter.SingleToInt32Bits(a[i])
                        || (float.IsNaN(e[i]) && float.IsNaN(a[i])) || (!exact && e[i] == a[i]);
                    d = same ? 0
                        : float.IsFinite(e[i]) && float.IsFinite(a[i]) ? Math.Abs((double)a[i] - e[i])
                        : double.PositiveInfinity;
                    r = same ? 0 : double.PositiveInfinity;
                }
                outAbs = Math.Max(outAbs, d);
                if (r > ratio)
                {
                    ratio = r;
                    worst = $"{expected[o].Name}[{i}]: expected {e[i]:G9} got {a[i]:G9}";
                    (atolWorst, rtolWorst) = (atol, tol.Rel);
                }
            }
            maxAbs = Math.Max(maxAbs, outAbs);
            maxRel = Math.Max(maxRel, scale > 0 ? outAbs / scale : outAbs > 0 ? double.PositiveInfinity : 0);
        }
        return new(maxAbs, maxRel, ratio, atolWorst, rtolWorst, worst);
    }
}
