using InfoVae.Engine;
using InfoVae.Kernels.Cpu;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Support.GradCheck;

namespace InfoVae.Tests.Engine;

/// <summary>
/// A float64 central-difference gradient check for every op of the engine (shapes off the vector width).
/// </summary>
public class OpGradientTests
{
    static double[] U(int n, int seed, double lo = -1, double hi = 1) => Rand.Uniform(n, seed, lo, hi);

    [Test] public void Add() => Check(t => t[0] + t[1], In(U(15, 1), 3, 5), In(U(15, 2), 3, 5));
    [Test] public void Add_broadcast_row() => Check(t => t[0] + t[1], In(U(21, 1), 7, 3), In(U(3, 2), 3));
    [Test]
    public void Add_broadcast_column_and_rank3() => Check(t => t[0] + t[1], In(U(30, 1), 2, 3, 5),
        In(U(6, 2), 2, 3, 1));
    [Test] public void Add_broadcast_scalar_tensor() => Check(t => t[0] + t[1], In(U(1, 1)), In(U(10, 2), 2, 5));
    [Test] public void Sub() => Check(t => t[0] - t[1], In(U(17, 3), 17), In(U(17, 4), 17));
    [Test] public void Sub_broadcast() => Check(t => t[0] - t[1], In(U(5, 3), 5), In(U(35, 4), 7, 5));
    [Test] public void Mul() => Check(t => t[0] * t[1], In(U(19, 5), 19), In(U(19, 6), 19));
    [Test] public void Mul_broadcast() => Check(t => t[0] * t[1], In(U(3, 5), 3, 1), In(U(12, 6), 1, 3, 4));
    [Test] public void Div() => Check(t => t[0] / t[1], In(U(13, 7), 13), In(Rand.AwayFromZero(13, 8, 0.5, 2), 13));
    [Test]
    public void Div_broadcast()
        => Check(t => t[0] / t[1], In(U(15, 7), 3, 5), In(Rand.AwayFromZero(5, 8, 0.5, 2), 5));
    [Test] public void Neg() => Check(t => -t[0], In(U(11, 9), 11));
    [Test] public void Add_scalar() => Check(t => t[0] + 2.5, In(U(11, 9), 11));
    [Test] public void Mul_scalar() => Check(t => t[0] * -1.75, In(U(11, 9), 11));
    [Test] public void Exp() => Check(t => t[0].Exp(), In(U(37, 10), 37));
    [Test] public void Log() => Check(t => t[0].Log(), In(U(37, 11, 0.2, 3), 37));
    [Test] public void Sqrt() => Check(t => t[0].Sqrt(), In(U(37, 12, 0.2, 3), 37));
    [Test] public void Relu() => Check(t => t[0].Relu(), In(Rand.AwayFromZero(37, 13), 37));
    [Test] public void Leaky_relu() => Check(t => t[0].LeakyRelu(0.2), In(Rand.AwayFromZero(37, 14), 37));
    [Test] public void Sigmoid() => Check(t => t[0].Sigmoid(), In(U(37, 15, -4, 4), 37));
    [Test] public void Tanh() => Check(t => t[0].Tanh(), In(U(37, 16, -3, 3), 37));
    [Test] public void Softplus() => Check(t => t[0].Softplus(), In(U(37, 17, -8, 8), 37));
    [Test] public void Sum_all() => Check(t => t[0].Sum(), In(U(21, 18), 3, 7));
    [Test] public void Sum_axis0() => Check(t => t[0].Sum(0), In(U(21, 19), 3, 7));
    [Test] public void Sum_axis_last() => Check(t => t[0].Sum(-1), In(U(30, 20), 2, 3, 5));
    [Test] public void Sum_axis_middle() => Check(t => t[0].Sum(1), In(U(30, 20), 2, 3, 5));
    [Test] public void Mean_all() => Check(t => t[0].Mean(), In(U(21, 21), 3, 7));
    [Test] public void Mean_axis() => Check(t => t[0].Mean(1), In(U(21, 22), 3, 7));

    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    [TestCase(true, true)]
    public void Matmul(bool ta, bool tb)
    {
        int m = 5, k = 7, n = 3;
        Check(t => Ops.Matmul(t[0], t[1], ta, tb), In(U(m * k, 23), ta ? [k, m] : [m, k]),
            In(U(k * n, 24), tb ? [n, k] : [k, n]));
    }

