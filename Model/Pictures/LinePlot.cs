using SkiaSharp;

namespace InfoVae.Model.Pictures;

/// <summary>One named curve: Y[i] at X[i]. Non-finite values break the line.</summary>
public sealed record Series(string Name, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>
/// Curves over a shared x axis (training and test loss per epoch), with axes, tick labels and a legend.
/// </summary>
public static class LinePlot
{
    public static void Write(string path, IReadOnlyList<Series> series, string? title = null, string xLabel = "epoch",
        string yLabel = "loss", int width = 860, int height = 520)
    {
        if (series.Count is 0 or > 10)
            throw new ArgumentException($"{series.Count} series; give 1 to 10.", nameof(series));
        foreach (var s in series)
            if (s.X.Count != s.Y.Count)
                throw new ArgumentException($"series '{s.Name}' has {s.X.Count} x values and {s.Y.Count} y values.",
                    nameof(series));

        var names = series.Select(s => s.Name).ToArray();
        int legend = Axes.LegendWidth(names);
        var axes = new Axes(width, height, legend, Axes.Range(series.SelectMany(s => s.X), pad: 0.02),
            Axes.Range(series.SelectMany(s => s.Y)));
        var box = axes.Box;

        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        axes.Draw(canvas, title, xLabel, yLabel);

        canvas.Save();
        canvas.ClipRect(box);
        for (int k = 0; k < series.Count; k++)
        {
            var s = series[k];
            using var pen = new SKPaint
            {
                Color = Png.Palette[k], IsAntialias = true, IsStroke = true, StrokeWidth = 2,
                StrokeJoin = SKStrokeJoin.Round
            };
            using var dot = new SKPaint { Color = Png.Palette[k], IsAntialias = true };
            using var line = new SKPath();
            bool open = false;
            for (int i = 0; i < s.X.Count; i++)
            {
                if (!double.IsFinite(s.X[i]) || !double.IsFinite(s.Y[i])) { open = false; continue; }
                float px = axes.X(s.X[i]), py = axes.Y(s.Y[i]);
                if (open) line.LineTo(px, py); else line.MoveTo(px, py);
                open = true;
                if (s.X.Count <= 60) canvas.DrawCircle(px, py, 3, dot);     // few points: mark each one
            }
            canvas.DrawPath(line, pen);
        }
        canvas.Restore();

        axes.DrawLegend(canvas, names, Png.Palette, lines: true);
        canvas.Flush();
        Png.Save(bitmap, path);
    }
}
