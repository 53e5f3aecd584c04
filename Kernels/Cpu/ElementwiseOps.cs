using System.Numerics;
using System.Runtime.Intrinsics;

namespace InfoVae.Kernels.Cpu;

// Op structs for Simd.Map (forward, f(x, p)) and Simd.Accumulate (backward, dx += f(a, b, dy, p)).
// Transcendental forwards (exp, log, sigmoid, tanh, ...) go through TensorPrimitives, which is generic over
// float and double and vectorised; these structs cover what TensorPrimitives has no single call for.

/// <summary>x > 0 ? x : 0, with NaN kept.</summary>
public readonly struct ReluOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    // x > 0 ? x : 0 written as a select so that NaN stays NaN (a max would be free to drop it).
    /// <inheritdoc/>
    public static T Invoke(T x, T p) => x > T.Zero || T.IsNaN(x) ? x : T.Zero;
    /// <inheritdoc/>
    public static Vector512<T> Invoke(Vector512<T> x, Vector512<T> p)
        => Vector512.ConditionalSelect(Vector512.LessThanOrEqual(x, Vector512<T>.Zero), Vector512<T>.Zero, x);
    /// <inheritdoc/>
    public static Vector256<T> Invoke(Vector256<T> x, Vector256<T> p)
        => Vector256.ConditionalSelect(Vector256.LessThanOrEqual(x, Vector256<T>.Zero), Vector256<T>.Zero, x);
}

/// <summary>x > 0 ? x : p·x.</summary>
public readonly struct LeakyReluOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T x, T p) => x > T.Zero || T.IsNaN(x) ? x : p * x;
    /// <inheritdoc/>
    public static Vector512<T> Invoke(Vector512<T> x, Vector512<T> p)
        => Vector512.ConditionalSelect(Vector512.LessThanOrEqual(x, Vector512<T>.Zero), p * x, x);
    /// <inheritdoc/>
    public static Vector256<T> Invoke(Vector256<T> x, Vector256<T> p)
        => Vector256.ConditionalSelect(Vector256.LessThanOrEqual(x, Vector256<T>.Zero), p * x, x);
}

/// <summary>x + p.</summary>
public readonly struct AddScalarOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T x, T p) => x + p;
    /// <inheritdoc/>
    public static Vector512<T> Invoke(Vector512<T> x, Vector512<T> p) => x + p;
    /// <inheritdoc/>
    public static Vector256<T> Invoke(Vector256<T> x, Vector256<T> p) => x + p;
}

/// <summary>x · p.</summary>
public readonly struct MulScalarOp<T> : IUnaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T x, T p) => x * p;
    /// <inheritdoc/>
    public static Vector512<T> Invoke(Vector512<T> x, Vector512<T> p) => x * p;
    /// <inheritdoc/>
    public static Vector256<T> Invoke(Vector256<T> x, Vector256<T> p) => x * p;
}

/// <summary>
/// dx += dy · (x > 0 ? 1 : p): relu (p = 0) and leaky relu backward; a = x. The gradient at x = 0 is p.
/// </summary>
public readonly struct LeakyReluGradOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T x, T _, T dy, T p) => x > T.Zero ? dy : p * dy;
    /// <inheritdoc/>
    public static Vector512<T> Invoke(Vector512<T> x, Vector512<T> _, Vector512<T> dy, Vector512<T> p)
        => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<T>.Zero), dy, p * dy);
    /// <inheritdoc/>
    public static Vector256<T> Invoke(Vector256<T> x, Vector256<T> _, Vector256<T> dy, Vector256<T> p)
        => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<T>.Zero), dy, p * dy);
}

/// <summary>dx += dy · y · (1 − y): sigmoid backward from the saved output y (b).</summary>
public readonly struct SigmoidGradOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T _, T y, T dy, T p) => dy * y * (T.One - y);
    /// <inheritdoc/>
    public static Vector512<T> Invoke(Vector512<T> _, Vector512<T> y, Vector512<T> dy, Vector512<T> p)
        => dy * y * (Vector512<T>.One - y);
    /// <inheritdoc/>
    public static Vector256<T> Invoke(Vector256<T> _, Vector256<T> y, Vector256<T> dy, Vector256<T> p)
        => dy * y * (Vector256<T>.One - y);
}

