using InfoVae.Engine.Cpu;
using InfoVae.Model;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model.Metrics;

/// <summary>
/// The semi-supervised probes: class-balanced label draws, k-NN by hand, logistic regression on separable data.
/// </summary>
public class LatentProbeTests
{
    static readonly byte[] Labels = [.. Enumerable.Range(0, 300).Select(i => (byte)(i * 7 % 3))];

    [Test]
    public void Label_draws_are_class_balanced_distinct_and_fixed_by_the_seed()
    {
        var a = LatentProbe.Balanced(Labels, 20, 3, seed: 1);
        Assert.That(a, Has.Length.EqualTo(20));
        Assert.That(a.Distinct().Count(), Is.EqualTo(20));
        // 20 = 3·6 + 2: classes 0 and 1 get 7, class 2 gets 6.
        Assert.That(Enumerable.Range(0, 3).Select(c => a.Count(i => Labels[i] == c)), Is.EqualTo(new[] { 7, 7, 6 }));
        Assert.That(LatentProbe.Balanced(Labels, 20, 3, seed: 1), Is.EqualTo(a));
        Assert.That(LatentProbe.Balanced(Labels, 20, 3, seed: 2), Is.Not.EqualTo(a));
        // A class with too few images gives all it has.
        Assert.That(LatentProbe.Balanced([0, 0, 0, 1], 4, 2, seed: 1).Count(i => i == 3), Is.EqualTo(1));
    }

    [Test]
    public void Nearest_neighbours_by_hand_with_ties_to_the_nearest()
    {
        // 1-D points: class 0 at 10 and 14.5, class 1 at 8 and 12.8, class 2 at 30.
        float[] x = [10, 14.5f, 8, 12.8f, 30]; byte[] y = [0, 0, 1, 1, 2];
        // At 11 the neighbours in order are classes 0, 1, 1, 0; at 29: 2, 0, 1, 0, 1.
        float[] test = [11, 29]; byte[] truth = [0, 2];
        Assert.That(NearestNeighbours.Accuracy(x, y, 1, 3, test, truth, 1), Is.EqualTo(1.0), "k = 1: the nearest");
        Assert.That(NearestNeighbours.Accuracy(x, y, 1, 3, test, truth, 2), Is.EqualTo(1.0),
            "k = 2: 1-1 ties go to the nearest");
        Assert.That(NearestNeighbours.Accuracy(x, y, 1, 3, test, truth, 3), Is.EqualTo(0.5),
            "k = 3: class 1 wins 2-1 at 11");
        // k = 4 at 11: 2-2, the nearest (class 0) wins, although class 1 reached 2 votes first; at 29 class 0 wins
        // 2-1-1.
        Assert.That(NearestNeighbours.Accuracy(x, y, 1, 3, test, truth, 4), Is.EqualTo(0.5), "k = 4");
        // k beyond the labelled set: all five vote, 2-2-1, ties to the nearer of classes 0 and 1 (0 in both cases).
        Assert.That(NearestNeighbours.Accuracy(x, y, 1, 3, test, truth, 9), Is.EqualTo(0.5), "k = 9");
    }

    /// <summary>n points of 4 dimensions in 3 Gaussian blobs 4 apart along the axes: linearly separable.</summary>
    static (float[] X, byte[] Y) Blobs(int n, int seed)
    {
        var noise = Rand.Normal(n * 4, seed);
        var x = new float[n * 4]; var y = new byte[n];
        for (int i = 0; i < n; i++)
        {
            y[i] = (byte)(i % 3);
            for (int j = 0; j < 4; j++) x[i * 4 + j] = (float)(0.5 * noise[i * 4 + j] + (j == y[i] ? 4 : 0));
        }
        return (x, y);
    }

    [Test]
    public void Logistic_regression_separates_blobs_and_is_deterministic()
    {
        var (x, y) = Blobs(60, 1); var (tx, ty) = Blobs(300, 2);
        double a = LogisticRegression.Accuracy(x, y, 4, 3, tx, ty, seed: 5);
        Assert.That(a, Is.GreaterThan(0.98));
        Assert.That(LogisticRegression.Accuracy(x, y, 4, 3, tx, ty, seed: 5), Is.EqualTo(a));
        // Labels that say nothing: chance level.
        var shuffled = y.Select((_, i) => (byte)(i * 5 % 7 % 3)).ToArray();
        Assert.That(LogisticRegression.Accuracy(x, shuffled, 4, 3, tx, ty, seed: 5), Is.LessThan(0.6));
    }

    [Test]
    public void Logistic_regression_in_mini_batches_when_there_are_many_labels()
    {
        var (x, y) = Blobs(2500, 3); var (tx, ty) = Blobs(300, 4);
        Assert.That(LogisticRegression.Accuracy(x, y, 4, 3, tx, ty, seed: 1), Is.GreaterThan(0.98));
    }
}
