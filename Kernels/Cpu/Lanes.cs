using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// The vector operations the tile kernels need, at one register width: kernels are written once over
/// <c>TL</c> and instantiated at 512 bits (<see cref="Lanes512{T}"/>) or 256 bits (<see cref="Lanes256{T}"/>).
/// TV is the vector of T, TD a vector of double for sums that must not lose precision.
/// </summary>
internal unsafe interface ILanes<T, TV, TD>
    where T : unmanaged, IFloatingPointIeee754<T> where TV : struct where TD : struct
{
    static abstract int Count { get; }
    static abstract TV Zero { get; }
    static abstract TD WideZero { get; }
    static abstract TV Create(T x);
    static abstract TV Load(T* p);
    static abstract void Store(TV v, T* p);
    static abstract TV Add(TV a, TV b);
    static abstract TV Sub(TV a, TV b);
    static abstract TV Mul(TV a, TV b);
    static abstract TV Div(TV a, TV b);
    /// <summary>a·b + c, one rounding.</summary>
    static abstract TV Fma(TV a, TV b, TV c);
    /// <summary>v &lt; 0 ? 0 : v; NaN stays NaN.</summary>
    static abstract TV ClampNegative(TV v);
    /// <summary>t ≤ 0 ? 0 : w; a NaN t keeps w.</summary>
    static abstract TV ZeroWhereNotPositive(TV t, TV w);
    /// <summary>t = +∞ ? 0 : v.</summary>
    static abstract TV ZeroWhereInfinite(TV t, TV v);
    static abstract TV Exp(TV v);
    static abstract T Sum(TV v);
    /// <summary>acc + v with v widened to double (float lanes are split into two double vectors).</summary>
    static abstract TD AddWide(TD acc, TV v);
    static abstract double SumWide(TD acc);
}

internal readonly unsafe struct Lanes512<T> : ILanes<T, Vector512<T>, Vector512<double>>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector512<T>.Count;
    public static Vector512<T> Zero => Vector512<T>.Zero;
    public static Vector512<double> WideZero => Vector512<double>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Create(T x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<T> Load(T* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<T> v, T* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Add(Vector512<T> a, Vector512<T> b)
        => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Sub(Vector512<T> a, Vector512<T> b)
        => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Mul(Vector512<T> a, Vector512<T> b)
        => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Div(Vector512<T> a, Vector512<T> b)
        => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Fma(Vector512<T> a, Vector512<T> b, Vector512<T> c)
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        return a * b + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> ClampNegative(Vector512<T> v)
        => Vector512.ConditionalSelect(Vector512.LessThan(v, Vector512<T>.Zero), Vector512<T>.Zero, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> ZeroWhereNotPositive(Vector512<T> t, Vector512<T> w) =>
        Vector512.ConditionalSelect(Vector512.LessThanOrEqual(t, Vector512<T>.Zero), Vector512<T>.Zero, w);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> ZeroWhereInfinite(Vector512<T> t, Vector512<T> v) =>
        Vector512.ConditionalSelect(Vector512.Equals(t, Vector512.Create(T.PositiveInfinity)), Vector512<T>.Zero, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Exp(Vector512<T> v)
    {
        if (typeof(T) == typeof(float)) return Vector512.Exp(v.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.Exp(v.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Sum(Vector512<T> v) => Vector512.Sum(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> AddWide(Vector512<double> acc, Vector512<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            var (lo, hi) = Vector512.Widen(v.AsSingle());
            return acc + (lo + hi);
        }
        if (typeof(T) == typeof(double)) return acc + v.AsDouble();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumWide(Vector512<double> acc)
        => Vector512.Sum(acc);
}

internal readonly unsafe struct Lanes256<T> : ILanes<T, Vector256<T>, Vector256<double>>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static int Count => Vector256<T>.Count;
    public static Vector256<T> Zero => Vector256<T>.Zero;
    public static Vector256<double> WideZero => Vector256<double>.Zero;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Create(T x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<T> Load(T* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<T> v, T* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Add(Vector256<T> a, Vector256<T> b)
        => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Sub(Vector256<T> a, Vector256<T> b)
        => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Mul(Vector256<T> a, Vector256<T> b)
        => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Div(Vector256<T> a, Vector256<T> b)
        => a / b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Fma(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector256.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        return a * b + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> ClampNegative(Vector256<T> v)
        => Vector256.ConditionalSelect(Vector256.LessThan(v, Vector256<T>.Zero), Vector256<T>.Zero, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> ZeroWhereNotPositive(Vector256<T> t, Vector256<T> w) =>
        Vector256.ConditionalSelect(Vector256.LessThanOrEqual(t, Vector256<T>.Zero), Vector256<T>.Zero, w);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> ZeroWhereInfinite(Vector256<T> t, Vector256<T> v) =>
        Vector256.ConditionalSelect(Vector256.Equals(t, Vector256.Create(T.PositiveInfinity)), Vector256<T>.Zero, v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Exp(Vector256<T> v)
    {
        if (typeof(T) == typeof(float)) return Vector256.Exp(v.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.Exp(v.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static T Sum(Vector256<T> v) => Vector256.Sum(v);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<double> AddWide(Vector256<double> acc, Vector256<T> v)
    {
        if (typeof(T) == typeof(float))
        {
            var (lo, hi) = Vector256.Widen(v.AsSingle());
            return acc + (lo + hi);
        }
        if (typeof(T) == typeof(double)) return acc + v.AsDouble();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double SumWide(Vector256<double> acc)
        => Vector256.Sum(acc);
}
