using InfoVae.Engine;
using InfoVae.Kernels.Reference;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Support.GradCheck;

namespace InfoVae.Tests.Engine;

/// <summary>
/// Ops.BatchNorm over the last axis: float64 gradient checks in training mode (batch statistics) and evaluation mode
/// (running statistics), the forward against hand-derived numbers, PyTorch's running-stat rule, and shape errors.
/// </summary>
public class BatchNormOpTests
{
    static double[] U(int n, int seed, double lo = -1, double hi = 1) => Rand.Uniform(n, seed, lo, hi);

    [TestCase(2, 3, 2, 5)]
    [TestCase(1, 4, 3, 1)]
    [TestCase(3, 1, 1, 17)]
    public void Training_gradients_nhwc(int n, int h, int w, int c) =>
        Check(t => Ops.BatchNorm(t[0], t[1], t[2], null, null, training: true),
            In(U(n * h * w * c, 1, -2, 3), n, h, w, c), In(U(c, 2, 0.5, 1.5), c), In(U(c, 3), c));

    [Test]
    public void Training_gradients_rows_by_columns() =>
        Check(t => Ops.BatchNorm(t[0], t[1], t[2], null, null, training: true), In(U(7 * 3, 4), 7, 3),
            In(U(3, 5, -1.5, 1.5), 3), In(U(3, 6), 3));

    [Test]
    public void Training_gradients_through_a_chain()
    {
        // The statistics depend on x, so x feeding both the normalised path and a second use checks the full dx.
        Check(t => Ops.BatchNorm(t[0], t[1], t[2], null, null, training: true) * t[0],
            In(U(5 * 4, 7), 5, 4), In(U(4, 8, 0.5, 1.5), 4), In(U(4, 9), 4));
    }

    [TestCase(0.2)]
    [TestCase(0.0)]
    public void Training_gradients_with_the_fused_leaky_relu(double slope) =>
        // x spread around the batch mean, so some outputs sit on each side of the kink (none on it: the check's ε is
        // 1e-6)
        Check(t => Ops.BatchNorm(t[0], t[1], t[2], null, null, training: true, leakySlope: slope) * t[0],
            In(U(3 * 2 * 2 * 5, 30, -2, 3), 3, 2, 2, 5), In(U(5, 31, 0.5, 1.5), 5), In(U(5, 32), 5));

    [Test]
    public void Evaluation_gradients_with_the_fused_leaky_relu()
    {
        var rm = Tensor<double>.From(U(5, 33), new Shape(5));
        var rv = Tensor<double>.From(U(5, 34, 0.2, 2), new Shape(5));
        Check(t => Ops.BatchNorm(t[0], t[1], t[2], rm, rv, training: false, leakySlope: 0.2),
            In(U(2 * 3 * 2 * 5, 35, -2, 2), 2, 3, 2, 5), In(U(5, 36, 0.5, 1.5), 5), In(U(5, 37), 5));
    }

    [Test]
    public void Fused_leaky_relu_gives_the_numbers_of_the_two_ops()
    {
        // Training and evaluation mode, forward and every gradient, in float (as the model runs it): the same bits.
        foreach (bool training in new[] { true, false })
        {
            (float[] Y, float[] Dx, float[] Dg, float[] Db) Run(bool fused)
            {
                Tape<float>.Current.Reset();
                var x = Tensor<float>.From(Array.ConvertAll(U(4 * 3 * 3 * 6, 40, -2, 3), v => (float)v),
                    new Shape(4, 3, 3, 6), requiresGrad: true);
                var g = Tensor<float>.From(Array.ConvertAll(U(6, 41, 0.5, 1.5), v => (float)v), new Shape(6),
                    requiresGrad: true);
                var b = Tensor<float>.From(Array.ConvertAll(U(6, 42), v => (float)v), new Shape(6), requiresGrad: true);
                var rm = Tensor<float>.From(Array.ConvertAll(U(6, 43), v => (float)v), new Shape(6));
                var rv = Tensor<float>.From(Array.ConvertAll(U(6, 44, 0.2, 2), v => (float)v), new Shape(6));
                var seed = Tensor<float>.From(Array.ConvertAll(U(4 * 3 * 3 * 6, 45), v => (float)v),
                    new Shape(4, 3, 3, 6));
                var y = fused ? Ops.BatchNorm(x, g, b, rm, rv, training, leakySlope: 0.2)
                              : Ops.BatchNorm(x, g, b, rm, rv, training).LeakyRelu(0.2);
                y.Backward(seed);
                var r = (y.ToArray(), x.Grad!.ToArray(), g.Grad!.ToArray(), b.Grad!.ToArray());
                Tape<float>.Current.Reset();
                return r;
            }
            var two = Run(false); var one = Run(true);
            string mode = training ? "training" : "evaluation";
            Assert.That(one.Y, Is.EqualTo(two.Y), $"{mode}: y");
            Assert.That(one.Dx, Is.EqualTo(two.Dx), $"{mode}: dx");
            Assert.That(one.Dg, Is.EqualTo(two.Dg), $"{mode}: dGamma");
            Assert.That(one.Db, Is.EqualTo(two.Db), $"{mode}: dBeta");
        }
    }

