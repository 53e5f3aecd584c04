using System.Numerics;
using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Reference;
using static InfoVae.Tests.Kernels.KernelCheck;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// Reduce.SumAxis and Reduce.BroadcastAxis against Reference in double, over (outer, axis, inner) shapes built from n.
/// </summary>
[TestFixture(typeof(float))]
[TestFixture(typeof(double))]
public class ReduceKernelTests<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    static T P(double v) => T.CreateTruncating(v);

    /// <summary>
    /// n as the summed axis (whole-row sums, the inner == 1 path) and as the inner run (the vector-add path).
    /// </summary>
    static (int Outer, int Axis, int Inner)[] Shapes(int n) => [(1, n, 1), (3, n, 1), (2, 3, n), (2, n, 5), (1, 1, n)];

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Sum_axis(int n)
    {
        foreach (var (o, a, i) in Shapes(n))
            foreach (bool accumulate in new[] { false, true })
                foreach (double scale in new[] { 1.0, 1.0 / 3 })
                {
                    CheckSum(o, a, i, scale, accumulate, specials: false);
                    CheckSum(o, a, i, scale, accumulate, specials: true);
                }
    }

    static void CheckSum(int outer, int axis, int inner, double scale, bool accumulate, bool specials)
    {
        int len = outer * axis * inner, m = outer * inner, seed = len * 7 + axis;
        string label =
            $"sum ({outer}, {axis}, {inner}) scale "
            + $"{scale:G3}{(accumulate ? " +=" : "")}{(specials ? " specials" : "")}";
        var x = Uniform<T>(len, seed, -2, 2);
        if (specials) Plant(x, seed);
        var y0 = Uniform<T>(m, seed + 1, -1, 1);
        T st = P(scale); double sd = double.CreateTruncating(st);

        var xd = ToDouble<T>(x);
        var sum = new double[m]; var abs = new double[m];
        Reference.SumAxis(xd, outer, axis, inner, sd, sum);
        Reference.SumAxis(Array.ConvertAll(xd, Math.Abs), outer, axis, inner, Math.Abs(sd), abs);
        var y0d = ToDouble<T>(y0);
        double[] e = new double[m], s = new double[m];
        for (int k = 0; k < m; k++)
        {
            e[k] = accumulate ? y0d[k] + sum[k] : sum[k];
            s[k] = (accumulate ? Math.Abs(y0d[k]) : 0) + abs[k];
        }

        var y = Guarded<T>(m, y0);
        Reduce.SumAxis<T>(x, outer, axis, inner, st, accumulate, y);
        Close<T>(e, y.AsSpan(0, m), s, SumTolerance<T>(axis), label);
        GuardIntact(y, m, label);
    }

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Broadcast_axis(int n)
    {
        foreach (var (o, a, i) in Shapes(n))
            foreach (double scale in new[] { 1.0, -0.25 })
            {
                int len = o * a * i, m = o * i, seed = len * 3 + a;
                string label = $"broadcast ({o}, {a}, {i}) scale {scale}";
                var dy = Uniform<T>(m, seed, -2, 2);
                Plant(dy, seed, [double.NaN, double.PositiveInfinity]);
                var dx0 = Uniform<T>(len, seed + 1, -1, 1);
                T st = P(scale);
                var b = new double[len];
                Reference.BroadcastAxis(ToDouble<T>(dy), o, a, i, double.CreateTruncating(st), b);
                var dx0d = ToDouble<T>(dx0);
                double[] e = new double[len], s = new double[len];
                for (int k = 0; k < len; k++) { e[k] = dx0d[k] + b[k]; s[k] = Math.Abs(dx0d[k]) + Math.Abs(b[k]); }
                var dx = Guarded<T>(len, dx0);
                Reduce.BroadcastAxis<T>(dy, o, a, i, st, dx);
                Close<T>(e, dx.AsSpan(0, len), s, Tolerance<T>(), label);
                GuardIntact(dx, len, label);
            }
    }

    [Test]
    public void Throw_for_too_short_destination_or_wrong_input_length()
    {
        var ex = Assert.Throws<ArgumentException>(() => Reduce.SumAxis<T>(new T[24], 2, 3, 4, T.One, false, new T[7]));
        Assert.That(ex!.ParamName, Is.EqualTo("destination"));
        ex = Assert.Throws<ArgumentException>(() => Reduce.BroadcastAxis<T>(new T[8], 2, 3, 4, T.One, new T[23]));
        Assert.That(ex!.ParamName, Is.EqualTo("destination"));
        Assert.Throws<ArgumentException>(() => Reduce.SumAxis<T>(new T[23], 2, 3, 4, T.One, false, new T[8]));
        Assert.Throws<ArgumentException>(() => Reduce.BroadcastAxis<T>(new T[7], 2, 3, 4, T.One, new T[24]));
        Assert.Throws<ArgumentException>(() => Reduce.SumAxis<T>(new T[0], -1, 0, 4, T.One, false, new T[8]));
    }
}
