using System.Globalization;
using SkiaSharp;

namespace InfoVae.Model.Pictures;

/// <summary>
/// A plot's frame: maps data to pixels and draws the box, ticks at 1-2-5 steps with labels, grid lines, axis
/// labels and a title. The legend sits right of the box, so it never hides data.
/// </summary>
sealed class Axes
{
    const int Bottom = 52, Top = 34, Right = 16, YLabelColumn = 30;
    public readonly SKRect Box;
    readonly double x0, x1, y0, y1, xStep, yStep;

    /// <summary>
    /// A box filling a width × height picture, less room for tick labels, axis labels, title and legend.
    /// </summary>
    public Axes(int width, int height, int legendWidth, (double Lo, double Hi) x, (double Lo, double Hi) y)
    {
        (x0, x1, y0, y1) = (x.Lo, x.Hi, y.Lo, y.Hi);
        float boxHeight = height - Top - Bottom;
        yStep = Step(y0, y1, Math.Max(2, (int)(boxHeight / 60)));
        using var font = Png.Font(12);
        // The y tick labels decide the left margin: "0.0025" needs more room than "5".
        float widest = Ticks(y0, y1, yStep).Select(t => font.MeasureText(Format(t, yStep))).DefaultIfEmpty(0).Max();
        float left = YLabelColumn + widest + 12;
        Box = new SKRect(left, Top, width - Right - legendWidth, height - Bottom);
        xStep = Step(x0, x1, Math.Max(2, (int)(Box.Width / 90)));
    }

    public float X(double v) => (float)(Box.Left + (v - x0) / (x1 - x0) * Box.Width);
    public float Y(double v) => (float)(Box.Bottom - (v - y0) / (y1 - y0) * Box.Height);

    /// <summary>
    /// [lo, hi] of the finite values widened by <paramref name="pad"/> of the span; a single value gets ±1.
    /// </summary>
    public static (double Lo, double Hi) Range(IEnumerable<double> values, double pad = 0.04)
    {
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        foreach (var v in values)
            if (double.IsFinite(v)) { lo = Math.Min(lo, v); hi = Math.Max(hi, v); }
        if (lo > hi) return (0, 1);
        if (lo == hi) return (lo - Math.Max(1, Math.Abs(lo) * 0.1), hi + Math.Max(1, Math.Abs(hi) * 0.1));
        double d = (hi - lo) * pad;
        return (lo - d, hi + d);
    }

    /// <summary>Tick step 1, 2 or 5 × 10^k giving about <paramref name="target"/> ticks over [lo, hi].</summary>
    public static double Step(double lo, double hi, int target = 6)
    {
        double raw = (hi - lo) / target, p = Math.Pow(10, Math.Floor(Math.Log10(raw))), m = raw / p;
        return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
    }

    static IEnumerable<double> Ticks(double lo, double hi, double step)
    {
        for (double k = Math.Ceiling(lo / step); k * step <= hi + step * 1e-9; k++) yield return k * step;
    }

    static string Format(double v, double step)
    {
        if (Math.Abs(v) < step * 1e-6) v = 0;                              // -0 and 1e-17 print as 0
        if (Math.Abs(v) >= 1e6 || step < 1e-4) return v.ToString("G3", CultureInfo.InvariantCulture);
        int decimals = Math.Max(0, -(int)Math.Floor(Math.Log10(step) + 1e-9));
        return v.ToString("F" + decimals, CultureInfo.InvariantCulture);
    }

    public void Draw(SKCanvas canvas, string? title, string xLabel, string yLabel)
    {
        using var font = Png.Font(12);
        using var labelFont = Png.Font(14);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        using var frame = new SKPaint { Color = SKColors.Black, IsStroke = true, StrokeWidth = 1 };
        using var grid = new SKPaint { Color = new SKColor(0xe4, 0xe4, 0xe4), IsStroke = true, StrokeWidth = 1 };

        double xs = xStep, ys = yStep;
        foreach (var t in Ticks(x0, x1, xs))
        {
            float px = X(t);
            canvas.DrawLine(px, Box.Top, px, Box.Bottom, grid);
            canvas.DrawLine(px, Box.Bottom, px, Box.Bottom + 5, frame);
            canvas.DrawText(Format(t, xs), px, Box.Bottom + 18, SKTextAlign.Center, font, ink);
        }
        foreach (var t in Ticks(y0, y1, ys))
        {
            float py = Y(t);
            canvas.DrawLine(Box.Left, py, Box.Right, py, grid);
            canvas.DrawLine(Box.Left - 5, py, Box.Left, py, frame);
            canvas.DrawText(Format(t, ys), Box.Left - 8, py + 4, SKTextAlign.Right, font, ink);
        }
        canvas.DrawRect(Box, frame);

        canvas.DrawText(xLabel, Box.MidX, Box.Bottom + 40, SKTextAlign.Center, labelFont, ink);
        canvas.Save();
        canvas.RotateDegrees(-90, YLabelColumn / 2f, Box.MidY);
        canvas.DrawText(yLabel, YLabelColumn / 2f, Box.MidY + 5, SKTextAlign.Center, labelFont, ink);
        canvas.Restore();
        if (title is not null)
            using (var titleFont = Png.Font(16))
                canvas.DrawText(title, Box.MidX, 22, SKTextAlign.Center, titleFont, ink);
    }

    /// <summary>Width a legend of these names needs (marker, gap, text, margins).</summary>
    public static int LegendWidth(IReadOnlyList<string> names)
    {
        using var font = Png.Font(12);
        return 44 + (int)Math.Ceiling(names.Count == 0 ? 0 : names.Max(n => font.MeasureText(n)));
    }

    /// <summary>
    /// Legend at the right of the box: a short line (lines) or a dot (points) in each colour, then the name.
    /// </summary>
    public void DrawLegend(SKCanvas canvas, IReadOnlyList<string> names, IReadOnlyList<SKColor> colors, bool lines)
    {
        using var font = Png.Font(12);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        float x = Box.Right + 12, y = Box.Top + 10;
        for (int i = 0; i < names.Count; i++, y += 20)
        {
            using var mark = new SKPaint
            {
                Color = colors[i], IsAntialias = true, StrokeWidth = 2.5f,
                IsStroke = lines
            };
            if (lines) canvas.DrawLine(x, y, x + 20, y, mark);
            else canvas.DrawCircle(x + 10, y, 4.5f, mark);
            canvas.DrawText(names[i], x + 26, y + 4, SKTextAlign.Left, font, ink);
        }
    }
}
