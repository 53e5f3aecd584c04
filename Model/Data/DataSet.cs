using System.Security.Cryptography;

namespace InfoVae.Model.Data;

/// <summary>
/// N labelled grayscale images of rows × cols pixels. Pixels: (N, rows·cols) floats in [0, 1], row-major.
/// </summary>
public sealed class LabeledImages
{
    public float[] Pixels { get; }
    public byte[] Labels { get; }
    public int Count { get; }
    public int Rows { get; }
    public int Cols { get; }
    /// <summary>D = rows·cols, the length of one image.</summary>
    public int PixelsPerImage => Rows * Cols;

    public LabeledImages(float[] pixels, byte[] labels, int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(cols);
        if (pixels.Length != (long)labels.Length * rows * cols)
            throw new ArgumentException($"{pixels.Length} pixels are not {labels.Length} images of {rows} × {cols}.",
                nameof(pixels));
        (Pixels, Labels, Count, Rows, Cols) = (pixels, labels, labels.Length, rows, cols);
    }

    /// <summary>Image i: (rows·cols).</summary>
    public ReadOnlySpan<float> Image(int i) => Pixels.AsSpan(checked(i * PixelsPerImage), PixelsPerImage);

    /// <summary>
    /// SHA-256 (lowercase hex) of the images as the IDX files hold them, one unsigned byte per pixel (round(255·p)),
    /// followed by the label bytes: the same for plain and gzipped files. Identifies a data set's half (the
    /// classifier behind FID records the test set it knows).
    /// </summary>
    public string Sha256()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var bytes = new byte[PixelsPerImage];
        for (int i = 0; i < Count; i++)
        {
            var image = Image(i);
            for (int j = 0; j < bytes.Length; j++) bytes[j] = (byte)MathF.Round(image[j] * 255f);
            sha.AppendData(bytes);
        }
        sha.AppendData(Labels);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>The first <paramref name="count"/> images (all of them if there are fewer), as a copy.</summary>
    public LabeledImages Take(int count)
    {
        count = Math.Min(count, Count);
        return count == Count ? this : new LabeledImages(Pixels[..(count * PixelsPerImage)], Labels[..count], Rows,
            Cols);
    }
}

/// <summary>The training and test halves of an MNIST-style data set, read from the four standard IDX files.</summary>
public sealed record DataSet(LabeledImages Train, LabeledImages Test)
{
    /// <summary>Where Debian's dataset-fashion-mnist package puts the files (gzipped).</summary>
    public const string DefaultFolder = "/usr/share/datasets/fashion-mnist";

    public const string TrainImages = "train-images-idx3-ubyte", TrainLabels = "train-labels-idx1-ubyte";
    public const string TestImages = "t10k-images-idx3-ubyte", TestLabels = "t10k-labels-idx1-ubyte";

    /// <summary>
    /// Fashion-MNIST's label names, label 0 first (https://github.com/zalandoresearch/fashion-mnist#labels).
    /// </summary>
    public static readonly string[] FashionClassNames =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    /// <summary>MNIST's label names: the digits.</summary>
    public static readonly string[] DigitClassNames = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

    /// <summary>
    /// Reads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte from
    /// <paramref name="folder"/>, each plain or with a .gz suffix (gzip is recognised by its magic bytes).
    /// </summary>
    /// <exception cref="UserError">a file is missing or damaged, or the four files do not fit together.</exception>
    public static DataSet Load(string folder = DefaultFolder)
    {
        if (!Directory.Exists(folder))
            throw new UserError($"data folder {folder} does not exist; install Fashion-MNIST with "
                + "'apt-get install dataset-fashion-mnist' (it goes to " + DefaultFolder
                    + ") or choose a folder that holds "
                + $"{TrainImages}, {TrainLabels}, {TestImages} and {TestLabels} (plain or .gz).");
        var sha256 = new Dictionary<string, string>();
        var train = LoadHalf(folder, TrainImages, TrainLabels, "training", sha256);
        var test = LoadHalf(folder, TestImages, TestLabels, "test", sha256);
        if (train.Rows != test.Rows || train.Cols != test.Cols)
            throw new UserError($"data folder {folder}: training images are {train.Rows} × {train.Cols} but test "
                + "images are "
                + $"{test.Rows} × {test.Cols}; the files come from different data sets: put the four files of one "
                    + "data set there.");
        var fingerprint = new DataFingerprint
        {
            Folder = Path.GetFullPath(folder), Rows = train.Rows, Cols = train.Cols,
            TrainImages = train.Count, TestImages = test.Count, Sha256 = sha256,
        };
        return new DataSet(train, test) { Folder = folder, Fingerprint = fingerprint };
    }

    /// <summary>The folder it was read from (for messages and the choice of class names).</summary>
    public string Folder { get; init; } = "";

    /// <summary>The folder, sizes and SHA-256 of the files as read (before any <see cref="LimitTrain"/>).</summary>
    public DataFingerprint? Fingerprint { get; init; }

    /// <summary>Fashion-MNIST's names when the folder's name says fashion, else the digits.</summary>
    public IReadOnlyList<string> ClassNames => Folder.Contains("fashion", StringComparison.OrdinalIgnoreCase)
        ? FashionClassNames : DigitClassNames;

    /// <summary>Only the first <paramref name="count"/> training images (0 = all): for quick tries.</summary>
    public DataSet LimitTrain(int count)
    {
        if (count < 0) throw new UserError($"--limit must be ≥ 0 (0 = all images), not {count}");
        return count == 0 || count >= Train.Count ? this : this with { Train = Train.Take(count) };
    }

    static LabeledImages LoadHalf(string folder, string imageName, string labelName, string half,
        Dictionary<string, string> sha256)
    {
        string imagePath = Find(folder, imageName), labelPath = Find(folder, labelName);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var (pixels, count, rows, cols) = Idx.ReadImages(imagePath, hash);
        sha256[imageName] = Convert.ToHexStringLower(hash.GetHashAndReset());
        var labels = Idx.ReadLabels(labelPath, hash);
        sha256[labelName] = Convert.ToHexStringLower(hash.GetHashAndReset());
        if (labels.Length != count)
            throw new UserError($"data folder {folder}: {imagePath} holds {count} {half} images but {labelPath} holds "
                + $"{labels.Length} labels; the files come from different data sets: put matching files there.");
        return new LabeledImages(pixels, labels, rows, cols);
    }

    /// <summary>The file <paramref name="name"/> or <paramref name="name"/>.gz in <paramref name="folder"/>.</summary>
    static string Find(string folder, string name)
    {
        string plain = Path.Combine(folder, name), gz = plain + ".gz";
        if (File.Exists(plain)) return plain;
        if (File.Exists(gz)) return gz;
        throw new UserError($"data folder {folder} has no {name}: looked for {plain} and {gz}; "
            + "put the MNIST/Fashion-MNIST IDX files there (plain or gzipped), or install dataset-fashion-mnist.");
    }
}
