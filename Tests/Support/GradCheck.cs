using InfoVae.Engine;

namespace InfoVae.Tests.Support;

/// <summary>
/// PyTorch gradcheck in float64: central differences on every element of every input against the analytic
/// backward, with L = Σ op(inputs) ⊙ r for a fixed random r; plus gradcheck's extras: a zero upstream gradient
/// gives zero gradients, and two backward runs agree bit for bit.
/// </summary>
public static class GradCheck
{
    public const double Eps = 1e-6, Atol = 1e-5, Rtol = 1e-3;

    public sealed record Input(double[] Data, Shape Shape, bool RequiresGrad = true);

    public static Input In(double[] data, params int[] shape) => new(data, new Shape(shape));
    public static Input Const(double[] data, params int[] shape) => new(data, new Shape(shape), false);

    public static void Check(Func<Tensor<double>[], Tensor<double>> op, params Input[] inputs)
        => Check(op, Atol, Rtol, inputs);

    public static void Check(Func<Tensor<double>[], Tensor<double>> op, double atol, double rtol, params Input[] inputs)
    {
        var tape = Tape<double>.Current;
        tape.Reset();
        var leaves = inputs.Select(i => Tensor<double>.From(i.Data, i.Shape, requiresGrad: i.RequiresGrad)).ToArray();
        var outShape = op(leaves).Shape;
        tape.Reset();
        var r = Rand.Uniform(outShape.Length, seed: 12345, lo: -1, hi: 1);

        double[][] Analytic(double[] seed)
        {
            foreach (var l in leaves) l.Grad = null;
            var y = op(leaves);
            Assert.That(y.RequiresGrad, Is.True, "the op's output does not require grad");
            y.Backward(Tensor<double>.From(seed, y.Shape));
            var g = leaves.Select((l, k) => inputs[k].RequiresGrad ? l.Grad?.ToArray()
                ?? new double[l.Length] : []).ToArray();
            tape.Reset();
            return g;
        }

        var analytic = Analytic(r);
        // Two backward runs give the same bits (reentrant backward, gradcheck's nondet_tol = 0).
        var again = Analytic(r);
        for (int k = 0; k < inputs.Length; k++)
            Assert.That(again[k], Is.EqualTo(analytic[k]), $"input {k}: second backward differs");
        // A zero upstream gradient gives zero gradients.
        var zero = Analytic(new double[r.Length]);
        for (int k = 0; k < inputs.Length; k++)
            Assert.That(zero[k].All(v => v == 0), $"input {k}: zero upstream gradient gave a non-zero gradient");

        double Loss()
        {
            using var _ = tape.NoGrad();
            var y = op(leaves).ToArray();
            tape.Reset();
            double s = 0;
            for (int i = 0; i < y.Length; i++) s += y[i] * r[i];
            return s;
        }

        for (int k = 0; k < inputs.Length; k++)
        {
            if (!inputs[k].RequiresGrad) continue;
            var data = inputs[k].Data;
            var numeric = new double[data.Length];
            for (int i = 0; i < data.Length; i++)
            {
                double orig = data[i];
                data[i] = orig + Eps; leaves[k].CopyFrom(data); double up = Loss();
                data[i] = orig - Eps; leaves[k].CopyFrom(data); double down = Loss();
                data[i] = orig; leaves[k].CopyFrom(data);
                numeric[i] = (up - down) / (2 * Eps);
            }
            Close.Assert<double, double>(numeric, analytic[k], atol, rtol, $"input {k} gradient");
        }
        foreach (var l in leaves) l.Dispose();
    }
}