    [Test]
    public void Evaluation_gradients()
    {
        // Running statistics are constants here: dx = dy·gamma/√(rv + eps).
        var rm = Tensor<double>.From(U(5, 10), new Shape(5));
        var rv = Tensor<double>.From(U(5, 11, 0.2, 2), new Shape(5));
        Check(t => Ops.BatchNorm(t[0], t[1], t[2], rm, rv, training: false),
            In(U(2 * 3 * 2 * 5, 12), 2, 3, 2, 5), In(U(5, 13, 0.5, 1.5), 5), In(U(5, 14), 5));
    }

    [Test]
    public void Training_forward_matches_the_reference_and_normalises()
    {
        int rows = 37, c = 6;
        var x = U(rows * c, 20, -3, 5); var gamma = U(c, 21, 0.5, 2); var beta = U(c, 22);
        var (y, _, _) = Run(x, [rows, c], gamma, beta, null, null, training: true);
        double[] mean = new double[c], variance = new double[c], expected = new double[rows * c];
        Reference.BatchNormStats(x, rows, c, mean, variance);
        Reference.BatchNormApply(x, rows, c, mean, variance, 1e-5, gamma, beta, expected);
        Close.Assert(expected, y, 1e-13, 1e-13, "batch norm (training)");
        for (int j = 0; j < c; j++)
        {
            double m = 0, q = 0;
            for (int r = 0; r < rows; r++) m += y[r * c + j];
            m /= rows;
            for (int r = 0; r < rows; r++) q += (y[r * c + j] - m) * (y[r * c + j] - m);
            Assert.That(m, Is.EqualTo(beta[j]).Within(1e-12), $"column {j}: output mean = beta");
            Assert.That(q / rows, Is.EqualTo(gamma[j] * gamma[j] * variance[j] / (variance[j] + 1e-5)).Within(1e-12),
                $"column {j}: output variance");
        }
    }

    [Test]
    public void Running_statistics_follow_pytorchs_rule()
    {
        // Column 0 holds 1, 2, 3, 4: mean 2.5, biased variance 1.25, unbiased 5/3. Column 1 holds 0, 0, 0, 8: mean 2,
        // Σ(x − 2)² = 4 + 4 + 4 + 36 = 48, biased 12, unbiased 16.
        double[] x = [1, 0, 2, 0, 3, 0, 4, 8];
        double[] rm = [0, 10], rv = [1, 1];
        var (y, rm1, rv1) = Run(x, [2, 2, 1, 2], [1, 1], [0, 0], rm, rv, training: true, momentum: 0.1);
        // rm = 0.9·rm + 0.1·mean; rv = 0.9·rv + 0.1·unbiased var.
        Assert.That(rm1[0], Is.EqualTo(0.25).Within(1e-15));
        Assert.That(rm1[1], Is.EqualTo(9.2).Within(1e-14));
        Assert.That(rv1[0], Is.EqualTo(0.9 + 0.1 * 5.0 / 3).Within(1e-15));
        Assert.That(rv1[1], Is.EqualTo(0.9 + 1.6).Within(1e-14));
        // Training normalises with the biased variance: column 0's first value is (1 − 2.5)/√(1.25 + 1e-5).
        Assert.That(y[0], Is.EqualTo(-1.5 / Math.Sqrt(1.25 + 1e-5)).Within(1e-15));
        Assert.That(y[7], Is.EqualTo(6 / Math.Sqrt(12 + 1e-5)).Within(1e-15));
        // A second step with momentum 0.5 from there.
        var (_, rm2, rv2) = Run(x, [4, 2], [1, 1], [0, 0], rm1, rv1, training: true, momentum: 0.5);
        Assert.That(rm2[0], Is.EqualTo(0.5 * 0.25 + 0.5 * 2.5).Within(1e-15));
        Assert.That(rv2[1], Is.EqualTo(0.5 * 2.5 + 0.5 * 16).Within(1e-14));
    }

