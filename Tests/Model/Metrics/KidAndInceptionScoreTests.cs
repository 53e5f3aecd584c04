using InfoVae.Kernels.Cpu;
using InfoVae.Model;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model.Metrics;

/// <summary>KID's unbiased estimator and the Inception Score on cases with known answers.</summary>
public class KidAndInceptionScoreTests
{
    [Test]
    public void Unbiased_mmd_by_hand()
    {
        // d = 1, k(a, b) = (a·b + 1)³; x = {0, 1}, y = {2, 3}:
        // Σ_{i≠j} k(x) = 2·k(0, 1) = 2, Σ_{i≠j} k(y) = 2·k(2, 3) = 2·343, Σ k(x, y) = 1 + 1 + 27 + 64 = 93.
        double expected = 2.0 / 2 + 686.0 / 2 - 2 * 93.0 / 4;
        Assert.That(Kid.UnbiasedMmd([0, 1], [2, 3], 2, 1, new double[4]), Is.EqualTo(expected).Within(1e-12));
    }

    static double[] Gaussian(int n, int d, ulong key, double shift = 0)
    {
        var x = new double[n * d];
        Philox.Normal<double>(key, 0, x);
        for (int i = 0; i < x.Length; i++) x[i] += shift;
        return x;
    }

    [Test]
    public void Kid_of_two_halves_of_one_set_is_zero_on_average_over_shuffles()
    {
        // The estimator is unbiased: over many random splits of one set its mean is 0 to within its standard error.
        // The biased (V-statistic) form, which keeps the diagonal, sits ~0.03 above 0 here: many standard errors.
        int n = 400, d = 8, half = n / 2, shuffles = 200;
        var x = Gaussian(n, d, 3);
        var rng = new TorchGenerator(7);
        var perm = new int[n];
        double[] a = new double[half * d], b = new double[half * d];
        double[] gram = new double[half * half], estimates = new double[shuffles];
        for (int s = 0; s < shuffles; s++)
        {
            rng.Randperm(perm);
            for (int i = 0; i < half; i++)
            {
                x.AsSpan(perm[i] * d, d).CopyTo(a.AsSpan(i * d, d));
                x.AsSpan(perm[half + i] * d, d).CopyTo(b.AsSpan(i * d, d));
            }
            estimates[s] = Kid.UnbiasedMmd(a, b, half, d, gram);
        }
        double mean = estimates.Average();
        double se = Math.Sqrt(estimates.Sum(e => (e - mean) * (e - mean)) / (shuffles - 1) / shuffles);
        Assert.That(Math.Abs(mean), Is.LessThan(3 * se), $"mean {mean:G4}, standard error {se:G4}");
        Assert.That(se, Is.LessThan(0.003), "the test must be able to tell a bias of ~0.03 from 0");
    }

    [Test]
    public void Kid_over_subsets_separates_a_shifted_set_and_reports_its_spread()
    {
        int n = 1500, d = 8;
        var x = Gaussian(n, d, 4);
        var same = Gaussian(n, d, 5);
        var shifted = Gaussian(n, d, 6, shift: 0.3);
        var near = Kid.Compute(x, n, same, n, d, new TorchGenerator(1), subsets: 20, subsetSize: 500);
        var far = Kid.Compute(x, n, shifted, n, d, new TorchGenerator(1), subsets: 20, subsetSize: 500);
        Assert.That((near.Subsets, near.SubsetSize), Is.EqualTo((20, 500)));
        Assert.That(Math.Abs(near.Mean), Is.LessThan(3 * near.Std), $"same distribution: {near}");
        Assert.That(far.Mean, Is.GreaterThan(5 * far.Std), $"shifted by 0.3 per dimension: {far}");
        Assert.That(near.Std, Is.GreaterThan(0));
        // The same generator seed gives the same subsets, so the same numbers.
        Assert.That(Kid.Compute(x, n, same, n, d, new TorchGenerator(1), subsets: 20, subsetSize: 500),
            Is.EqualTo(near));
    }

    [Test]
    public void Kid_subsets_shrink_to_the_smaller_set()
    {
        var k = Kid.Compute(Gaussian(30, 2, 1), 30, Gaussian(50, 2, 2), 50, 2, new TorchGenerator(0), subsets: 3);
        Assert.That(k.SubsetSize, Is.EqualTo(30));
    }

    [TestCase(10)]
    [TestCase(3)]
    public void Inception_score_of_confident_uniform_predictions_is_the_number_of_classes(int c)
    {
        int n = 7 * c;
        var p = new double[n * c];
        for (int i = 0; i < n; i++) p[i * c + i % c] = 1;
        Assert.That(InceptionScore.Compute(p, n, c), Is.EqualTo(c).Within(1e-12 * c));
    }

    [Test]
    public void Inception_score_of_a_constant_prediction_is_one()
    {
        int n = 50, c = 10;
        var row = Rand.Uniform(c, 9, 0.1, 1);
        double sum = row.Sum();
        var p = new double[n * c];
        for (int i = 0; i < n; i++) for (int k = 0; k < c; k++) p[i * c + k] = row[k] / sum;
        Assert.That(InceptionScore.Compute(p, n, c), Is.EqualTo(1).Within(1e-14));
    }

    [Test]
    public void Inception_score_of_a_mixed_case_by_hand()
    {
        // Half the rows certain of class 0, half undecided: p(y) = (3/4, 1/4);
        // KL = log(4/3) for the first, ½ log(2/3) + ½ log 2 for the second.
        double[] p = [1, 0, 0.5, 0.5];
        double expected = Math.Exp((Math.Log(4.0 / 3) + 0.5 * Math.Log(2.0 / 3) + 0.5 * Math.Log(2)) / 2);
        Assert.That(InceptionScore.Compute(p, 2, 2), Is.EqualTo(expected).Within(1e-14));
    }
}
