using SkiaSharp;

namespace InfoVae.Model.Pictures;

/// <summary>
/// 2-D points (for example latent means z) coloured by class label, with axes and a legend of class names.
/// </summary>
public static class ScatterPlot
{
    /// <param name="points">(N, 2): x0, y0, x1, y1, ...; non-finite points are left out.</param>
    /// <param name="labels">(N) class of each point, 0 ≤ label &lt; classNames.Count ≤ 10.</param>
    public static void Write(string path, ReadOnlySpan<float> points, ReadOnlySpan<byte> labels,
        IReadOnlyList<string> classNames,
        string? title = null, string xLabel = "z[0]", string yLabel = "z[1]", int width = 860, int height = 680)
    {
        if (points.Length != 2 * labels.Length)
            throw new ArgumentException($"{points.Length} coordinates are not 2 per label ({labels.Length} labels).",
                nameof(points));
        if (classNames.Count is 0 or > 10)
            throw new ArgumentException($"{classNames.Count} class names; the palette has 10 colours.",
                nameof(classNames));
        foreach (byte l in labels)
            if (l >= classNames.Count)
                throw new ArgumentException($"label {l} but only {classNames.Count} class names.", nameof(labels));

        var xs = new double[labels.Length];
        var ys = new double[labels.Length];
        for (int i = 0; i < labels.Length; i++) (xs[i], ys[i]) = (points[2 * i], points[2 * i + 1]);

        int legend = Axes.LegendWidth(classNames);
        var axes = new Axes(width, height, legend, Axes.Range(xs), Axes.Range(ys));
        var box = axes.Box;

        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.White);
        axes.Draw(canvas, title, xLabel, yLabel);

        // Small translucent dots: dense clusters read as darker, and no class hides another completely.
        float radius = labels.Length > 5000 ? 1.6f : labels.Length > 500 ? 2.4f : 3.5f;
        var paints = Png.Palette.Select(c => new SKPaint { Color = c.WithAlpha(150), IsAntialias = true }).ToArray();
        canvas.Save();
        canvas.ClipRect(box);
        for (int i = 0; i < labels.Length; i++)
            if (double.IsFinite(xs[i]) && double.IsFinite(ys[i]))
                canvas.DrawCircle(axes.X(xs[i]), axes.Y(ys[i]), radius, paints[labels[i]]);
        canvas.Restore();
        foreach (var p in paints) p.Dispose();

        axes.DrawLegend(canvas, classNames, Png.Palette, lines: false);
        canvas.Flush();
        Png.Save(bitmap, path);
    }
}
