using InfoVae.Engine;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Model;

/// <summary>
/// Sample quality of one model, measured on a classifier's penultimate features (<see cref="SampleQuality"/>).
/// <see cref="Features"/> names them honestly ("LeNet features, Fashion-MNIST"): these are not Inception features.
/// </summary>
/// <param name="Fid">FID between <see cref="Samples"/> decoded prior samples and the <see cref="Reference"/> test
/// images.</param>
/// <param name="Kid">KID, the mean of the unbiased MMD² over <see cref="KidSubsets"/> subsets of <see
/// cref="KidSubsetSize"/>.</param>
/// <param name="KidStd">the standard deviation of KID's subset estimates.</param>
/// <param name="InceptionScore">the classifier-based Inception Score of the samples (1 to the number of
/// classes).</param>
/// <param name="TestInceptionScore">the same score of the test images: what real data reach.</param>
public sealed record SampleQualityReport(string Features, int Samples, int Reference, double Fid, double Kid,
    double KidStd, int KidSubsets, int KidSubsetSize, double InceptionScore, double TestInceptionScore);

/// <summary>
/// FID, KID and the classifier-based Inception Score of a model's samples against a data set's test images, all from
/// one classifier (<see cref="Classifier{T}"/>): its penultimate features for FID and KID, its class probabilities
/// for IS. Make it once per data set with <see cref="TryCreate"/> (the test images' features are computed there) and
/// call <see cref="Measure"/> for each model: `infovae eval` and `infovae sweep` both do.
/// The samples are decoder means σ(decoder(z)) of z ~ N(0, I), as many as there are test images (10,000 for
/// Fashion-MNIST), drawn from a Philox stream of the model's seed, so the same run gives the same numbers.
/// </summary>
public sealed class SampleQuality
{
    public const ulong SampleStream = RandomStreams.Eval + 400, KidStream = RandomStreams.Eval + 500;
    const int DecodeChunk = 500;

    public Classifier<float> Classifier { get; }
    public ClassifierInfo Info { get; }
    public LabeledImages Test { get; }
    /// <summary>"LeNet features, Fashion-MNIST": the name the metrics go by.</summary>
    public string FeatureName => $"LeNet features, {Info.DataName}";

    readonly double[] testFeatures;
    readonly FeatureStats testStats;
    readonly double testInceptionScore;

    /// <summary>
    /// The metrics for <paramref name="test"/> (the test set of <paramref name="folder"/>) on this classifier's
    /// features, or null and the line that says why they cannot be measured there (<see cref="Unavailable"/>).
    /// </summary>
    public static SampleQuality? TryCreate(Classifier<float> classifier, ClassifierInfo info, LabeledImages test,
        string folder, out string? skipped)
    {
        skipped = Unavailable(info, test, folder);
        return skipped == null ? new SampleQuality(classifier, info, test) : null;
    }

    SampleQuality(Classifier<float> classifier, ClassifierInfo info, LabeledImages test)
    {
        (Classifier, Info, Test) = (classifier, info, test);
        int f = info.Config.Hidden, k = info.Config.Classes;
        testFeatures = new double[test.Count * f];
        var probs = new double[test.Count * k];
        ClassifierPredictions.Predict(classifier, test.Pixels, test.Count, testFeatures, probs);
        testStats = FeatureStats.Of(testFeatures, test.Count, f);
        testInceptionScore = InceptionScore.Compute(probs, test.Count, k);
    }

    /// <summary>
    /// Why FID, KID and IS cannot be measured on the test set of <paramref name="folder"/> with this classifier (one
    /// line for the user), or null when they can: the images must have the classifier's size and the test set must be
    /// the one it was scored on (SHA-256 of its pixels and labels), since the features only mean something there.
    /// </summary>
    public static string? Unavailable(ClassifierInfo info, LabeledImages test, string folder)
    {
        string what = $"FID, KID and IS (LeNet features, {info.DataName}) are left out";
        if (test.Rows != info.Config.Rows || test.Cols != info.Config.Cols)
            return $"{what}: the classifier takes {info.Config.Rows}×{info.Config.Cols} images and {folder} holds "
                + $"{test.Rows}×{test.Cols}; train one on this data with infovae classifier train and give it with "
                + "--classifier";
        if (test.Count < 2) return $"{what}: the test set of {folder} has {test.Count} image(s); they need at least 2";
        if (test.Sha256() != info.TestSha256)
            return $"{what}: the test set of {folder} is not the one the classifier knows ({info.DataName}'s); "
                + "train one on this data with infovae classifier train and give it with --classifier";
        return null;
    }

    /// <summary>FID, KID and IS of <paramref name="net"/>'s decoded prior samples against the test images.</summary>
    public SampleQualityReport Measure(InfoVaeNet<float> net)
    {
        int n = Test.Count, f = Info.Config.Hidden, k = Info.Config.Classes;
        if (net.Config.InputSize != Test.PixelsPerImage)
            throw new UserError($"the model makes {net.Config.InputSize}-pixel images but the classifier takes "
                + $"{Test.Rows}×{Test.Cols}; give the --data the run was trained on");
        var samples = DecodePriorSamples(net, n);
        var features = new double[n * f]; var probs = new double[n * k];
        ClassifierPredictions.Predict(Classifier, samples, n, features, probs);
        double fid = Frechet.Distance(FeatureStats.Of(features, n, f), testStats);
        var subsets = new TorchGenerator(RandomStreams.Key(net.Config.Seed, KidStream));
        var kid = Kid.Compute(features, n, testFeatures, n, f, subsets);
        return new SampleQualityReport(FeatureName, n, n, fid, kid.Mean, kid.Std, kid.Subsets, kid.SubsetSize,
            InceptionScore.Compute(probs, n, k), testInceptionScore);
    }

    /// <summary>
    /// n decoder means σ(decoder(z)), z ~ N(0, I) from the (seed, <see cref="SampleStream"/>) Philox stream: n × D.
    /// </summary>
    public static float[] DecodePriorSamples(InfoVaeNet<float> net, int n)
    {
        int z = net.Config.Latent, d = net.Config.InputSize;
        var codes = new float[n * z];
        Philox.Normal<float>(RandomStreams.Key(net.Config.Seed, SampleStream), 0, codes);
        var images = new float[n * d];
        var tape = Tape<float>.Current;
        bool training = net.Training;
        net.Training = false;
        using var _ = tape.NoGrad();
        try
        {
            for (int s = 0; s < n; s += DecodeChunk)
            {
                int b = Math.Min(DecodeChunk, n - s);
                var zt = tape.Scratch(new Shape(b, z), net.Backend);
                zt.CopyFrom(codes.AsSpan(s * z, b * z));
                net.Decode(zt).Sigmoid().CopyTo(images.AsSpan(s * d, b * d));
                tape.Reset();
            }
        }
        finally { net.Training = training; tape.Reset(); }
        return images;
    }
}
