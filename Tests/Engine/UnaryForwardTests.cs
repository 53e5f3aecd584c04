using System.Numerics;
using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Kernels;
using InfoVae.Kernels.Reference;
using InfoVae.Tests.Kernels;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Engine;

/// <summary>
/// The CPU backend's transcendental forwards (exp, log, sqrt, sigmoid, tanh, neg: TensorPrimitives' vectorised
/// code) against independent double references (Kernels/Reference, the C library's functions), at every length
/// 0..70 so every Vector512/Vector256 body and scalar tail runs, on inputs spread over the whole exponent range and
/// with ±0, subnormals, the largest finite values, ±∞ and NaN planted at positions that move with the length.
/// Errors are counted in units in the last place of T, the reference being rounded to T first (see <see cref="Ulps"/>).
/// </summary>
[TestFixture(typeof(float))]
[TestFixture(typeof(double))]
public class UnaryForwardTests<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    static readonly CpuBackend<T> Cpu = CpuBackend<T>.Instance;
    static readonly bool IsFloat = typeof(T) == typeof(float);

    /// <summary>
    /// Largest error allowed, in representable steps of T between the result and the reference rounded to T. The
    /// reference is within half an ulp of the truth in float (the double result's own error is 2⁻²⁹ of a float ulp)
    /// and within one ulp in double (the C library's exp, log and tanh); TensorPrimitives' exp and log follow
    /// AOCL-LibM, documented to 1 ulp. Two values within 1 ulp and ½ ulp (float) or 1 ulp and 1 ulp (double) of the
    /// same number are at most 2 steps apart: the bound for exp, log and tanh. Sigmoid is 1/(1 + e^−x): e^−x's error
    /// plus two more roundings, each at most ½ ulp of a result no larger than 1, so 3. Sqrt and neg are exact in
    /// IEEE 754: 0. Measured here (AVX-512, AVX2 and scalar paths alike): float exp 2, log 1, tanh 1, sigmoid 2;
    /// double exp 2, log 2, sigmoid 3 (double tanh is the C library's own: 0). One exception, accepted: sigmoid's
    /// e^−x overflows once σ(x) is below the smallest normal (x &lt; −88.7 in float, −709.8 in double), so a
    /// subnormal σ(x) comes back as +0, an absolute error under 1.2e-38 in float.
    /// </summary>
    static long Tolerance(Type op) => op.Name switch
    {
        nameof(UnaryOps.Neg) or nameof(UnaryOps.Sqrt) => 0,
        nameof(UnaryOps.Sigmoid) => 3,
        _ => 2,
    };

    static Func<double, double> ReferenceOf(Type op) => op.Name switch
    {
        nameof(UnaryOps.Exp) => Reference.Exp,
        nameof(UnaryOps.Log) => Reference.Log,
        nameof(UnaryOps.Sqrt) => Reference.Sqrt,
        nameof(UnaryOps.Sigmoid) => Reference.Sigmoid,
        nameof(UnaryOps.Tanh) => Reference.Tanh,
        nameof(UnaryOps.Neg) => Reference.Neg,
        _ => throw new ArgumentOutOfRangeException(nameof(op)),
    };

    static T P(double v) => T.CreateTruncating(v);

    /// <summary>±0, the smallest and largest subnormals, the smallest normal, the largest finite value, ±∞, NaN.
    /// </summary>
    static double[] Specials()
    {
        double eps = double.CreateTruncating(T.Epsilon);
        double minNormal = IsFloat ? 1.1754943508222875E-38 : 2.2250738585072014E-308;
        double maxSub = minNormal - eps, max = IsFloat ? float.MaxValue : double.MaxValue;
        return [0.0, -0.0, eps, -eps, maxSub, -maxSub, minNormal, -minNormal, max, -max,
            double.PositiveInfinity, double.NegativeInfinity, double.NaN];
    }

    /// <summary>
    /// Random values: half spread over every binade of T (subnormals to the largest, both signs), half from the
    /// op's busy range (where exp overflows and underflows to subnormals, where sigmoid and tanh saturate).
    /// </summary>
    static T[] Inputs(Type op, int n, int seed)
    {
        var r = new Random(seed);
        int minExp = IsFloat ? -149 : -1074, maxExp = IsFloat ? 128 : 1024;
        (double Lo, double Hi) busy = op.Name switch
        {
            nameof(UnaryOps.Exp) => IsFloat ? (-110, 95) : (-750, 715),
            nameof(UnaryOps.Sigmoid) => IsFloat ? (-110, 110) : (-750, 750),
            nameof(UnaryOps.Tanh) => (-12, 12),
            _ => (-4, 4),
        };
        var x = new T[n];
        for (int i = 0; i < n; i++)
        {
            double v = i % 2 == 0
                ? (r.Next(2) == 0 ? -1 : 1) * Math.Pow(2, minExp + (maxExp - minExp) * r.NextDouble())
                : busy.Lo + (busy.Hi - busy.Lo) * r.NextDouble();
            x[i] = P(v);
        }
        return x;
    }

    /// <summary>
    /// Distance in representable values of T between <paramref name="a"/> and <paramref name="b"/> (both finite):
    /// the bit patterns mapped to a monotonic integer line: subnormals count like any other ulp; +0 and −0 are 0 apart.
    /// </summary>
    static long Ulps(T a, T b)
    {
        static long Line(T v)
        {
            long bits = IsFloat ? BitConverter.SingleToInt32Bits(float.CreateTruncating(v))
                : BitConverter.DoubleToInt64Bits(double.CreateTruncating(v));
            long sign = IsFloat ? int.MinValue : long.MinValue;
            return IsFloat ? (bits < 0 ? (int.MinValue - (int)bits) : bits) : (bits < 0 ? sign - bits : bits);
        }
        return Math.Abs(Line(a) - Line(b));
    }

    static readonly Type[] Ops =
        [typeof(UnaryOps.Exp), typeof(UnaryOps.Log), typeof(UnaryOps.Sqrt), typeof(UnaryOps.Sigmoid),
            typeof(UnaryOps.Tanh), typeof(UnaryOps.Neg)];

    static IEnumerable<TestCaseData> Cases() =>
        from op in Ops
        from n in KernelCheck.Lengths()
        select new TestCaseData(op, n).SetArgDisplayNames(op.Name, n.ToString());

    [TestCaseSource(nameof(Cases))]
    public void Matches_the_double_reference(Type op, int n)
    {
        var x = Inputs(op, n, 1000 * Array.IndexOf(Seeds, op.Name) + n);
        var specials = Specials();
        // Rotated by n, so each special value lands in a different lane (vector body or tail) as the length changes.
        var planted = Enumerable.Range(0, specials.Length).Select(k => specials[(k + n) % specials.Length]).ToArray();
        KernelCheck.Plant(x, seed: n, planted);
        Check(op, x, $"{op.Name}, n={n}");
    }

    /// <summary>Every special value at every position of a 70-element input: lane 0 to the last tail element.</summary>
    [TestCaseSource(nameof(Ops))]
    public void Special_values_in_every_lane(Type op)
    {
        foreach (double s in Specials())
            for (int at = 0; at < 70; at += 1)
            {
                var x = Inputs(op, 70, 7 + at);
                x[at] = P(s);
                Check(op, x, $"{op.Name}, {s} at [{at}]", only: at);
            }
    }

    static void Check(Type op, T[] input, string label, int? only = null)
    {
        int n = input.Length;
        var x = Tensor<T>.From(input, new Shape(n));
        var y = Tensor<T>.Zeros(new Shape(n));
        OpStructs.Call(typeof(UnaryForwardTests<T>), nameof(Forward), op, x, y);
        var got = y.ToArray();
        x.Dispose(); y.Dispose();
        var f = ReferenceOf(op);
        long tol = Tolerance(op);
        for (int i = only ?? 0; i < (only + 1 ?? n); i++)
        {
            T e = P(f(double.CreateTruncating(input[i]))), a = got[i];
            string? why = null;
            if (T.IsNaN(e) || T.IsNaN(a)) { if (!(T.IsNaN(e) && T.IsNaN(a))) why = "NaN must meet NaN"; }
            else if (T.IsInfinity(e) || T.IsInfinity(a)) { if (a != e) why = "infinities must match"; }
            else if (T.IsZero(e) && T.IsZero(a))
            {
                if (T.IsNegative(e) != T.IsNegative(a)) why = "a zero must keep its sign";
            }
            else if (op == typeof(UnaryOps.Sigmoid) && T.IsZero(a) && T.IsSubnormal(e)) { }   // see Tolerance: flushed
            else
            {
                long ulps = Ulps(e, a);
                if (ulps > tol) why = $"{ulps} ulps > {tol}";
                MaxUlps[op.Name] = Math.Max(MaxUlps.GetValueOrDefault(op.Name), ulps);
            }
            if (why != null)
                Assert.Fail($"{label} ({typeof(T).Name}): [{i}] x = {input[i]:R}: expected {e:R} got {a:R}: {why}");
        }
    }

    static readonly Dictionary<string, long> MaxUlps = [];

    static void Forward<TOp>(Tensor<T> x, Tensor<T> y) where TOp : struct, IUnaryFunction => Cpu.Unary<TOp>(x, y,
        T.Zero);

    /// <summary>The old enum order of these ops, so that each keeps its random inputs (seed 1000·index + n).</summary>
    static readonly string[] Seeds = ["Neg", "Exp", "Log", "Sqrt", "Relu", "LeakyRelu", "Sigmoid", "Tanh"];

    /// <summary>The largest error seen per op, for the tolerance's comment (in the test log).</summary>
    [OneTimeTearDown]
    public void Report()
    {
        foreach (var op in Ops)
            TestContext.Progress.WriteLine(
                $"{typeof(T).Name} {op.Name}: max {MaxUlps.GetValueOrDefault(op.Name)} ulps, tolerance "
                    + $"{Tolerance(op)}");
    }
}