    [Test]
    public void Linear() => Check(t => Ops.Linear(t[0], t[1], t[2]), In(U(4 * 9, 25), 4, 9),
        In(U(5 * 9, 26), 5, 9), In(U(5, 27), 5));
    // x spread so that some of x·Wᵀ + b sit on each side of the ReLU's kink (none on it)
    [Test]
    public void Linear_relu()
        => Check(t => Ops.Linear(t[0], t[1], t[2], relu: true), In(U(4 * 9, 25, -2, 2), 4, 9), In(U(5 * 9, 26), 5, 9),
        In(U(5, 27), 5));
    [Test]
    public void Linear_relu_without_bias()
        => Check(t => Ops.Linear(t[0], t[1], null, relu: true), In(U(3 * 6, 25, -2, 2), 3, 6), In(U(2 * 6, 26), 2, 6));
    [Test]
    public void Linear_without_bias() => Check(t => Ops.Linear(t[0], t[1], null), In(U(3 * 6, 25), 3, 6),
        In(U(2 * 6, 26), 2, 6));
    [Test] public void Transpose() => Check(t => t[0].Transpose(), In(U(15, 28), 3, 5));
    [Test] public void Reshape() => Check(t => t[0].Reshape(5, 3) * t[1], In(U(15, 29), 3, 5), In(U(15, 30), 5, 3));
    [Test] public void Slice_last_axis() => Check(t => t[0].Slice(2, 3) * t[0].Slice(0, 3), In(U(20, 31), 4, 5));
    [Test] public void Slice_then_reshape() => Check(t => t[0].Slice(1, 2).Reshape(8), In(U(20, 31), 4, 5));
    [Test]
    public void Concat_last_axis() => Check(t => Ops.Concat(-1, t[0], t[1], t[2]), In(U(6, 32), 3, 2),
        In(U(3, 33), 3, 1), In(U(12, 34), 3, 4));
    [Test] public void Concat_axis0() => Check(t => Ops.Concat(0, t[0], t[1]), In(U(6, 35), 2, 3), In(U(9, 36), 3, 3));
    [Test]
    public void Concat_middle_axis() => Check(t => Ops.Concat(1, t[0], t[1]), In(U(12, 35), 2, 2, 3),
        In(U(6, 36), 2, 1, 3));
    [Test]
    public void Bce_with_logits() => Check(t => Ops.BceWithLogits(t[0], t[1]), In(U(23, 37, -6, 6), 23),
        In(U(23, 38, 0, 1), 23));
    [Test]
    public void Bce_with_logits_sum()
        => Check(t => Ops.BceWithLogitsSum(t[0], t[1], 0.37), In(U(23, 37, -6, 6), 23), In(U(23, 38, 0, 1), 23));
    [Test]
    public void Gaussian_kl() => Check(t => Ops.GaussianKl(t[0], t[1]), In(U(15, 39), 3, 5),
        In(U(15, 40, -2, 1), 3, 5));
    [Test]
    public void Softmax_cross_entropy_soft_targets() =>
        Check(t => Ops.SoftmaxCrossEntropy(t[0], t[1]), In(U(4 * 5, 50, -3, 3), 4, 5), In(U(4 * 5, 51, 0, 1), 4, 5));
    [Test]
    public void Softmax_cross_entropy_one_hot_labels() =>
        Check(t => Ops.SoftmaxCrossEntropy(t[0], t[1]), In(U(3 * 10, 52, -3, 3), 3, 10),
            Const([.. Enumerable.Range(0, 30).Select(i => i % 10 == (i / 10) * 3 ? 1.0 : 0.0)], 3, 10));
    [Test]
    public void Squared_distance() => Check(t => Ops.SquaredDistance(t[0], t[1]), In(U(15, 41), 5, 3),
        In(U(21, 42), 7, 3));
    [Test] public void Squared_distance_self() => Check(t => Ops.SquaredDistance(t[0], t[0]), In(U(15, 43), 5, 3));

    static IEnumerable<TestCaseData> MmdCases()
    {
        foreach (var kernel in new[] { MmdKernel.Imq, MmdKernel.Rbf })
            foreach (var unbiased in new[] { true, false })
                foreach (var scales in new[] { new[] { 1.0 }, new[] { 0.2, 1.0, 5.0 } })
                    yield return new TestCaseData(kernel, unbiased, scales).SetArgDisplayNames(kernel.ToString(),
                        unbiased ? "unbiased" : "biased", $"{scales.Length} scales");
    }

    [TestCaseSource(nameof(MmdCases))]
    public void Mmd(MmdKernel kernel, bool unbiased, double[] scales)
    {
        var spec = new MmdSpec(kernel, scales, Bandwidth: 0.7, Unbiased: unbiased);
        // n ≠ m, d off the vector width; the loss is a scalar so r just scales it.
        Check(t => Ops.Mmd(t[0], t[1], spec), In(Rand.Normal(5 * 3, 44), 5, 3), In(Rand.Normal(7 * 3, 45), 7, 3));
    }

    [Test]
    public void Mmd_as_in_the_model_z_only() =>
        Check(t => Ops.Mmd(t[0], t[1], MmdSpec.Default), In(Rand.Normal(6 * 4, 46), 6, 4),
            Const(Rand.Normal(6 * 4, 47), 6, 4));

    [Test]
    public void Composite_reparameterisation_and_kl()
    {
        // z = mu + exp(logvar / 2) · eps out of one (B, 2Z) encoder output, as the model does it.
        var eps = Rand.Normal(12, 48);
        Check(t =>
        {
            var mu = t[0].Slice(0, 4); var lv = t[0].Slice(4, 4);
            var z = mu + (lv * 0.5).Exp() * t[1];
            return Ops.Concat(-1, z, Ops.GaussianKl(mu, lv).Reshape(3, 1));
        }, In(U(24, 49), 3, 8), Const(eps, 3, 4));
    }
}
