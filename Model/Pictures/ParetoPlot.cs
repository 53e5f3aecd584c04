using System.Globalization;
using SkiaSharp;

namespace InfoVae.Model.Pictures;

/// <summary>A run in a rate-distortion plot: where it lies, its colour value (NaN: none), label (null: none).</summary>
public sealed record ParetoPoint(double Rate, double Distortion, double Value, string? Label, bool OnFront);

/// <summary>
/// Rate (x) against distortion (y), one dot per run, coloured by a value on a continuous scale (FID) with a colour
/// bar, the Pareto front joined by a line and ringed. Without any values every dot takes the first palette colour
/// and the bar says why.
/// </summary>
public static class ParetoPlot
{
    const int BarWidth = 16, BarColumn = 96;

    public static void Write(string path, IReadOnlyList<ParetoPoint> points, string valueName, string? noValues = null,
        string? title = null, string xLabel = "rate: KL (nats)", string yLabel = "distortion: recon (nats)",
        int width = 860, int height = 620)
    {
        if (points.Count == 0) throw new ArgumentException("no points to plot", nameof(points));
        var finite = points.Where(p => double.IsFinite(p.Rate) && double.IsFinite(p.Distortion)).ToList();
        var values = finite.Select(p => p.Value).Where(double.IsFinite).ToList();
        double lo = values.Count > 0 ? values.Min() : 0, hi = values.Count > 0 ? values.Max() : 1;
        var axes = new Axes(width, height, BarColumn, Axes.Range(points.Select(p => p.Rate), 0.08),
            Axes.Range(points.Select(p => p.Distortion), 0.08));
        var box = axes.Box;

        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        axes.Draw(canvas, title, xLabel, yLabel);

        canvas.Save();
        canvas.ClipRect(box);
        var front = finite.Where(p => p.OnFront).OrderBy(p => p.Rate).ThenByDescending(p => p.Distortion).ToList();
        using (var line = new SKPaint { Color = new SKColor(0x30, 0x30, 0x30), IsAntialias = true, IsStroke = true,
                   StrokeWidth = 1.5f, PathEffect = SKPathEffect.CreateDash([6, 4], 0) })
        using (var pathLine = new SKPath())
        {
            for (int i = 0; i < front.Count; i++)
            {
                float x = axes.X(front[i].Rate), y = axes.Y(front[i].Distortion);
                if (i == 0) pathLine.MoveTo(x, y); else pathLine.LineTo(x, y);
            }
            canvas.DrawPath(pathLine, line);
        }
        using var ring = new SKPaint { Color = SKColors.Black, IsAntialias = true, IsStroke = true, StrokeWidth = 2 };
        using var outline = new SKPaint
        {
            Color = new SKColor(0x50, 0x50, 0x50), IsAntialias = true, IsStroke = true, StrokeWidth = 0.8f,
        };
        foreach (var p in finite)
        {
            float x = axes.X(p.Rate), y = axes.Y(p.Distortion);
            var color = values.Count == 0 ? Png.Palette[0]
                : double.IsFinite(p.Value) ? Viridis(Unit(p.Value, lo, hi))
                : new SKColor(0xb0, 0xb0, 0xb0);    // a run without a value among runs with one
            using var fill = new SKPaint { Color = color, IsAntialias = true };
            canvas.DrawCircle(x, y, 5.5f, fill);
            canvas.DrawCircle(x, y, 5.5f, outline);
            if (p.OnFront) canvas.DrawCircle(x, y, 9, ring);
        }
        using var font = Png.Font(11);
        using var ink = new SKPaint { Color = new SKColor(0x20, 0x20, 0x20), IsAntialias = true };
        canvas.Restore();
        foreach (var p in finite.Where(p => p.Label != null))
        {
            // Right of the dot, or left of it where the label would run past the box.
            float x = axes.X(p.Rate), y = axes.Y(p.Distortion) - 7, w = font.MeasureText(p.Label);
            bool left = x + 9 + w > box.Right;
            canvas.DrawText(p.Label, left ? x - 9 : x + 9, y, left ? SKTextAlign.Right : SKTextAlign.Left, font, ink);
        }

        DrawBar(canvas, box, valueName, values.Count > 0 ? (lo, hi) : null, noValues);
        canvas.Flush();
        Png.Save(bitmap, path);
    }

    /// <summary>The colour bar right of the box (low values at the bottom), or a note when there are none.</summary>
    static void DrawBar(SKCanvas canvas, SKRect box, string valueName, (double Lo, double Hi)? range, string? noValues)
    {
        using var font = Png.Font(12);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        float x = box.Right + 14, top = box.Top + 22, bottom = box.Bottom - 40;
        canvas.DrawText(valueName, x, box.Top + 10, SKTextAlign.Left, font, ink);
        using var ringInk = new SKPaint
        {
            Color = SKColors.Black, IsAntialias = true, IsStroke = true, StrokeWidth = 2,
        };
        canvas.DrawCircle(x + 6, box.Bottom - 12, 7, ringInk);
        canvas.DrawText("front", x + 18, box.Bottom - 8, SKTextAlign.Left, font, ink);
        if (range is not { } r)
        {
            foreach (var (word, i) in (noValues ?? "no values").Split(' ').Select((w, i) => (w, i)))
                canvas.DrawText(word, x, top + 16 + 15 * i, SKTextAlign.Left, font, ink);
            return;
        }
        for (float y = top; y < bottom; y++)
        {
            using var paint = new SKPaint { Color = Viridis(1 - (y - top) / (bottom - top)) };
            canvas.DrawRect(x, y, BarWidth, 1, paint);
        }
        using var frame = new SKPaint { Color = SKColors.Black, IsStroke = true, StrokeWidth = 1 };
        canvas.DrawRect(x, top, BarWidth, bottom - top, frame);
        static string F(double v) =>
            v.ToString(Math.Abs(v) >= 100 ? "F0" : Math.Abs(v) >= 1 ? "F1" : "G3", CultureInfo.InvariantCulture);
        canvas.DrawText(F(r.Hi), x + BarWidth + 4, top + 9, SKTextAlign.Left, font, ink);
        canvas.DrawText(F(r.Lo), x + BarWidth + 4, bottom, SKTextAlign.Left, font, ink);
    }

    static float Unit(double v, double lo, double hi) => hi > lo ? (float)((v - lo) / (hi - lo)) : 0.5f;

    static readonly byte[] ViridisAnchors =
        [0x44, 0x01, 0x54, 0x3b, 0x52, 0x8b, 0x21, 0x91, 0x8c, 0x5e, 0xc9, 0x62, 0xfd, 0xe7, 0x25];

    /// <summary>matplotlib's viridis through five of its anchors (0, ¼, ½, ¾, 1), linearly between them.</summary>
    public static SKColor Viridis(float t)
    {
        var a = ViridisAnchors;
        t = Math.Clamp(float.IsFinite(t) ? t : 0, 0, 1) * 4;
        int k = Math.Min(3, (int)t);
        float f = t - k;
        byte C(int c) => (byte)MathF.Round(a[3 * k + c] + (a[3 * (k + 1) + c] - a[3 * k + c]) * f);
        return new SKColor(C(0), C(1), C(2));
    }
}
