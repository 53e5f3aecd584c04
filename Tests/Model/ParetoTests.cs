using InfoVae.Model;
using InfoVae.Model.Pictures;
using InfoVae.Model.Sweep;
using SkiaSharp;

namespace InfoVae.Tests.Model;

/// <summary>The rate-distortion front on points made by hand, the sweep's plan of runs, the Pareto picture.</summary>
public class ParetoTests
{
    [Test]
    public void The_front_holds_exactly_the_points_nothing_beats_on_both_axes()
    {
        (double, double)[] points =
        [
            (1, 5),             // 0: lowest rate: on the front
            (2, 3),             // 1: on the front
            (3, 4),             // 2: beaten by (2, 3) on both
            (4, 1),             // 3: lowest distortion: on the front
            (2, 3),             // 4: equal to 1: equal points do not beat each other
            (5, 1),             // 5: same distortion as (4, 1), more rate: beaten
            (1, 6),             // 6: same rate as (1, 5), more distortion: beaten
            (double.NaN, 0),    // 7: not finite: never on the front, beats nothing
            (0.5, double.PositiveInfinity),   // 8: the same
            (3, 2),             // 9: between (2, 3) and (4, 1): on the front
        ];
        Assert.That(Pareto.Front(points),
            Is.EqualTo(new[] { true, true, false, true, true, false, false, false, false, true }));
    }

    [Test]
    public void One_point_is_its_own_front_and_no_points_give_an_empty_one()
    {
        Assert.That(Pareto.Front([(7.0, 3.0)]), Is.EqualTo(new[] { true }));
        Assert.That(Pareto.Front([]), Is.Empty);
    }

    [Test]
    public void The_plan_crosses_the_grid_with_the_seeds_and_skips_what_the_objective_refuses()
    {
        var (points, skipped) =
            SweepPoint.Plan([-1, 0], [1, 10, 10], [Divergence.Mmd, Divergence.Adversarial], ["elbo"], [0, 1]);
        // Divergence, then α, then λ (the second 10 is a repeat), then seed; the presets last.
        Assert.That(points.Select(p => p.Name), Is.EqualTo(new[]
        {
            "a-1-l10-mmd-s0", "a-1-l10-mmd-s1", "a0-l1-mmd-s0", "a0-l1-mmd-s1", "a0-l10-mmd-s0", "a0-l10-mmd-s1",
            "a-1-l10-adv-s0", "a-1-l10-adv-s1", "a0-l10-adv-s0", "a0-l10-adv-s1", "elbo-s0", "elbo-s1",
        }));
        // α = −1, λ = 1: weight −1 (both divergences); α = 0, λ = 1 adversarial: weight 0.
        Assert.That(skipped.Select(s => s.Point.Name), Is.EquivalentTo(new[]
        {
            "a-1-l1-mmd-s0", "a-1-l1-mmd-s1", "a-1-l1-adv-s0", "a-1-l1-adv-s1", "a0-l1-adv-s0", "a0-l1-adv-s1",
        }));
        Assert.That(skipped.First(s => s.Point.Name == "a-1-l1-mmd-s0").Why,
            Does.Contain("MMD weight α + λ − 1 = -1 is negative"));
        Assert.That(skipped.First(s => s.Point.Name == "a0-l1-adv-s0").Why, Does.Contain("never reaches the encoder"));
        Assert.That(points.Single(p => p.Name == "elbo-s1").Flags(),
            Is.EqualTo(new[] { "--preset", "elbo", "--divergence", "mmd", "--seed", "1" }));
        Assert.That(points.Single(p => p.Name == "a-1-l10-adv-s0").Flags(),
            Is.EqualTo(new[] { "--alpha", "-1", "--lambda", "10", "--divergence", "adversarial", "--seed", "0" }));
    }

    [Test]
    public void Mean_and_spread_over_seeds()
    {
        Assert.That(SweepReport.MeanSd([1.0, 2.0, 3.0], "F2"), Is.EqualTo("2.00 ± 1.00"));
        Assert.That(SweepReport.MeanSd([4.0, null], "F1"), Is.EqualTo("4.0"));
        Assert.That(SweepReport.MeanSd([null, null], "F1"), Is.EqualTo("–"));
        Assert.That(SweepReport.MeanSd([4.0, 31.0, 31.0], "F0"), Is.EqualTo("22 ± 15.6"));
    }

    [Test]
    public void The_pareto_picture_colours_by_value_and_rings_the_front()
    {
        using var dir = new TempFolder();
        var path = dir["pareto.png"];
        ParetoPoint[] points =
        [
            new(1, 5, 10, 0, true), new(2, 3, 20, 1, true), new(3, 4, 30, 1, false), new(4, 1, 40, 2, true),
        ];
        ParetoPlot.Write(path, points, ["elbo", "infovae", "beta-vae"], "FID", width: 700, height: 500);
        using var b = SKBitmap.Decode(path);
        Assert.That((b.Width, b.Height), Is.EqualTo((700, 500)));
        // The lowest value is viridis' dark purple, the highest its yellow: dots and the colour bar.
        Assert.That(Count(b, ParetoPlot.Viridis(0)), Is.GreaterThan(50), "dark purple");
        Assert.That(Count(b, ParetoPlot.Viridis(1)), Is.GreaterThan(50), "yellow");
        Assert.That(ParetoPlot.Viridis(0), Is.EqualTo(new SKColor(0x44, 0x01, 0x54)));
        Assert.That(ParetoPlot.Viridis(0.5f), Is.EqualTo(new SKColor(0x21, 0x91, 0x8c)));
        Assert.Throws<ArgumentException>(() => ParetoPlot.Write(path, [new(1, 1, 1, 3, true)], ["one"], "FID"));
    }

    static int Count(SKBitmap b, SKColor target)
    {
        int n = 0;
        for (int y = 0; y < b.Height; y++)
            for (int x = 0; x < b.Width; x++)
            {
                var c = b.GetPixel(x, y);
                int d = Math.Abs(c.Red - target.Red) + Math.Abs(c.Green - target.Green)
                    + Math.Abs(c.Blue - target.Blue);
                if (d <= 12) n++;
            }
        return n;
    }
}
