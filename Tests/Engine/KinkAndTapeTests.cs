using InfoVae.Engine;

namespace InfoVae.Tests.Engine;

/// <summary>Exact gradients at the kinks, and the tape's bookkeeping.</summary>
public class KinkAndTapeTests
{
    [SetUp] public void Clean() => Tape<double>.Current.Reset();

    static double[] GradOf(Func<Tensor<double>, Tensor<double>> f, double[] x)
    {
        var t = Tensor<double>.From(x, new Shape(x.Length), requiresGrad: true);
        f(t).Sum().Backward();
        var g = t.Grad!.ToArray();
        Tape<double>.Current.Reset();
        return g;
    }

    [Test]
    public void Relu_gradient_at_zero_is_zero() => Assert.That(GradOf(x => x.Relu(), [-1, 0, 1]),
        Is.EqualTo(new double[] { 0, 0, 1 }));

    [Test]
    public void Leaky_relu_gradient_at_zero_is_the_slope()
        => Assert.That(GradOf(x => x.LeakyRelu(0.25), [-1, 0, 1]), Is.EqualTo(new double[] { 0.25, 0.25, 1 }));

    [Test]
    public void Squared_distance_clamp_passes_no_gradient()
    {
        // Identical rows: the distance is exactly 0 (clamped from a rounding-level negative) and must pass no gradient.
        double[] a = [0.3, -1.7, 2.9, 0.3, -1.7, 2.9];
        var x = Tensor<double>.From(a, new Shape(2, 3), requiresGrad: true);
        var d = Ops.SquaredDistance(x, x);
        Assert.That(d.ToArray(), Is.EqualTo(new double[4]));
        d.Sum().Backward();
        Assert.That(x.Grad!.ToArray(), Is.EqualTo(new double[6]));
    }

    [Test]
    public void Gradients_accumulate_across_uses()
    {
        var x = Tensor<double>.From([2.0], new Shape(1), requiresGrad: true);
        (x * x + x).Sum().Backward();            // d/dx (x² + x) = 2x + 1 = 5
        Assert.That(x.Grad!.ToArray(), Is.EqualTo(new double[] { 5 }));
    }

    [Test]
    public void Leaf_gradients_accumulate_over_backward_calls_until_zeroed()
    {
        var x = Tensor<double>.From([3.0], new Shape(1), requiresGrad: true);
        (x * x).Sum().Backward();
        Tape<double>.Current.Reset();
        (x * x).Sum().Backward();
        Assert.That(x.Grad!.ToArray(), Is.EqualTo(new double[] { 12 }));
        x.ZeroGrad();
        Assert.That(x.Grad!.ToArray(), Is.EqualTo(new double[] { 0 }));
    }

    [Test]
    public void No_grad_scope_records_no_backward()
    {
        var x = Tensor<double>.From([1.0, 2.0], new Shape(2), requiresGrad: true);
        Tensor<double> y;
        using (Tape<double>.Current.NoGrad()) y = (x * x).Sum();
        Assert.That(y.RequiresGrad, Is.False);
        Assert.Throws<InvalidOperationException>(() => y.Backward());
    }

    [Test]
    public void Backward_needs_a_scalar_or_a_gradient()
    {
        var x = Tensor<double>.From([1.0, 2.0], new Shape(2), requiresGrad: true);
        Assert.Throws<InvalidOperationException>(() => x.Exp().Backward());
    }

    [Test]
    public void Steady_state_steps_reuse_pooled_buffers()
    {
        var pool = InfoVae.Engine.Cpu.CpuBackend<double>.Instance.Pool;
        var w = Tensor<double>.From(new double[12], new Shape(4, 3), requiresGrad: true);
        var x = Tensor<double>.From(new double[6], new Shape(2, 3));
        void Step() { Ops.Linear(x, w, null).Relu().Sum().Backward(); Tape<double>.Current.Reset(); }
        Step(); Step();
        long created = pool.Created;
        for (int i = 0; i < 5; i++) Step();
        Assert.That(pool.Created, Is.EqualTo(created), "a warm step rented a buffer the pool did not have");
    }

    [Test]
    public void Shape_errors_are_clear()
    {
        var a = Tensor<double>.Zeros(new Shape(2, 3));
        var b = Tensor<double>.Zeros(new Shape(4, 3));
        var e = Assert.Throws<ArgumentException>(() => _ = a + b)!;
        Assert.That(e.Message, Does.Contain("do not broadcast"));
        Assert.Throws<ArgumentException>(() => Ops.Matmul(a, b));
        Assert.Throws<ArgumentException>(() => a.Reshape(5));
        Assert.Throws<ArgumentException>(() => new Shape(1, 2, 3, 4, 5));
    }
}
