using System.Buffers.Binary;
using System.IO.Compression;

namespace InfoVae.Tests.Support;

/// <summary>
/// Tiny IDX files and data sets written byte by byte (not with the reader under test): N images of rows × cols
/// unsigned bytes, labels 0-9, plain or gzipped, under the four names MNIST uses.
/// </summary>
public static class IdxFiles
{
    public const string TrainImages = "train-images-idx3-ubyte", TrainLabels = "train-labels-idx1-ubyte";
    public const string TestImages = "t10k-images-idx3-ubyte", TestLabels = "t10k-labels-idx1-ubyte";

    /// <summary>0, 0, element type, rank; the sizes big-endian; the data.</summary>
    public static byte[] Bytes(int[] dims, byte[] data, byte type = 0x08, int? rank = null)
    {
        var b = new List<byte> { 0, 0, type, (byte)(rank ?? dims.Length) };
        foreach (int d in dims)
        {
            var be = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(be, d);
            b.AddRange(be);
        }
        b.AddRange(data);
        return [.. b];
    }

    public static byte[] Gzip(byte[] raw)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal)) gz.Write(raw);
        return ms.ToArray();
    }

    /// <summary>A fixed pattern of pixel bytes covering 0-255 (not learnable, but any data trains).</summary>
    public static byte[] Pixels(int n, int rows, int cols, int seed) =>
        Enumerable.Range(0, n * rows * cols).Select(i => (byte)((i * 37 + seed * 101) % 256)).ToArray();

    /// <summary>
    /// Learnable 28×28 images: per class (i mod 10) a soft, rotated bar at its own place and size, jittered and with
    /// a little noise, on a dark background, like Fashion-MNIST's objects. Training on these gives every weight a
    /// gradient that means something, where the fixed byte pattern of <see cref="Pixels"/> leaves many at rounding
    /// noise (which Adam's first steps then amplify to ±lr, so two summation orders drift apart there).
    /// </summary>
    public static byte[] Shapes(int n, int seed)
    {
        var r = new Random(seed);
        var px = new byte[n * 784];
        for (int i = 0; i < n; i++)
        {
            int c = i % 10;
            double cx = 8 + c % 4 * 4 + r.NextDouble() * 4 - 2, cy = 8 + c / 4 * 5 + r.NextDouble() * 4 - 2;
            double angle = c * Math.PI / 10, w = 3 + c % 3, h = 6 + c % 5, cos = Math.Cos(angle), sin = Math.Sin(angle);
            for (int y = 0; y < 28; y++)
                for (int x = 0; x < 28; x++)
                {
                    double u = (x - cx) * cos + (y - cy) * sin, v = -(x - cx) * sin + (y - cy) * cos;
                    double value = 1 / (1 + Math.Exp(2 * (Math.Abs(u) - w))) / (1 + Math.Exp(2 * (Math.Abs(v) - h)))
                        + r.NextDouble() * 0.1 - 0.05;
                    px[i * 784 + y * 28 + x] = (byte)(Math.Clamp(value, 0, 1) * 255);
                }
        }
        return px;
    }

    /// <summary>
    /// The four files of a data set of <see cref="Shapes"/> (28×28): train with seed, test with seed + 1.
    /// </summary>
    public static void WriteShapes(string folder, int train, int test, int seed = 1)
    {
        Directory.CreateDirectory(folder);
        void Put(string name, byte[] raw) => File.WriteAllBytes(Path.Combine(folder, name), raw);
        Put(TrainImages, Bytes([train, 28, 28], Shapes(train, seed)));
        Put(TrainLabels, Bytes([train], Labels(train, 0)));
        Put(TestImages, Bytes([test, 28, 28], Shapes(test, seed + 1)));
        Put(TestLabels, Bytes([test], Labels(test, 0)));
    }

    public static byte[] Labels(int n, int seed)
        => Enumerable.Range(0, n).Select(i => (byte)((i + seed) % 10)).ToArray();

    /// <summary>
    /// The four files of a data set in <paramref name="folder"/>: <paramref name="train"/> training images (pixel
    /// seed <paramref name="seed"/>) and <paramref name="test"/> test images (seed + 1), each rows × cols.
    /// </summary>
    public static void WriteDataSet(string folder, int train, int test, int rows = 28, int cols = 28, bool gzip = false,
        int seed = 1)
    {
        Directory.CreateDirectory(folder);
        void Put(string name, byte[] raw) => File.WriteAllBytes(Path.Combine(folder, gzip ? name + ".gz" : name),
            gzip ? Gzip(raw) : raw);
        Put(TrainImages, Bytes([train, rows, cols], Pixels(train, rows, cols, seed)));
        Put(TrainLabels, Bytes([train], Labels(train, seed)));
        Put(TestImages, Bytes([test, rows, cols], Pixels(test, rows, cols, seed + 1)));
        Put(TestLabels, Bytes([test], Labels(test, seed + 1)));
    }
}