    [Test]
    public void Evaluation_uses_the_running_statistics_and_leaves_them_alone()
    {
        double[] x = [1, 0, 2, 0, 3, 0, 4, 8];
        double[] rm = [0.5, -1], rv = [4, 0.25], gamma = [2, -1], beta = [0.125, 3];
        var (y, rm1, rv1) = Run(x, [4, 2], gamma, beta, rm, rv, training: false);
        Assert.That(rm1, Is.EqualTo(rm)); Assert.That(rv1, Is.EqualTo(rv));
        for (int r = 0; r < 4; r++)
            for (int j = 0; j < 2; j++)
                Assert.That(y[r * 2 + j], Is.EqualTo((x[r * 2 + j] - rm[j]) * gamma[j] / Math.Sqrt(rv[j] + 1e-5)
                    + beta[j]).Within(1e-14), $"[{r}, {j}]");
        // y at x = 3 in column 0: (3 − 0.5)·2/√(4 + 1e-5) + 0.125 ≈ 2.625.
        Assert.That(y[4], Is.EqualTo(2.625).Within(1e-5));
    }

    [Test]
    public void Float_statistics_are_accurate_over_many_rows()
    {
        // 50 000 rows with a large offset: a float sum would lose the variance; double accumulation keeps it.
        int rows = 50_000, c = 3;
        var xd = new double[rows * c];
        var r = new Random(5);
        for (int i = 0; i < xd.Length; i++) xd[i] = (float)(1000 + (i % c) + 0.01 * (r.NextDouble() - 0.5));
        double[] mean = new double[c], variance = new double[c];
        Reference.BatchNormStats(xd, rows, c, mean, variance);
        var tape = Tape<float>.Current;
        tape.Reset();
        var x = Tensor<float>.From(Array.ConvertAll(xd, v => (float)v), new Shape(rows, c));
        var rm = Tensor<float>.Zeros(new Shape(c)); var rv = Tensor<float>.Zeros(new Shape(c));
        Ops.BatchNorm(x, Tensor<float>.From([1f, 1f, 1f], new Shape(c)), Tensor<float>.Zeros(new Shape(c)), rm, rv,
            training: true, momentum: 1.0);
        var got = rv.ToArray();
        tape.Reset();
        for (int j = 0; j < c; j++)
            Assert.That(got[j], Is.EqualTo(variance[j] * rows / (rows - 1)).Within(1e-6 * variance[j]),
                $"column {j} variance");
    }

    [Test]
    public void Bad_arguments_throw_clear_argument_exceptions()
    {
        var tape = Tape<double>.Current;
        tape.Reset();
        var x = Tensor<double>.From(U(12, 30), new Shape(4, 3));
        var g3 = Tensor<double>.From(U(3, 31), new Shape(3)); var b3 = Tensor<double>.From(U(3, 32), new Shape(3));
        var g2 = Tensor<double>.From(U(2, 33), new Shape(2));
        void Throws(TestDelegate f, string fragment) => Assert.That(Assert.Throws<ArgumentException>(f)!.Message,
            Does.Contain(fragment));
        Throws(() => Ops.BatchNorm(x, g2, b3, null, null, true), "gamma (2) and beta (3) must be (3)");
        Throws(() => Ops.BatchNorm(x, g3, b3, null, null, false), "evaluation mode needs the running");
        Throws(() => Ops.BatchNorm(x, g3, b3, g3, null, true), "give both");
        Throws(() => Ops.BatchNorm(x, g3, b3, g3, g2, true), "running mean (3) and variance (2)");
        Throws(() => Ops.BatchNorm(Tensor<double>.From(U(3, 34), new Shape(1, 3)), g3, b3, null, null, true),
            "more than 1 value per channel");
        Throws(() => Ops.BatchNorm(Tensor<double>.From(U(3, 34), new Shape(3)), g3, b3, null, null, true), "rank ≥ 2");
        Throws(() => Ops.BatchNorm(x, g3, b3, null, null, true, eps: 0), "eps 0");
        Throws(() => Ops.BatchNorm(x, g3, b3, null, null, true, momentum: 1.5), "momentum 1.5");
        Assert.DoesNotThrow(() => Ops.BatchNorm(Tensor<double>.From(U(3, 34), new Shape(1, 3)), g3, b3, g3, b3, false));
        tape.Reset();
    }

    static (double[] Y, double[] RunningMean, double[] RunningVar) Run(double[] x, int[] shape, double[] gamma,
        double[] beta,
        double[]? rm, double[]? rv, bool training, double momentum = 0.1)
    {
        var tape = Tape<double>.Current;
        tape.Reset();
        int c = gamma.Length;
        var rmT = rm == null ? null : Tensor<double>.From(rm, new Shape(c));
        var rvT = rv == null ? null : Tensor<double>.From(rv, new Shape(c));
        var y = Ops.BatchNorm(Tensor<double>.From(x, new Shape(shape)), Tensor<double>.From(gamma, new Shape(c)),
            Tensor<double>.From(beta, new Shape(c)),
            rmT, rvT, training, momentum).ToArray();
        tape.Reset();
        return (y, rmT?.ToArray() ?? [], rvT?.ToArray() ?? []);
    }
}
