using System.Globalization;

namespace InfoVae.Model;

/// <summary>
/// The feature classifier of the sample-quality metrics and how it is trained: a LeNet-like conv net whose
/// penultimate layer (<see cref="Hidden"/> wide) gives the features of FID and KID, and whose softmax gives the
/// class probabilities of the Inception Score. Saved in the weights file's metadata, so a file describes itself.
/// </summary>
public sealed record ClassifierConfig
{
    /// <summary>Image size (rows, cols), one channel; set from the data.</summary>
    public int Rows { get; init; } = 28;
    public int Cols { get; init; } = 28;
    public int Classes { get; init; } = 10;
    /// <summary>Output channels of the three strided convolutions.</summary>
    public int[] Channels { get; init; } = [32, 64, 32];
    /// <summary>Width of the penultimate layer: the feature vector of FID and KID.</summary>
    public int Hidden { get; init; } = 128;
    public int Epochs { get; init; } = 15;
    public int Batch { get; init; } = 128;
    /// <summary>Adam's peak step size; it follows a cosine from here to 0 over the run.</summary>
    public double LearningRate { get; init; } = 2e-3;
    public ulong Seed { get; init; }

    /// <summary>Kernel, stride, padding of the three convolutions: 28 → 14 → 7 → 4 pixels on 28 × 28 images.</summary>
    public static readonly (int Kernel, int Stride, int Pad)[] Geometry = [(5, 2, 2), (4, 2, 1), (3, 2, 1)];

    /// <summary>The output side of a convolution along one axis: ⌊(n + 2·pad − k)/stride⌋ + 1.</summary>
    public static int OutSize(int n, int kernel, int stride, int pad) => (n + 2 * pad - kernel) / stride + 1;

    /// <summary>(rows, cols) after each convolution, the input first.</summary>
    public (int Rows, int Cols)[] Sides()
    {
        var s = new (int, int)[Geometry.Length + 1];
        s[0] = (Rows, Cols);
        for (int i = 0; i < Geometry.Length; i++)
        {
            var (k, st, p) = Geometry[i];
            s[i + 1] = (OutSize(s[i].Item1, k, st, p), OutSize(s[i].Item2, k, st, p));
        }
        return s;
    }

    /// <summary>Width of the flattened last convolution's output (NHWC).</summary>
    public int Flat { get { var s = Sides()[^1]; return s.Rows * s.Cols * Channels[^1]; } }

    /// <summary>"conv 32-64-32, 128 features, 10 classes (28×28)".</summary>
    public string Describe() => $"conv {string.Join("-", Channels ?? [])}, {Hidden} features, {Classes} classes "
        + $"({Rows}×{Cols})";

    /// <summary>Refuses settings that cannot train, with one line that says what to change.</summary>
    public void Validate()
    {
        var d = new ClassifierConfig();
        static string Num(double v) => v.ToString("G4", CultureInfo.InvariantCulture);
        if (Channels is not { Length: 3 } || Channels.Any(c => c < 1))
            throw new UserError($"--channels takes three positive widths, not {string.Join(",", Channels ?? [])}; "
                + $"the default is {string.Join(",", d.Channels)}");
        if (Hidden < 1) throw new UserError($"--hidden must be at least 1, not {Hidden}; the default is {d.Hidden}");
        if (Epochs < 1) throw new UserError($"--epochs must be at least 1, not {Epochs}; the default is {d.Epochs}");
        if (Batch < 2) throw new UserError($"--batch must be at least 2 (batch norm needs two images), not {Batch}; "
            + $"the default is {d.Batch}");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate))
            throw new UserError($"--lr must be a positive number, not {Num(LearningRate)}; the default is "
                + $"{Num(d.LearningRate)}");
        if (Classes < 2) throw new UserError($"the labels hold {Classes} class(es); a classifier needs at least 2");
        var sides = Sides();
        bool fits = true;
        for (int i = 0; i < Geometry.Length; i++)
        {
            var (k, _, p) = Geometry[i];
            fits &= sides[i].Rows + 2 * p >= k && sides[i].Cols + 2 * p >= k;
        }
        if (!fits)
            throw new UserError($"{Rows}×{Cols} images are too small for three strided convolutions; use images of at "
                + $"least 3×3 pixels");
    }
}
