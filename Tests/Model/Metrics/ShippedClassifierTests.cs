using InfoVae.Model;
using InfoVae.Model.Data;

namespace InfoVae.Tests.Model.Metrics;

/// <summary>
/// The shipped Fashion-MNIST classifier on the real data (apt-get install dataset-fashion-mnist; CI installs it):
/// its recorded test accuracy holds, and FID and KID on its features behave on the known cases: the test set
/// against itself is 0, against a disjoint half of the training set small, against damaged images large.
/// </summary>
public class ShippedClassifierTests
{
    Classifier<float> net = null!;
    ClassifierInfo info = null!;
    DataSet data = null!;

    [OneTimeSetUp]
    public void Up()
    {
        (net, info) = ClassifierFile.LoadShipped();
        if (!Directory.Exists(DataSet.DefaultFolder))
            Assert.Ignore($"{DataSet.DefaultFolder} absent (apt-get install dataset-fashion-mnist)");
        data = DataSet.Load();
    }

    [Test]
    public void It_is_the_documented_classifier_and_scores_its_recorded_accuracy()
    {
        Assert.That(info.DataName, Is.EqualTo("Fashion-MNIST"));
        Assert.That(info.Config.Describe(), Is.EqualTo("conv 32-64-32, 128 features, 10 classes (28×28)"));
        Assert.That(info.TestAccuracy, Is.GreaterThanOrEqualTo(0.91));
        Assert.That(info.TestSha256, Is.EqualTo(data.Test.Sha256()));
        Assert.That(info.TrainSha256, Is.EqualTo(data.Train.Sha256()));
        Assert.That(ClassifierPredictions.Accuracy(net, data.Test), Is.EqualTo(info.TestAccuracy),
            "the weights and this code agree");
        Assert.That(SampleQuality.Unavailable(info, data.Test, data.Folder), Is.Null);
    }

    (double[] Features, FeatureStats Stats) Features(LabeledImages images)
    {
        var f = new double[images.Count * info.Config.Hidden];
        ClassifierPredictions.Predict(net, images.Pixels, images.Count, f, []);
        return (f, FeatureStats.Of(f, images.Count, info.Config.Hidden));
    }

    [Test]
    public void Fid_and_kid_of_the_test_set_against_itself_a_training_half_and_damaged_images()
    {
        var (testF, test) = Features(data.Test);
        double trace = Enumerable.Range(0, test.Width).Sum(j => test.Covariance[j * test.Width + j]);
        Assert.That(Frechet.Distance(test, test), Is.EqualTo(0).Within(1e-9 * trace), "the test set against itself");

        // The first half of the training set (30,000 images, none of them in the test set): the same distribution.
        var half = data.Train.Take(data.Train.Count / 2);
        var (halfF, halfStats) = Features(half);
        double fidHalf = Frechet.Distance(test, halfStats);
        // Damaged test images: every pixel darkened by a third, a change a person sees at once.
        var dark = new LabeledImages(Array.ConvertAll(data.Test.Pixels, p => p * 2 / 3), data.Test.Labels,
            data.Test.Rows, data.Test.Cols);
        var (darkF, darkStats) = Features(dark);
        double fidDark = Frechet.Distance(test, darkStats);
        TestContext.Out.WriteLine($"FID test vs training half {fidHalf:F4}, vs darkened test {fidDark:F4}, tr Σ "
            + $"{trace:F1}");
        Assert.That(fidHalf, Is.LessThan(0.1 * fidDark),
            "a disjoint half of the training set is close; damaged images are far");
        Assert.That(fidHalf, Is.LessThan(0.005 * trace));

        int f = info.Config.Hidden;
        var kidHalf = Kid.Compute(testF, data.Test.Count, halfF, half.Count, f, new TorchGenerator(1), subsets: 20);
        var kidDark = Kid.Compute(testF, data.Test.Count, darkF, dark.Count, f, new TorchGenerator(1), subsets: 20);
        TestContext.Out.WriteLine($"KID test vs training half {kidHalf}, vs darkened test {kidDark}");
        Assert.That(kidHalf.Mean, Is.LessThan(0.1 * kidDark.Mean));
    }
}
