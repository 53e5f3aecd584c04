using InfoVae.Engine;

namespace InfoVae.Tests.Engine;

/// <summary>
/// ZeroGradDeferred leaves the gradient's memory alone (here: NaN) and the first op to write it overwrites: the
/// result must equal a gradient accumulated into real zeros, whether the tensor is used once, twice (overwrite then
/// add) or not at all (MaterializeGrad), and through ops that can only add.
/// </summary>
public class DeferredZeroGradTests
{
    [SetUp] public void Clean() => Tape<double>.Current.Reset();

    static Tensor<double> Leaf(int rows, int cols, int seed) =>
        Tensor<double>.From(Support.Rand.Normal(rows * cols, seed), new Shape(rows, cols), requiresGrad: true);

    /// <summary>
    /// The gradients of W and b after loss(W, b), starting from real zeros or from NaN marked deferred.
    /// </summary>
    static (double[] W, double[] B) Grads(Func<Tensor<double>, Tensor<double>, Tensor<double>> loss, bool deferred)
    {
        var w = Leaf(5, 7, 1);
        var bias = Tensor<double>.From(Support.Rand.Normal(5, 2), new Shape(5), requiresGrad: true);
        // Give both leaves a gradient buffer, then poison it.
        (w.Sum() + bias.Sum()).Backward();
        Tape<double>.Current.Reset();
        foreach (var t in new[] { w, bias })
        {
            t.Grad!.CopyFrom(Enumerable.Repeat(double.NaN, t.Length).ToArray());
            if (deferred) t.ZeroGradDeferred(); else t.ZeroGrad();
        }
        loss(w, bias).Backward();
        Tape<double>.Current.Reset();
        w.MaterializeGrad(); bias.MaterializeGrad();
        return (w.Grad!.ToArray(), bias.Grad!.ToArray());
    }

    static readonly Tensor<double> X = Tensor<double>.From(Support.Rand.Normal(3 * 7, 3), new Shape(3, 7));

    static void Same(Func<Tensor<double>, Tensor<double>, Tensor<double>> loss)
    {
        var eager = Grads(loss, deferred: false);
        var lazy = Grads(loss, deferred: true);
        Assert.Multiple(() =>
        {
            Assert.That(lazy.W, Is.EqualTo(eager.W), "W");
            Assert.That(lazy.B, Is.EqualTo(eager.B), "b");
            Assert.That(eager.W.All(double.IsFinite) && eager.B.All(double.IsFinite),
                "the eager run cleared the poison");
        });
    }

    [Test] public void Used_once_the_first_write_overwrites() => Same((w, b) => Ops.Linear(X, w, b).Relu().Sum());

    [Test]
    public void Used_twice_the_second_write_adds()
        => Same((w, b) => (Ops.Linear(X, w, b).Tanh().Sum() + Ops.Linear(X, w, b).Sum()));

    [Test] public void Reached_only_by_an_op_that_adds() => Same((w, b) => (w * w).Sum() + (b * b).Sum());

    [Test]
    public void Not_reached_at_all_materializes_to_zero()
    {
        var g = Grads((w, b) => Ops.Linear(X, w, null).Sum(), deferred: true);
        Assert.That(g.B, Is.All.EqualTo(0.0), "b is outside the graph: MaterializeGrad clears the poison");
    }

    [Test]
    public void Reading_grad_after_a_deferred_zero_gives_zeros()
    {
        // The public getter must not hand out the stale memory (here NaN) of a gradient that is logically zero.
        var w = Leaf(2, 3, 4);
        w.Sum().Backward();
        Tape<double>.Current.Reset();
        w.Grad!.CopyFrom(Enumerable.Repeat(double.NaN, w.Length).ToArray());
        w.ZeroGradDeferred();
        Assert.That(w.Grad!.ToArray(), Is.All.EqualTo(0.0));
    }
}
