using InfoVae.Model.Data;
using InfoVae.Model.Pictures;
using SkiaSharp;

namespace InfoVae.Tests.Model;

public class PicturesTests
{
    static SKBitmap Decode(string path)
    {
        Assert.That(File.Exists(path), Is.True, path);
        using var f = File.OpenRead(path);
        Span<byte> sig = stackalloc byte[8];
        f.ReadExactly(sig);
        Assert.That(sig.ToArray(),
            Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0d, 0x0a, 0x1a, 0x0a }), "PNG signature");
        return SKBitmap.Decode(path) ?? throw new AssertionException($"{path} does not decode");
    }

    /// <summary>Variance of the gray level over all pixels: 0 for a blank picture.</summary>
    static double Variance(SKBitmap b)
    {
        double s = 0, s2 = 0;
        int n = 0;
        for (int y = 0; y < b.Height; y++)
            for (int x = 0; x < b.Width; x++)
            {
                var c = b.GetPixel(x, y);
                double g = (c.Red + c.Green + c.Blue) / 3.0;
                s += g; s2 += g * g; n++;
            }
        return s2 / n - s / n * (s / n);
    }

    static int CountNear(SKBitmap b, SKColor target, int tolerance = 40)
    {
        int count = 0;
        for (int y = 0; y < b.Height; y++)
            for (int x = 0; x < b.Width; x++)
            {
                var c = b.GetPixel(x, y);
                if (Math.Abs(c.Red - target.Red) + Math.Abs(c.Green - target.Green) + Math.Abs(c.Blue - target.Blue)
                    <= tolerance)
                    count++;
            }
        return count;
    }

    /// <summary>N images of rows × cols: image n, pixel (r, c) = ((n·7 + r·3 + c) mod 11) / 10.</summary>
    static float[] Synthetic(int n, int rows, int cols)
    {
        var a = new float[n * rows * cols];
        for (int k = 0; k < n; k++)
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) a[(k * rows + r) * cols + c] = (k * 7 + r * 3 + c) % 11 / 10f;
        return a;
    }

    [Test]
    public void Image_grid_places_every_pixel_where_the_layout_says()
    {
        using var dir = new TempFolder();
        var path = dir["grid.png"];
        const int n = 7, rows = 5, cols = 4, columns = 3, scale = 3, gap = 2;
        var images = Synthetic(n, rows, cols);
        var (w, h) = ImageGrid.Write(path, images, n, rows, cols, columns, scale);

        // No labels, no title: gap + columns × (cols·scale + gap) wide, gap + 3 grid rows × (rows·scale + gap) high.
        Assert.That((w, h), Is.EqualTo((gap + columns * (cols * scale + gap), gap + 3 * (rows * scale + gap))));
        using var b = Decode(path);
        Assert.That((b.Width, b.Height), Is.EqualTo((w, h)));
        for (int k = 0; k < n; k++)
            for (int r = 0; r < rows * scale; r++)
                for (int c = 0; c < cols * scale; c++)
                {
                    int x = gap + k % columns * (cols * scale + gap) + c,
                        y = gap + k / columns * (rows * scale + gap) + r;
                    byte expected = (byte)MathF.Round(255 * images[(k * rows + r / scale) * cols + c / scale]);
                    var p = b.GetPixel(x, y);
                    Assert.That((p.Red, p.Green, p.Blue), Is.EqualTo((expected, expected, expected)),
                        $"image {k} at ({r}, {c})");
                }
        // The two empty cells of the last grid row stay background.
        var empty = b.GetPixel(gap + 1 * (cols * scale + gap) + 1, gap + 2 * (rows * scale + gap) + 1);
        Assert.That(empty, Is.EqualTo(new SKColor(0xd0, 0xd0, 0xd0)));
        Assert.That(Variance(b), Is.GreaterThan(100));
    }

    [Test]
    public void Image_grid_clamps_and_marks_nan()
    {
        using var dir = new TempFolder();
        var path = dir["clamp.png"];
        ImageGrid.Write(path, [-1f, 2f, float.NaN, 0.5f], 1, 1, 4, columns: 1, scale: 1);
        using var b = Decode(path);
        Assert.That(b.GetPixel(2, 2), Is.EqualTo(new SKColor(0, 0, 0)));
        Assert.That(b.GetPixel(3, 2), Is.EqualTo(new SKColor(255, 255, 255)));
        Assert.That(b.GetPixel(4, 2), Is.EqualTo(new SKColor(255, 0, 255)));
        Assert.That(b.GetPixel(5, 2), Is.EqualTo(new SKColor(128, 128, 128)));
    }

    [Test]
    public void Image_grid_with_row_labels_and_title_is_wider_and_taller_and_has_text()
    {
        using var dir = new TempFolder();
        var path = dir["labels.png"];
        var (w, h) = ImageGrid.Write(path, Synthetic(6, 28, 28), 6, 28, 28, columns: 3, scale: 2,
            rowLabels: ["input", "reconstruction"], title: "epoch 3");
        Assert.That(w, Is.GreaterThan(2 + 3 * 58 + 40), "room for the labels");
        Assert.That(h, Is.GreaterThan(2 + 2 * 58));
        using var b = Decode(path);
        Assert.That((b.Width, b.Height), Is.EqualTo((w, h)));
        // Dark text pixels in the label column (left of the first image) prove the labels were drawn.
        int dark = 0;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w - (2 + 3 * 58); x++) if (b.GetPixel(x, y).Red < 100) dark++;
        Assert.That(dark, Is.GreaterThan(30), "no label text found; is a font installed (fonts-dejavu-core)?");
    }

    [Test]
    public void Image_grid_refuses_inconsistent_arguments()
    {
        using var dir = new TempFolder();
        Assert.Throws<ArgumentException>(() => ImageGrid.Write(dir["a.png"], new float[10], 2, 2, 2, 2));
        Assert.Throws<ArgumentException>(() => ImageGrid.Write(dir["a.png"], new float[8], 2, 2, 2, 1,
            rowLabels: ["one"]));
    }

    [Test]
    public void Scatter_plot_has_the_size_asked_axes_and_every_class_colour()
    {
        using var dir = new TempFolder();
        var path = dir["scatter.png"];
        const int n = 2000;
        var points = new float[2 * n];
        var labels = new byte[n];
        var rng = new Random(3);
        for (int i = 0; i < n; i++)
        {
            labels[i] = (byte)(i % 10);
            double angle = labels[i] * Math.PI / 5;                      // ten clusters on a circle
            points[2 * i] = (float)(3 * Math.Cos(angle) + rng.NextDouble() * 0.6);
            points[2 * i + 1] = (float)(3 * Math.Sin(angle) + rng.NextDouble() * 0.6);
        }
        points[0] = float.NaN;                                            // left out, not a crash
        ScatterPlot.Write(path, points, labels, DataSet.FashionClassNames, title: "latent means", width: 700,
            height: 500);
        using var b = Decode(path);
        Assert.That((b.Width, b.Height), Is.EqualTo((700, 500)));
        Assert.That(Variance(b), Is.GreaterThan(50));
        string[] tab10 = ["1f77b4", "ff7f0e", "2ca02c", "d62728", "9467bd", "8c564b", "e377c2", "7f7f7f", "bcbd22",
            "17becf"];
        foreach (var hex in tab10)
            Assert.That(CountNear(b, SKColor.Parse(hex), 10), Is.GreaterThan(5), $"legend or points in #{hex}");
    }

    [Test]
    public void Scatter_plot_refuses_labels_without_names()
    {
        using var dir = new TempFolder();
        Assert.Throws<ArgumentException>(() => ScatterPlot.Write(dir["s.png"], [0f, 0f], [3], ["a", "b"]));
        Assert.Throws<ArgumentException>(() => ScatterPlot.Write(dir["s.png"], [0f, 0f, 1f], [0], ["a"]));
    }

    [Test]
    public void Line_plot_has_the_size_asked_and_both_curves()
    {
        using var dir = new TempFolder();
        var path = dir["loss.png"];
        var epochs = Enumerable.Range(1, 30).Select(e => (double)e).ToArray();
        var train = epochs.Select(e => 300 / Math.Sqrt(e) + 200).ToArray();
        var test = epochs.Select(e => 310 / Math.Sqrt(e) + 205).ToArray();
        test[10] = double.NaN;                                            // a gap in the line, not a crash
        LinePlot.Write(path, [new Series("train", epochs, train), new Series("test", epochs, test)], title: "loss",
            width: 640, height: 400);
        using var b = Decode(path);
        Assert.That((b.Width, b.Height), Is.EqualTo((640, 400)));
        Assert.That(Variance(b), Is.GreaterThan(50));
        Assert.That(CountNear(b, SKColor.Parse("1f77b4"), 10), Is.GreaterThan(100), "train curve");
        Assert.That(CountNear(b, SKColor.Parse("ff7f0e"), 10), Is.GreaterThan(100), "test curve");
    }

    [Test]
    public void Line_plot_of_one_flat_point_still_draws_axes()
    {
        using var dir = new TempFolder();
        var path = dir["flat.png"];
        LinePlot.Write(path, [new Series("train", [1], [5])], width: 300, height: 200);
        using var b = Decode(path);
        Assert.That(Variance(b), Is.GreaterThan(10));
    }

    [Test]
    public void Pictures_of_real_fashion_mnist_when_installed()
    {
        if (!Directory.Exists(DataSet.DefaultFolder)) Assert.Ignore($"{DataSet.DefaultFolder} absent");
        var test = DataSet.Load().Test;
        using var dir = new TempFolder();
        // One grid row: the first test image of each class, 0 to 9.
        var firstOfClass = Enumerable.Range(0, 10).Select(k => Array.IndexOf(test.Labels, (byte)k)).ToArray();
        var images = firstOfClass.SelectMany(i => test.Image(i).ToArray()).ToArray();
        var (w, h) = ImageGrid.Write(dir["grid.png"], images, 10, 28, 28, columns: 10, rowLabels: ["test"]);
        using var b = Decode(dir["grid.png"]);
        Assert.That((b.Width, b.Height), Is.EqualTo((w, h)));
        Assert.That(Variance(b), Is.GreaterThan(500));
    }
}
