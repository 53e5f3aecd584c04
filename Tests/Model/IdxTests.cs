using InfoVae.Model.Data;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>IDX reading on tiny files the tests write (N images of rows × cols), plain and gzipped.</summary>
public class IdxTests
{
    /// <summary>Four consistent files: train 5 images, test 4 images, each 3 × 2 (not 28 × 28 on purpose).</summary>
    static void WriteDataSet(TempFolder dir, bool gzip, int rows = 3, int cols = 2)
        => IdxFiles.WriteDataSet(dir.Path, 5, 4, rows, cols, gzip, seed: 1);

    static void AssertHalf(LabeledImages half, int n, int rows, int cols, int seed)
    {
        Assert.That((half.Count, half.Rows, half.Cols, half.PixelsPerImage), Is.EqualTo((n, rows, cols, rows * cols)));
        var expected = IdxFiles.Pixels(n, rows, cols, seed).Select(b => b / 255f).ToArray();
        Assert.That(half.Pixels, Is.EqualTo(expected));              // exact: byte/255 in float
        Assert.That(half.Labels, Is.EqualTo(IdxFiles.Labels(n, seed)));
        Assert.That(half.Image(n - 1).ToArray(), Is.EqualTo(expected[((n - 1) * rows * cols)..]));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Loads_plain_and_gzipped_files_of_any_image_size(bool gzip)
    {
        using var dir = new TempFolder();
        WriteDataSet(dir, gzip);
        var data = DataSet.Load(dir.Path);
        AssertHalf(data.Train, 5, 3, 2, seed: 1);
        AssertHalf(data.Test, 4, 3, 2, seed: 2);
    }

    [Test]
    public void Pixel_values_cover_0_to_1()
    {
        using var dir = new TempFolder();
        var path = dir["img"];
        File.WriteAllBytes(path, IdxFiles.Bytes([1, 1, 3], [0, 255, 128]));
        var (pixels, n, rows, cols) = Idx.ReadImages(path);
        Assert.That((n, rows, cols), Is.EqualTo((1, 1, 3)));
        Assert.That(pixels, Is.EqualTo(new[] { 0f, 1f, 128f / 255f }));
    }

    [Test]
    public void Gzip_is_recognised_by_its_bytes_not_its_name()
    {
        using var dir = new TempFolder();
        var path = dir["labels-without-suffix"];
        File.WriteAllBytes(path, IdxFiles.Gzip(IdxFiles.Bytes([3], [7, 8, 9])));
        Assert.That(Idx.IsGzip(path), Is.True);
        Assert.That(Idx.ReadLabels(path), Is.EqualTo(new byte[] { 7, 8, 9 }));
    }

    [Test]
    public void Large_gzipped_image_file_streams_through_the_chunked_reader()
    {
        using var dir = new TempFolder();
        var path = dir["big.gz"];
        // 78 400 bytes: several 16 KiB chunks and a tail
        var raw = IdxFiles.Pixels(100, 28, 28, 3);
        File.WriteAllBytes(path, IdxFiles.Gzip(IdxFiles.Bytes([100, 28, 28], raw)));
        var (pixels, n, _, _) = Idx.ReadImages(path);
        Assert.That(n, Is.EqualTo(100));
        Assert.That(pixels, Is.EqualTo(raw.Select(b => b / 255f).ToArray()));
    }

    [Test]
    public void Missing_folder()
    {
        UserErrors.Expect(() => DataSet.Load("/nonexistent/infovae-data"), "/nonexistent/infovae-data",
            "does not exist",
            "apt-get install dataset-fashion-mnist");
    }

    [Test]
    public void Missing_file_lists_what_was_looked_for()
    {
        using var dir = new TempFolder();
        WriteDataSet(dir, gzip: false);
        File.Delete(dir[DataSet.TestLabels]);
        UserErrors.Expect(() => DataSet.Load(dir.Path), dir[DataSet.TestLabels], dir[DataSet.TestLabels] + ".gz");
    }

    [Test]
    public void Gz_name_on_a_file_that_is_not_gzip()
    {
        using var dir = new TempFolder();
        var path = dir["x-idx1-ubyte.gz"];
        File.WriteAllBytes(path, IdxFiles.Bytes([3], [1, 2, 3]));
        UserErrors.Expect(() => Idx.ReadLabels(path), path, "not gzip");
    }

    [TestCase(0.5)]
    [TestCase(0.9)]
    [TestCase(0.05)]
    public void Truncated_gzip(double keep)
    {
        using var dir = new TempFolder();
        var path = dir["img.gz"];
        var gz = IdxFiles.Gzip(IdxFiles.Bytes([50, 28, 28], IdxFiles.Pixels(50, 28, 28, 5)));
        File.WriteAllBytes(path, gz[..(int)(gz.Length * keep)]);
        UserErrors.Expect(() => Idx.ReadImages(path), path, "truncated");
    }

    [Test]
    public void Wrong_magic()
    {
        using var dir = new TempFolder();
        var path = dir["img"];
        var bytes = IdxFiles.Bytes([1, 2, 2], [1, 2, 3, 4]);
        bytes[0] = 0x50;
        File.WriteAllBytes(path, bytes);
        UserErrors.Expect(() => Idx.ReadImages(path), path, "not an IDX file");
    }

    [Test]
    public void Wrong_element_type()
    {
        using var dir = new TempFolder();
        var path = dir["img"];
        File.WriteAllBytes(path, IdxFiles.Bytes([1, 1, 1], [0, 0, 0, 0], type: 0x0D));  // 0x0D: float32
        UserErrors.Expect(() => Idx.ReadImages(path), path, "element type 0x0d");
    }

    [Test]
    public void Labels_where_images_are_expected()
    {
        using var dir = new TempFolder();
        WriteDataSet(dir, gzip: false);
        File.Copy(dir[DataSet.TrainLabels], dir[DataSet.TrainImages], overwrite: true);
        UserErrors.Expect(() => DataSet.Load(dir.Path), dir[DataSet.TrainImages], "1 dimensions", "swapped");
    }

    [TestCase(-1)]
    [TestCase(+1)]
    public void Plain_file_length_disagrees_with_header(int delta)
    {
        using var dir = new TempFolder();
        var path = dir["img"];
        var bytes = IdxFiles.Bytes([2, 3, 3], IdxFiles.Pixels(2, 3, 3, 0));
        File.WriteAllBytes(path, delta < 0 ? bytes[..^1] : [.. bytes, 0]);
        UserErrors.Expect(() => Idx.ReadImages(path), path, "the file has", delta < 0 ? "truncated" : "trailing data");
    }

    [Test]
    public void Gzipped_data_longer_than_header()
    {
        using var dir = new TempFolder();
        var path = dir["lab.gz"];
        File.WriteAllBytes(path, IdxFiles.Gzip([.. IdxFiles.Bytes([3], [1, 2, 3]), 4]));
        UserErrors.Expect(() => Idx.ReadLabels(path), path, "go on past");
    }

    [Test]
    public void Huge_header_is_refused_before_allocating()
    {
        using var dir = new TempFolder();
        var gz = dir["img.gz"];
        File.WriteAllBytes(gz, IdxFiles.Gzip(IdxFiles.Bytes([int.MaxValue, 28, 28], IdxFiles.Pixels(1, 28, 28, 0))));
        UserErrors.Expect(() => Idx.ReadImages(gz), gz, "more than a gzip file");
        var plain = dir["img"];
        File.WriteAllBytes(plain, IdxFiles.Bytes([int.MaxValue, 28, 28], IdxFiles.Pixels(1, 28, 28, 0)));
        UserErrors.Expect(() => Idx.ReadImages(plain), plain, "truncated");
    }

    [Test]
    public void Three_huge_sizes_do_not_overflow_the_element_count()
    {
        // Found by ReaderFuzzTests: (2^31 − 1)^3 does not fit a long, and the checked product threw OverflowException.
        using var dir = new TempFolder();
        var raw = IdxFiles.Bytes([int.MaxValue, int.MaxValue, int.MaxValue], IdxFiles.Pixels(1, 28, 28, 0));
        var plain = dir["img"];
        File.WriteAllBytes(plain, raw);
        UserErrors.Expect(() => Idx.ReadImages(plain), plain, $"more than {Array.MaxLength} bytes", "truncated");
        var gz = dir["img.gz"];
        File.WriteAllBytes(gz, IdxFiles.Gzip(raw));
        UserErrors.Expect(() => Idx.ReadImages(gz), gz, "more than a gzip file");
    }

    [Test]
    public void Header_cut_short()
    {
        using var dir = new TempFolder();
        var path = dir["img"];
        File.WriteAllBytes(path, IdxFiles.Bytes([2, 3, 3], [])[..9]);
        UserErrors.Expect(() => Idx.ReadImages(path), path, "before its 3 dimension sizes");
        File.WriteAllBytes(path, []);
        UserErrors.Expect(() => Idx.ReadImages(path), path, "empty or truncated");
    }

    [Test]
    public void Negative_or_zero_image_size()
    {
        using var dir = new TempFolder();
        var path = dir["img"];
        File.WriteAllBytes(path, IdxFiles.Bytes([1, 0, 28], []));
        UserErrors.Expect(() => Idx.ReadImages(path), path, "dimension 1 has size 0");
        File.WriteAllBytes(path, IdxFiles.Bytes([1, -28, 28], []));
        UserErrors.Expect(() => Idx.ReadImages(path), path, "dimension 1 has size -28");
    }

    [Test]
    public void Image_and_label_counts_differ()
    {
        using var dir = new TempFolder();
        WriteDataSet(dir, gzip: true);
        File.WriteAllBytes(dir[DataSet.TrainLabels + ".gz"], IdxFiles.Gzip(IdxFiles.Bytes([4], IdxFiles.Labels(4, 1))));
        UserErrors.Expect(() => DataSet.Load(dir.Path), "5 training images", "4 labels");
    }

    [Test]
    public void Empty_data_set()
    {
        using var dir = new TempFolder();
        WriteDataSet(dir, gzip: false);
        File.WriteAllBytes(dir[DataSet.TestImages], IdxFiles.Bytes([0, 3, 2], []));
        UserErrors.Expect(() => DataSet.Load(dir.Path), dir[DataSet.TestImages], "empty");
    }

    [Test]
    public void Train_and_test_image_sizes_differ()
    {
        using var dir = new TempFolder();
        WriteDataSet(dir, gzip: false);
        File.WriteAllBytes(dir[DataSet.TestImages], IdxFiles.Bytes([4, 2, 3], IdxFiles.Pixels(4, 2, 3, 2)));
        UserErrors.Expect(() => DataSet.Load(dir.Path), "3 × 2", "2 × 3");
    }

    [Test]
    public void Real_fashion_mnist_when_installed()
    {
        if (!Directory.Exists(DataSet.DefaultFolder))
            Assert.Ignore($"{DataSet.DefaultFolder} absent (apt-get install dataset-fashion-mnist)");
        var data = DataSet.Load();
        Assert.That((data.Train.Count, data.Test.Count, data.Train.Rows, data.Train.Cols),
            Is.EqualTo((60000, 10000, 28, 28)));
        // Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
        Assert.That(data.Train.Labels.GroupBy(l => l).OrderBy(g => g.Key).Select(g => (g.Key, g.Count())),
            Is.EqualTo(Enumerable.Range(0, 10).Select(k => ((byte)k, 6000))));
        Assert.That(data.Test.Labels.GroupBy(l => l).Select(g => g.Count()), Is.All.EqualTo(1000));
        Assert.That(data.Train.Pixels.Min(), Is.EqualTo(0f));
        Assert.That(data.Train.Pixels.Max(), Is.EqualTo(1f));
        double mean = data.Train.Pixels.Average(p => (double)p);
        Assert.That(mean, Is.EqualTo(0.2860).Within(0.001), "Fashion-MNIST's published training mean");
    }
}
