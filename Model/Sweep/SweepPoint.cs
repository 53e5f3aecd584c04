using System.Globalization;

namespace InfoVae.Model.Sweep;

/// <summary>
/// One training of a sweep: a grid point (α, λ, divergence) or a preset, with a seed. Its run folder under the
/// sweep's --out is <see cref="Name"/>: a{α}-l{λ}-{mmd|adv}-s{seed} or {preset}-s{seed}; runs that differ only in
/// their seed share a <see cref="Setting"/>.
/// </summary>
public sealed record SweepPoint(string? Preset, double Alpha, double Lambda, Divergence Divergence, ulong Seed)
{
    public string Setting => Preset
        ?? $"a{Num(Alpha)}-l{Num(Lambda)}-{(Divergence == Divergence.Adversarial ? "adv" : "mmd")}";

    public string Name => $"{Setting}-s{Seed}";

    public double DivergenceWeight => Alpha + Lambda - 1;

    /// <summary>The flags that make this point's run, for `infovae train` (the sweep adds the shared ones).</summary>
    public IEnumerable<string> Flags()
    {
        if (Preset != null) yield return "--preset";
        if (Preset != null) yield return Preset;
        else
        {
            yield return "--alpha"; yield return Num(Alpha);
            yield return "--lambda"; yield return Num(Lambda);
        }
        yield return "--divergence"; yield return Divergence == Divergence.Adversarial ? "adversarial" : "mmd";
        yield return "--seed"; yield return Seed.ToString(CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Why the objective refuses this point, or null: a negative divergence weight α + λ − 1 would maximise the
    /// divergence, and the adversarial divergence at weight 0 trains a discriminator that reaches nothing.
    /// </summary>
    public string? Refusal() =>
        DivergenceWeight < 0
            ? $"its {(Divergence == Divergence.Mmd ? "MMD" : "divergence")} weight α + λ − 1 = {Num(DivergenceWeight)} "
              + "is negative"
            : Divergence == Divergence.Adversarial && DivergenceWeight == 0
                ? "the adversarial divergence at weight α + λ − 1 = 0 would train a discriminator that never reaches "
                  + "the encoder"
                : null;

    /// <summary>The shortest text that reads back as the same double ("0.5", "1000", "1E-05").</summary>
    public static string Num(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>
    /// The sweep's runs in a fixed order: the grid (divergence, then α, then λ) and then the presets, each for every
    /// seed in turn; points the objective refuses are left out and returned with the reason.
    /// </summary>
    public static (List<SweepPoint> Points, List<(SweepPoint Point, string Why)> Skipped) Plan(
        IReadOnlyList<double> alphas, IReadOnlyList<double> lambdas, IReadOnlyList<Divergence> divergences,
        IReadOnlyList<string> presets, IReadOnlyList<ulong> seeds)
    {
        var all = new List<SweepPoint>();
        foreach (var d in divergences)
            foreach (var a in alphas)
                foreach (var l in lambdas)
                    foreach (var s in seeds)
                        all.Add(new SweepPoint(null, a, l, d, s));
        foreach (var p in presets)
        {
            var (a, l, _) = TrainConfig.Preset(p);
            foreach (var s in seeds) all.Add(new SweepPoint(p, a, l, Divergence.Mmd, s));
        }
        var points = new List<SweepPoint>(); var skipped = new List<(SweepPoint, string)>();
        var names = new HashSet<string>();
        foreach (var p in all)
        {
            if (!names.Add(p.Name)) continue;     // a value listed twice
            if (p.Refusal() is { } why) skipped.Add((p, why));
            else points.Add(p);
        }
        return (points, skipped);
    }
}
