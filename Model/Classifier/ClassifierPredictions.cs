using InfoVae.Engine;

namespace InfoVae.Model;

/// <summary>
/// A trained classifier applied to many images without gradients, batch norm on its running statistics, in chunks
/// of <see cref="Chunk"/>: the penultimate features and class probabilities (softmax of the logits, in double) of
/// each image, and the accuracy on a labelled set. n = images, D = pixels, F = features, C = classes.
/// </summary>
public static class ClassifierPredictions
{
    public const int Chunk = 500;

    /// <param name="pixels">n × D images in [0, 1].</param>
    /// <param name="features">n × F, or empty when not wanted.</param>
    /// <param name="probabilities">n × C, or empty when not wanted.</param>
    public static void Predict(Classifier<float> net, ReadOnlySpan<float> pixels, int n, Span<double> features,
        Span<double> probabilities)
    {
        var c = net.Config;
        int d = c.Rows * c.Cols, f = c.Hidden, k = c.Classes;
        if (pixels.Length != n * d) throw new ArgumentException($"{pixels.Length} pixels are not {n} images of "
            + $"{c.Rows}×{c.Cols}");
        if (!features.IsEmpty && features.Length != n * f) throw new ArgumentException($"features hold "
            + $"{features.Length}, not {n}×{f}");
        if (!probabilities.IsEmpty && probabilities.Length != n * k) throw new ArgumentException($"probabilities hold "
            + $"{probabilities.Length}, not {n}×{k}");
        var tape = Tape<float>.Current;
        var hostF = new float[Chunk * f]; var hostL = new float[Chunk * k];
        bool training = net.Training;
        net.Training = false;
        using var _ = tape.NoGrad();
        try
        {
            for (int s = 0; s < n; s += Chunk)
            {
                int b = Math.Min(Chunk, n - s);
                var x = tape.Scratch(new Shape(b, d), net.Backend);
                x.CopyFrom(pixels.Slice(s * d, b * d));
                var o = net.Forward(x);
                if (!features.IsEmpty)
                {
                    o.Features.CopyTo(hostF.AsSpan(0, b * f));
                    for (int i = 0; i < b * f; i++) features[s * f + i] = hostF[i];
                }
                if (!probabilities.IsEmpty)
                {
                    o.Logits.CopyTo(hostL.AsSpan(0, b * k));
                    for (int i = 0; i < b; i++) Softmax(hostL.AsSpan(i * k, k), probabilities.Slice((s + i) * k, k));
                }
                tape.Reset();
            }
        }
        finally { net.Training = training; tape.Reset(); }
    }

    /// <summary>softmax(logits) in double, shifted by the maximum.</summary>
    static void Softmax(ReadOnlySpan<float> logits, Span<double> destination)
    {
        double max = double.NegativeInfinity, sum = 0;
        foreach (var v in logits) max = Math.Max(max, v);
        for (int j = 0; j < logits.Length; j++) sum += destination[j] = Math.Exp(logits[j] - max);
        for (int j = 0; j < logits.Length; j++) destination[j] /= sum;
    }

    /// <summary>The fraction of <paramref name="data"/> whose most probable class is its label.</summary>
    public static double Accuracy(Classifier<float> net, LabeledImages data)
    {
        int k = net.Config.Classes;
        var probs = new double[data.Count * k];
        Predict(net, data.Pixels, data.Count, [], probs);
        int right = 0;
        for (int i = 0; i < data.Count; i++)
            if (ArgMax(probs.AsSpan(i * k, k)) == data.Labels[i]) right++;
        return (double)right / data.Count;
    }

    /// <summary>The index of the largest value (the first, on ties).</summary>
    public static int ArgMax(ReadOnlySpan<double> v)
    {
        int best = 0;
        for (int j = 1; j < v.Length; j++) if (v[j] > v[best]) best = j;
        return best;
    }
}