/// <summary>dx += dy · (1 − y²): tanh backward from the saved output y (b).</summary>
public readonly struct TanhGradOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T _, T y, T dy, T p) => dy * (T.One - y * y);
    /// <inheritdoc/>
    public static Vector512<T> Invoke(Vector512<T> _, Vector512<T> y, Vector512<T> dy, Vector512<T> p)
        => dy * (Vector512<T>.One - y * y);
    /// <inheritdoc/>
    public static Vector256<T> Invoke(Vector256<T> _, Vector256<T> y, Vector256<T> dy, Vector256<T> p)
        => dy * (Vector256<T>.One - y * y);
}

/// <summary>
/// dst += a · c · p (a product rule term: exp backward is dy·y, mul backward is dy·other, scale is dy·s).
/// </summary>
public readonly struct MulAccOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T a, T _, T c, T p) => a * c * p;
    /// <inheritdoc/>
    public static Vector512<T> Invoke(Vector512<T> a, Vector512<T> _, Vector512<T> c, Vector512<T> p) => a * c * p;
    /// <inheritdoc/>
    public static Vector256<T> Invoke(Vector256<T> a, Vector256<T> _, Vector256<T> c, Vector256<T> p) => a * c * p;
}

/// <summary>dst += p · c / a (log backward: dy / x with p = 1; sqrt backward: dy / y with p = 1/2).</summary>
public readonly struct DivAccOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T a, T _, T c, T p) => p * c / a;
    /// <inheritdoc/>
    public static Vector512<T> Invoke(Vector512<T> a, Vector512<T> _, Vector512<T> c, Vector512<T> p) => p * c / a;
    /// <inheritdoc/>
    public static Vector256<T> Invoke(Vector256<T> a, Vector256<T> _, Vector256<T> c, Vector256<T> p) => p * c / a;
}

/// <summary>db += −dy · a / b² (the divisor's gradient of a / b): a = a, b = b, c = dy.</summary>
public readonly struct DivisorGradOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T a, T b, T dy, T p) => -dy * a / (b * b);
    /// <inheritdoc/>
    public static Vector512<T> Invoke(Vector512<T> a, Vector512<T> b, Vector512<T> dy, Vector512<T> p)
        => -dy * a / (b * b);
    /// <inheritdoc/>
    public static Vector256<T> Invoke(Vector256<T> a, Vector256<T> b, Vector256<T> dy, Vector256<T> p)
        => -dy * a / (b * b);
}

/// <summary>
/// dst += max(a, 0) − b·a, the linear part of BCE with logits a = z and targets b = t, written per side as
/// z > 0 ? (1 − t)·z : −t·z. That form needs no ∞ − ∞ at z = ±∞, and for large z with t near 1 it multiplies by
/// the exact 1 − t instead of cancelling z − t·z. A side whose weight is exactly 0 contributes 0 even when z is
/// infinite (cross-entropy's 0·log 0 = 0), so z = +∞ with t = 1 has loss 0, not NaN.
/// </summary>
public readonly struct BceLinearOp<T> : ITernaryOp<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <inheritdoc/>
    public static T Invoke(T z, T t, T _, T p)
    {
        T w = z > T.Zero ? T.One - t : -t;
        return w == T.Zero ? T.Zero : w * z;
    }

    /// <inheritdoc/>
    public static Vector512<T> Invoke(Vector512<T> z, Vector512<T> t, Vector512<T> _, Vector512<T> p)
    {
        var w = Vector512.ConditionalSelect(Vector512.GreaterThan(z, Vector512<T>.Zero), Vector512<T>.One - t, -t);
        return Vector512.ConditionalSelect(Vector512.Equals(w, Vector512<T>.Zero), Vector512<T>.Zero, w * z);
    }

    /// <inheritdoc/>
    public static Vector256<T> Invoke(Vector256<T> z, Vector256<T> t, Vector256<T> _, Vector256<T> p)
    {
        var w = Vector256.ConditionalSelect(Vector256.GreaterThan(z, Vector256<T>.Zero), Vector256<T>.One - t, -t);
        return Vector256.ConditionalSelect(Vector256.Equals(w, Vector256<T>.Zero), Vector256<T>.Zero, w * z);
    }
}
