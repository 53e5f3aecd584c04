using InfoVae.Model.Data;

namespace InfoVae.Tests.Support;

/// <summary>
/// A learnable labelled image set, made in memory: class c puts a bright 3 × 3 square at its own place (one of ten
/// on a 2 × 5 grid), shifted by up to one pixel, over faint noise. A small classifier learns it in a few epochs.
/// </summary>
public static class ToyImages
{
    public static LabeledImages Make(int n, int seed, int rows = 12, int cols = 16, int classes = 10)
    {
        var r = new Random(seed);
        var pixels = new float[n * rows * cols]; var labels = new byte[n];
        for (int i = 0; i < n; i++)
        {
            int c = i % classes;
            labels[i] = (byte)c;
            var image = pixels.AsSpan(i * rows * cols, rows * cols);
            for (int p = 0; p < image.Length; p++) image[p] = (float)(0.2 * r.NextDouble());
            int top = (c / 5) * (rows / 2) + 1 + r.Next(-1, 2), left = (c % 5) * (cols / 5) + 1 + r.Next(-1, 2);
            for (int y = Math.Max(0, top); y < Math.Min(rows, top + 3); y++)
                for (int x = Math.Max(0, left); x < Math.Min(cols, left + 3); x++) image[y * cols + x] = 1;
        }
        return new LabeledImages(pixels, labels, rows, cols);
    }
}
