using SkiaSharp;

namespace InfoVae.Model.Pictures;

/// <summary>
/// N grayscale images in a grid, `columns` per row, each pixel enlarged to scale × scale (nearest neighbour, so
/// pixels stay sharp), with a gap between images and optional labels left of each grid row.
/// </summary>
public static class ImageGrid
{
    const int Gap = 2;                                    // pixels between images, after scaling
    static readonly SKColor Background = new(0xd0, 0xd0, 0xd0), Nan = new(0xff, 0x00, 0xff);

    /// <param name="images">(N, rows·cols) floats, 0 black and 1 white; values outside are clamped, NaN shows
    /// magenta.</param>
    /// <param name="rowLabels">null, or one label per grid row (for example "input", "reconstruction").</param>
    /// <returns>the picture's (width, height) in pixels.</returns>
    public static (int Width, int Height) Write(string path, ReadOnlySpan<float> images, int count, int rows, int cols,
        int columns, int scale = 2, IReadOnlyList<string>? rowLabels = null, string? title = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(scale);
        if (images.Length != (long)count * rows * cols)
            throw new ArgumentException($"{images.Length} values are not {count} images of {rows} × {cols}.",
                nameof(images));
        int gridRows = (count + columns - 1) / columns;
        if (rowLabels is not null && rowLabels.Count != gridRows)
            throw new ArgumentException($"{rowLabels.Count} row labels for {gridRows} grid rows.", nameof(rowLabels));

        using var font = Png.Font(13);
        int labelWidth = rowLabels is null ? 0 : (int)Math.Ceiling(rowLabels.Max(l => font.MeasureText(l))) + 10;
        int titleHeight = title is null ? 0 : 22;
        int cellW = cols * scale, cellH = rows * scale;
        int width = labelWidth + Gap + columns * (cellW + Gap), height = titleHeight + Gap + gridRows * (cellH + Gap);
        if (title is not null)
            using (var titleFont = Png.Font(15))
                width = Math.Max(width, (int)Math.Ceiling(titleFont.MeasureText(title)) + 12);   // room for it

        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        bitmap.Erase(Background);
        var pixels = bitmap.GetPixelSpan();               // (height, width, 4) bytes, RGBA
        for (int n = 0; n < count; n++)
        {
            int x0 = labelWidth + Gap + n % columns * (cellW + Gap), y0 = titleHeight + Gap
                + n / columns * (cellH + Gap);
            var image = images.Slice(n * rows * cols, rows * cols);
            for (int y = 0; y < cellH; y++)
            {
                var line = pixels.Slice(((y0 + y) * width + x0) * 4, cellW * 4);
                var source = image.Slice(y / scale * cols, cols);
                for (int x = 0; x < cellW; x++)
                {
                    float v = source[x / scale];
                    var c = float.IsNaN(v) ? Nan : Gray(v);
                    line[4 * x] = c.Red; line[4 * x + 1] = c.Green; line[4 * x + 2] = c.Blue; line[4 * x + 3] = 255;
                }
            }
        }

        using (var canvas = new SKCanvas(bitmap))
        using (var ink = new SKPaint { Color = SKColors.Black, IsAntialias = true })
        {
            if (title is not null)
                using (var titleFont = Png.Font(15))
                    canvas.DrawText(title, width / 2f, 16, SKTextAlign.Center, titleFont, ink);
            for (int r = 0; rowLabels is not null && r < gridRows; r++)
            {
                float yMid = titleHeight + Gap + r * (cellH + Gap) + cellH / 2f;
                canvas.DrawText(rowLabels[r], labelWidth - 5, yMid + font.Size * 0.35f, SKTextAlign.Right, font, ink);
            }
        }
        Png.Save(bitmap, path);
        return (width, height);
    }

    static SKColor Gray(float v)
    {
        byte g = (byte)MathF.Round(255f * Math.Clamp(v, 0f, 1f));
        return new SKColor(g, g, g);
    }
}
