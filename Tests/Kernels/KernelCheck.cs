using System.Numerics;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// Shared pieces of the SIMD kernel tests, after .NET's TensorPrimitives tests: every length 0..70, random inputs
/// made in T (so the double reference sees exactly the kernel's inputs), special values planted at random
/// positions, and a comparison |actual − expected| ≤ tolerance · scale whose scale is the size of what the kernel
/// added up (|expected| for one rounding, Σ|terms| for a sum), so cancellation cannot make a bound too tight.
/// </summary>
public static class KernelCheck
{
    /// <summary>
    /// 0..70: every tail of a Vector512 loop (16 floats, 8 doubles) and of a Vector256 one, several times over.
    /// </summary>
    public static IEnumerable<int> Lengths() => Enumerable.Range(0, 71);

    /// <summary>Unit roundoff: half an ulp of 1.</summary>
    public const double FloatUnit = 5.9604644775390625E-08, DoubleUnit = 1.1102230246251565E-16;   // 2^-24, 2^-53

    /// <summary>
    /// 8 units of roundoff (2^-21, 2^-50): TensorPrimitives' DefaultFloatTolerance and its double twin.
    /// </summary>
    public const double FloatTolerance = 8 * FloatUnit, DoubleTolerance = 8 * DoubleUnit;

    public static double Unit<T>() => typeof(T) == typeof(float) ? FloatUnit : DoubleUnit;
    public static double Tolerance<T>() => typeof(T) == typeof(float) ? FloatTolerance : DoubleTolerance;

    /// <summary>Higham's bound for a sum of n rounded terms plus a few roundings around it: (n + 4) units.</summary>
    public static double SumTolerance<T>(int n) => (n + 4) * Unit<T>();

    /// <summary>Uniform values in [lo, hi), rounded to T.</summary>
    public static T[] Uniform<T>(int n, int seed, double lo, double hi) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new Random(seed);
        var a = new T[n];
        for (int i = 0; i < n; i++) a[i] = T.CreateTruncating(lo + (hi - lo) * r.NextDouble());
        return a;
    }

    public static double[] ToDouble<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = new double[x.Length];
        for (int i = 0; i < x.Length; i++) d[i] = double.CreateTruncating(x[i]);
        return d;
    }

    public static T[] FromDouble<T>(ReadOnlySpan<double> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = new T[x.Length];
        for (int i = 0; i < x.Length; i++) d[i] = T.CreateTruncating(x[i]);
        return d;
    }

    public static readonly double[] Specials = [double.NaN, double.PositiveInfinity, double.NegativeInfinity, -0.0];

    /// <summary>
    /// Writes NaN, +∞, −∞ and −0 (as many as fit) at distinct random positions of x; returns the positions.
    /// </summary>
    public static int[] Plant<T>(T[] x, int seed, double[]? values = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        values ??= Specials;
        var r = new Random(seed);
        var at = Enumerable.Range(0, x.Length).OrderBy(_ => r.Next()).Take(values.Length).ToArray();
        for (int k = 0; k < at.Length; k++) x[at[k]] = T.CreateTruncating(values[k]);
        return at;
    }

    /// <summary>
    /// Every element: NaN expected ⇔ NaN got; an infinite expected value is matched exactly; with
    /// <paramref name="zeroSign"/>, an expected ±0 must come back with its sign; otherwise
    /// |actual − expected| ≤ tolerance · scale[i] (scale null: |expected|).
    /// </summary>
    public static void Close<T>(ReadOnlySpan<double> expected, ReadOnlySpan<T> actual, ReadOnlySpan<double> scale,
        double tolerance,
        string label, bool zeroSign = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{label}: length");
        for (int i = 0; i < expected.Length; i++)
        {
            double e = expected[i], a = double.CreateTruncating(actual[i]);
            string? why = null;
            if (double.IsNaN(e) || double.IsNaN(a))
            {
                if (!(double.IsNaN(e) && double.IsNaN(a))) why = "NaN must meet NaN";
            }
            else if (double.IsInfinity(e) || double.IsInfinity(a)) { if (a != e) why = "infinities must match"; }
            else if (zeroSign && e == 0)
            {
                if (a != 0 || double.IsNegative(a) != double.IsNegative(e)) why = "a zero must keep its sign";
            }
            else
            {
                double s = scale.IsEmpty ? Math.Abs(e) : scale[i], err = Math.Abs(a - e);
                if (err > tolerance * s) why = $"error {err:G3} > {tolerance:G3} · {s:G3}";
            }
            if (why != null)
                Assert.Fail($"{label} ({typeof(T).Name}, n={expected.Length}): [{i}] expected {e:R} got {a:R}: {why}");
        }
    }

    /// <summary>The same bits, element by element (NaN payloads included): in-place and re-run comparisons.</summary>
    public static void Identical<T>(ReadOnlySpan<T> expected, ReadOnlySpan<T> actual, string label)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{label}: length");
        for (int i = 0; i < expected.Length; i++)
            if (!Bits(expected[i]).Equals(Bits(actual[i])))
                Assert.Fail($"{label} ({typeof(T).Name}, n={expected.Length}): [{i}] expected {expected[i]} got "
                    + $"{actual[i]} (bits differ)");
    }

    static long Bits<T>(T v) where T : unmanaged, IFloatingPointIeee754<T> =>
        typeof(T) == typeof(float) ? BitConverter.SingleToInt32Bits(float.CreateTruncating(v))
            : BitConverter.DoubleToInt64Bits(double.CreateTruncating(v));

    /// <summary>
    /// A sentinel written past the end of every destination; a kernel that writes beyond n overwrites it.
    /// </summary>
    public const double Sentinel = 12345.678;
    public const int Guard = 5;

    /// <summary>
    /// A destination of n elements (from <paramref name="initial"/> or zeros) followed by <see cref="Guard"/>
    /// sentinels.
    /// </summary>
    public static T[] Guarded<T>(int n, ReadOnlySpan<T> initial = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = new T[n + Guard];
        initial.CopyTo(d);
        for (int i = n; i < d.Length; i++) d[i] = T.CreateTruncating(Sentinel);
        return d;
    }

    public static void GuardIntact<T>(T[] d, int n, string label) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = n; i < d.Length; i++)
            Assert.That(double.CreateTruncating(d[i]),
                Is.EqualTo(double.CreateTruncating(T.CreateTruncating(Sentinel))),
                $"{label}: wrote past the end at [{i}] (n={n})");
    }
}
