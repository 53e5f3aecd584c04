using System.Globalization;
using SkiaSharp;

namespace InfoVae.Model.Pictures;

/// <summary>A run in a rate-distortion plot: where it lies, colour value (NaN: none), group (setting).</summary>
public sealed record ParetoPoint(double Rate, double Distortion, double Value, int Group, bool OnFront);

/// <summary>
/// Rate (x) against distortion (y), one marker per run: its shape says the group (a setting, over seeds), its
/// colour a value on a continuous scale (FID) with a colour bar, and the Pareto front is joined by a dashed line
/// and ringed. Without any values every marker takes the first palette colour and the bar says why.
/// </summary>
public static class ParetoPlot
{
    const int BarWidth = 16, MarkerSize = 6;

    public static void Write(string path, IReadOnlyList<ParetoPoint> points, IReadOnlyList<string> groups,
        string valueName, string? noValues = null, string? title = null, string xLabel = "rate: KL (nats)",
        string yLabel = "distortion: recon (nats)", int width = 860, int height = 620)
    {
        if (points.Count == 0) throw new ArgumentException("no points to plot", nameof(points));
        if (points.Any(p => p.Group < 0 || p.Group >= groups.Count))
            throw new ArgumentException($"a point's group is not one of the {groups.Count} names", nameof(points));
        var finite = points.Where(p => double.IsFinite(p.Rate) && double.IsFinite(p.Distortion)).ToList();
        var values = finite.Select(p => p.Value).Where(double.IsFinite).ToList();
        double lo = values.Count > 0 ? values.Min() : 0, hi = values.Count > 0 ? values.Max() : 1;
        int legend = Math.Max(96, Axes.LegendWidth(groups));
        var axes = new Axes(width, height, legend, Axes.Range(points.Select(p => p.Rate), 0.08),
            Axes.Range(points.Select(p => p.Distortion), 0.08));
        var box = axes.Box;

        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        axes.Draw(canvas, title, xLabel, yLabel);

        canvas.Save();
        canvas.ClipRect(box);
        var front = finite.Where(p => p.OnFront).OrderBy(p => p.Rate).ThenByDescending(p => p.Distortion).ToList();
        DrawFront(canvas, axes, front);
        using var ring = new SKPaint { Color = SKColors.Black, IsAntialias = true, IsStroke = true, StrokeWidth = 2 };
        foreach (var p in finite)
        {
            float x = axes.X(p.Rate), y = axes.Y(p.Distortion);
            var color = values.Count == 0 ? Png.Palette[0]
                : double.IsFinite(p.Value) ? Viridis(Unit(p.Value, lo, hi))
                : new SKColor(0xb0, 0xb0, 0xb0);    // a run without a value among runs with one
            Marker(canvas, p.Group, x, y, color);
            if (p.OnFront) canvas.DrawCircle(x, y, MarkerSize + 4, ring);
        }
        canvas.Restore();

        float bottom = DrawBar(canvas, box, valueName, values.Count > 0 ? (lo, hi) : null, noValues, groups.Count);
        DrawGroups(canvas, box.Right + 14, bottom, groups);
        canvas.Flush();
        Png.Save(bitmap, path);
    }

    static void DrawFront(SKCanvas canvas, Axes axes, List<ParetoPoint> front)
    {
        using var line = new SKPaint
        {
            Color = new SKColor(0x30, 0x30, 0x30), IsAntialias = true, IsStroke = true, StrokeWidth = 1.5f,
            PathEffect = SKPathEffect.CreateDash([6, 4], 0),
        };
        using var path = new SKPath();
        for (int i = 0; i < front.Count; i++)
        {
            float x = axes.X(front[i].Rate), y = axes.Y(front[i].Distortion);
            if (i == 0) path.MoveTo(x, y); else path.LineTo(x, y);
        }
        canvas.DrawPath(path, line);
    }

    /// <summary>Group k's shape: circle, square, triangle, diamond, triangle down, hexagon, then round again.</summary>
    static void Marker(SKCanvas canvas, int group, float x, float y, SKColor color)
    {
        using var fill = new SKPaint { Color = color, IsAntialias = true };
        using var outline = new SKPaint
        {
            Color = new SKColor(0x30, 0x30, 0x30), IsAntialias = true, IsStroke = true, StrokeWidth = 1,
        };
        const float r = MarkerSize;
        int shape = group % 6;
        if (shape == 0)
        {
            canvas.DrawCircle(x, y, r, fill);
            canvas.DrawCircle(x, y, r, outline);
            return;
        }
        using var path = new SKPath();
        // Regular polygons: sides and the angle of the first corner (degrees, 0 = right, clockwise on screen).
        var (sides, start) = shape switch { 1 => (4, 45f), 2 => (3, -90f), 3 => (4, 0f), 4 => (3, 90f), _ => (6, 0f) };
        float radius = shape == 1 ? r * 1.25f : r * 1.3f;
        for (int i = 0; i < sides; i++)
        {
            double a = (start + 360.0 * i / sides) * Math.PI / 180;
            float px = x + radius * (float)Math.Cos(a), py = y + radius * (float)Math.Sin(a);
            if (i == 0) path.MoveTo(px, py); else path.LineTo(px, py);
        }
        path.Close();
        canvas.DrawPath(path, fill);
        canvas.DrawPath(path, outline);
    }

    /// <summary>
    /// The colour bar right of the box (low values at the bottom), or a note when there are none; it leaves room
    /// below for the groups' legend and returns where that starts.
    /// </summary>
    static float DrawBar(SKCanvas canvas, SKRect box, string valueName, (double Lo, double Hi)? range, string? noValues,
        int groups)
    {
        using var font = Png.Font(12);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        float x = box.Right + 14, top = box.Top + 22;
        float legendTop = box.Bottom - 20 * (groups + 1);
        float bottom = Math.Max(top + 60, legendTop - 24);
        canvas.DrawText(valueName, x, box.Top + 10, SKTextAlign.Left, font, ink);
        if (range is not { } r)
        {
            foreach (var (word, i) in (noValues ?? "no values").Split(' ').Select((w, i) => (w, i)))
                canvas.DrawText(word, x, top + 16 + 15 * i, SKTextAlign.Left, font, ink);
            return legendTop;
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
        return legendTop;
    }

    /// <summary>Each group's marker and name, then the ring that marks the front.</summary>
    static void DrawGroups(SKCanvas canvas, float x, float top, IReadOnlyList<string> groups)
    {
        using var font = Png.Font(12);
        using var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true };
        float y = top + 10;
        for (int g = 0; g < groups.Count; g++, y += 20)
        {
            Marker(canvas, g, x + 8, y, new SKColor(0xc8, 0xc8, 0xc8));
            canvas.DrawText(groups[g], x + 22, y + 4, SKTextAlign.Left, font, ink);
        }
        using var ring = new SKPaint { Color = SKColors.Black, IsAntialias = true, IsStroke = true, StrokeWidth = 2 };
        canvas.DrawCircle(x + 8, y, MarkerSize + 2, ring);
        canvas.DrawText("Pareto front", x + 22, y + 4, SKTextAlign.Left, font, ink);
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
