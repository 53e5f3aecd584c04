using System.Numerics;
using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Reference;
using static InfoVae.Tests.Kernels.KernelCheck;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// Simd.Map and Simd.Accumulate with every op struct of Kernels/Cpu/ElementwiseOps.cs, called the way CpuBackend
/// calls them, against Reference (double) at every length 0..70: random inputs, in-place use, NaN/±∞/−0 planted
/// at random positions, no write past the end, and a too-short destination that throws.
/// </summary>
[TestFixture(typeof(float))]
[TestFixture(typeof(double))]
public class ElementwiseKernelTests<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Backward ops that read the rounded saved output y: 1/(1 − y) (sigmoid, |x| ≤ 3) and 2y²/(1 − y²) (tanh, |x| ≤ 2)
    /// amplify y's half-unit rounding by up to about 26, so these get 8 × the 8-unit tolerance.
    /// </summary>
    const double FromSavedOutput = 8;

    static T P(double v) => T.CreateTruncating(v);

    // ---- forward: destination = op(x, p) ----

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Relu(int n) => Map<ReluOp<T>>(n, null, (x, _) => Reference.Relu(x));

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Leaky_relu(int n) => Map<LeakyReluOp<T>>(n, 0.2, Reference.LeakyRelu);

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Add_scalar(int n) => Map<AddScalarOp<T>>(n, 1.75, (x, p) => x + p);

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Mul_scalar(int n) => Map<MulScalarOp<T>>(n, -0.3, (x, p) => x * p);

    /// <summary>
    /// Random values, in place, planted specials (relu(NaN) = NaN, relu(−∞) = +0, leaky(−0) = −0, ...), all against the
    /// reference.
    /// </summary>
    static void Map<TOp>(int n, double? p, Func<double, double, double> reference) where TOp : struct, IUnaryOp<T>
    {
        T pt = P(p ?? 0);
        double pd = double.CreateTruncating(pt);
        void Run(ReadOnlySpan<T> x, Span<T> destination)
        {
            if (p is null) Simd.Map<T, TOp>(x, destination);
            else Simd.Map<T, TOp>(x, pt, destination);
        }
        double[] Expected(T[] x) => Array.ConvertAll(ToDouble<T>(x), v => reference(v, pd));

        var x = Uniform<T>(n, 100 + n, -3, 3);
        var d = Guarded<T>(n);
        Run(x, d);                                   // a destination longer than x: only n elements are written
        Close<T>(Expected(x), d.AsSpan(0, n), default, Tolerance<T>(), "random", zeroSign: true);
        GuardIntact(d, n, "random");

        var same = (T[])x.Clone();
        Run(same, same);
        Identical<T>(d.AsSpan(0, n), same, "in place");

        var s = Uniform<T>(n, 200 + n, -3, 3);
        Plant(s, seed: n);
        var ds = Guarded<T>(n);
        Run(s, ds);
        Close<T>(Expected(s), ds.AsSpan(0, n), default, Tolerance<T>(), "specials", zeroSign: true);
    }

    [Test]
    public void Relu_and_leaky_relu_special_values_exactly()
    {
        T[] x = [P(double.NaN), P(double.PositiveInfinity), P(double.NegativeInfinity), P(-0.0), P(0.0), P(-2), P(3)];
        var r = new T[x.Length]; var l = new T[x.Length];
        Simd.Map<T, ReluOp<T>>(x, r);
        Simd.Map<T, LeakyReluOp<T>>(x, P(0.5), l);
        Close<T>([double.NaN, double.PositiveInfinity, 0.0, 0.0, 0.0, 0.0, 3], r, default, 0, "relu", zeroSign: true);
        Close<T>([double.NaN, double.PositiveInfinity, double.NegativeInfinity, -0.0, 0.0, -1, 3], l, default, 0,
            "leaky relu", zeroSign: true);
    }

    // ---- backward: destination += op(a, b, dy, p) ----

    /// <summary>
    /// The kernel's (a, b) built from the differentiated input x and the other operand w, and the reference derivative
    /// at each element.
    /// </summary>
    delegate (T[] A, T[] B, double[] Derivative) Build(T[] x, T[] w);

    static double[] D(T[] x, Func<double, double> f) => Array.ConvertAll(ToDouble<T>(x), v => f(v));
    static T[] Out(T[] x, Func<double, double> f) => Array.ConvertAll(x, v => P(f(double.CreateTruncating(v))));

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Relu_grad(int n) => Grad<LeakyReluGradOp<T>>(n, 0.0, (x, _) => (x, x, D(x, Reference.ReluGrad)), -2, 2);

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Leaky_relu_grad(int n)
        => Grad<LeakyReluGradOp<T>>(n, 0.2,
        (x, _) => (x, x, D(x, v => Reference.LeakyReluGrad(v, double.CreateTruncating(P(0.2))))), -2, 2);

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Sigmoid_grad(int n)
        => Grad<SigmoidGradOp<T>>(n, null, (x, _) => (x, Out(x, Reference.Sigmoid), D(x, Reference.SigmoidGrad)), -3, 3,
        FromSavedOutput);

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Tanh_grad(int n)
        => Grad<TanhGradOp<T>>(n, null, (x, _) => (x, Out(x, Math.Tanh), D(x, Reference.TanhGrad)), -2, 2,
        FromSavedOutput);

    // exp backward reads y = exp(x): dx += y·dy·1
    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Exp_grad(int n)
        => Grad<MulAccOp<T>>(n, 1.0, (x, _) => (Out(x, Math.Exp), Out(x, Math.Exp), D(x, Reference.ExpGrad)), -3, 3);

    // log backward: dx += 1·dy / x
    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Log_grad(int n) => Grad<DivAccOp<T>>(n, 1.0, (x, _) => (x, x, D(x, Reference.LogGrad)), 0.2, 3);

    // sqrt backward reads y = √x: dx += ½·dy / y
    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Sqrt_grad(int n)
        => Grad<DivAccOp<T>>(n, 0.5, (x, _) => (Out(x, Math.Sqrt), Out(x, Math.Sqrt), D(x, Reference.SqrtGrad)), 0.2,
        3);

    // c = x·w: dx += dy·w·1
    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Mul_grad(int n) => Grad<MulAccOp<T>>(n, 1.0, (x, w) => (w, w, ToDouble<T>(w)), -2, 2);

    // c = x / w: dx += 1·dy / w
    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Div_grad_of_dividend(int n) => Grad<DivAccOp<T>>(n, 1.0, (x, w) => (w, w, D(w, v => 1 / v)), -2, 2);

    // c = w / x: dx += −dy·w / x²
    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Div_grad_of_divisor(int n) => Grad<DivisorGradOp<T>>(n, null, (x, w) =>
    {
        double[] xd = ToDouble<T>(x), wd = ToDouble<T>(w);
        return (w, x, xd.Select((b, i) => Reference.DivisorGrad(wd[i], b)).ToArray());
    }, 0.5, 2);

    /// <summary>
    /// dx0 + dy·f'(x) for random values, with the destination being dy itself, and with specials planted in x and w and
    /// a NaN in dy.
    /// </summary>
    static void Grad<TOp>(int n, double? p, Build build, double lo, double hi, double factor = 1)
        where TOp : struct, ITernaryOp<T>
    {
        double tol = Tolerance<T>() * factor;
        void Run(T[] a, T[] b, T[] dy, Span<T> destination)
        {
            if (p is null) Simd.Accumulate<T, TOp>(a, b, dy, destination);
            else Simd.Accumulate<T, TOp>(a, b, dy, P(p.Value), destination);
        }
        void Check(T[] x, T[] w, T[] dy, T[] dx0, bool destinationIsDy, string label)
        {
            var (a, b, derivative) = build(x, w);
            T[] d;
            if (destinationIsDy) { d = dy; Run(a, b, dy, dy); }
            else { d = Guarded<T>(n, dx0); Run(a, b, dy, d); GuardIntact(d, n, label); }
            double[] dyd = ToDouble<T>(dy == d ? dx0 : dy), d0 = ToDouble<T>(dx0);
            var expected = new double[n]; var scale = new double[n];
            for (int i = 0; i < n; i++)
            {
                double g = dyd[i] * derivative[i];
                expected[i] = d0[i] + g;
                scale[i] = Math.Abs(d0[i]) + Math.Abs(g);
            }
            Close<T>(expected, d.AsSpan(0, n), scale, tol, label);
        }

        var x = Uniform<T>(n, 100 + n, lo, hi);
        var w = Uniform<T>(n, 150 + n, 0.5, 2);
        var dy = Uniform<T>(n, 200 + n, -2, 2);
        Check(x, w, dy, Uniform<T>(n, 300 + n, -1, 1), false, "random");
        var dyCopy = (T[])dy.Clone();
        Check(x, w, dyCopy, (T[])dy.Clone(), true, "in place (destination = dy)");

        var xs = (T[])x.Clone(); Plant(xs, seed: n);
        var ws = (T[])w.Clone(); Plant(ws, seed: 1000 + n);
        var dys = (T[])dy.Clone(); Plant(dys, seed: 2000 + n, [double.NaN]);
        Check(xs, ws, dys, Uniform<T>(n, 300 + n, -1, 1), false, "specials");
    }

    /// <summary>Simd.Apply writes what Simd.Accumulate adds to zeros, at every length (NaN planted in x and dy, stale
    /// NaN in the destination).</summary>
    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Apply_writes_what_accumulate_adds(int n)
    {
        var x = Uniform<T>(n, 400 + n, -2, 2); var dy = Uniform<T>(n, 500 + n, -2, 2);
        Plant(x, n, [double.NaN, double.PositiveInfinity]); Plant(dy, n + 1, [double.NaN]);
        var added = new T[n];
        Simd.Accumulate<T, LeakyReluGradOp<T>>(x, x, dy, P(0.2), added);
        var written = Guarded<T>(n, Enumerable.Repeat(T.NaN, n).ToArray());
        Simd.Apply<T, LeakyReluGradOp<T>>(x, x, dy, P(0.2), written.AsSpan(0, n));
        Close<T>(ToDouble<T>(added), written.AsSpan(0, n), default, 0, "apply vs accumulate");
        GuardIntact(written, n, "apply");
        if (n > 0) Assert.Throws<ArgumentException>(() => Simd.Apply<T,
            LeakyReluGradOp<T>>(x, x, dy, P(0.2), new T[n - 1]), "short destination");
    }

    [Test]
    public void Relu_grad_at_the_kink()
    {
        T[] x = [P(-1), P(-0.0), P(0.0), P(1)], one = [P(1), P(1), P(1), P(1)];
        var relu = new T[4]; var leaky = new T[4];
        Simd.Accumulate<T, LeakyReluGradOp<T>>(x, x, one, T.Zero, relu);
        Simd.Accumulate<T, LeakyReluGradOp<T>>(x, x, one, P(0.25), leaky);
        Close<T>([0, 0, 0, 1], relu, default, 0, "relu'");
        Close<T>([0.25, 0.25, 0.25, 1], leaky, default, 0, "leaky relu'");
    }

    // ---- argument checks ----

    [Test]
    public void Map_throws_for_too_short_destination()
    {
        var ex = Assert.Throws<ArgumentException>(() => Simd.Map<T, ReluOp<T>>(new T[17], new T[16]));
        Assert.That(ex!.ParamName, Is.EqualTo("destination"));
        Assert.Throws<ArgumentException>(() => Simd.Map<T, LeakyReluOp<T>>(new T[1], P(0.2), Span<T>.Empty));
    }

    [Test]
    public void Accumulate_throws_for_too_short_destination_or_unequal_inputs()
    {
        var ex = Assert.Throws<ArgumentException>(() => Simd.Accumulate<T, MulAccOp<T>>(new T[17], new T[17], new T[17],
            T.One, new T[16]));
        Assert.That(ex!.ParamName, Is.EqualTo("destination"));
        Assert.Throws<ArgumentException>(() => Simd.Accumulate<T, MulAccOp<T>>(new T[17], new T[17], new T[16], T.One,
            new T[17]));
        Assert.Throws<ArgumentException>(() => Simd.Accumulate<T, SigmoidGradOp<T>>(new T[17], new T[18], new T[17],
            new T[17]));
    }
}
