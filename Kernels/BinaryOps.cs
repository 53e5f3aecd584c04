using System.Numerics;
using System.Numerics.Tensors;
using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Gpu;

namespace InfoVae.Kernels;

/// <summary>
/// One elementwise op of two inputs with NumPy broadcasting, for both backends: c = a ∘ b and its two partial
/// derivatives times the upstream gradient dy. The GPU compiles the scalar float members of
/// <see cref="IGpuBinaryOp"/>; the CPU runs the span members below, generic over float and double.
/// </summary>
public interface IBinaryFunction : IGpuBinaryOp
{
    /// <summary>The op's name on the tape and in reports.</summary>
    static abstract string Name { get; }

    /// <summary>c = a ∘ b for equal shapes.</summary>
    static abstract void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>c = a ∘ b over a broadcast index space (c is dense in it).</summary>
    static abstract void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, BroadcastIndex s)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>da += dy·∂c/∂a for equal shapes.</summary>
    static abstract void BackwardA<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> da)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>db += dy·∂c/∂b for equal shapes.</summary>
    static abstract void BackwardB<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> db)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>term = dy·∂c/∂a at every element of the output (the caller sums it over a's repeated axes).</summary>
    static abstract void GradATerm<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> term,
        BroadcastIndex s) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>term = dy·∂c/∂b at every element of the output (the caller sums it over b's repeated axes).</summary>
    static abstract void GradBTerm<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> term,
        BroadcastIndex s) where T : unmanaged, IFloatingPointIeee754<T>;
}

/// <summary>
/// The binary ops. Each struct holds its GPU scalar forward and partial derivatives and its CPU span forms:
/// TensorPrimitives for equal shapes, the loops of <see cref="Broadcast"/> otherwise.
/// </summary>
public static class BinaryOps
{
    /// <summary>a + b.</summary>
    public readonly struct Add : IBinaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "add";
        /// <inheritdoc/>
        public static float Forward(float a, float b) => a + b;
        /// <inheritdoc/>
        public static float GradA(float a, float b, float dy) => dy;
        /// <inheritdoc/>
        public static float GradB(float a, float b, float dy) => dy;
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c)
            where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(a, b, c);
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, BroadcastIndex s)
            where T : unmanaged, IFloatingPointIeee754<T> => Broadcast.Binary<T, AddOp<T>>(a, s.A, b, s.B, s.Dims, c);
        /// <inheritdoc/>
        public static void BackwardA<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> da)
            where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(da, dy, da);
        /// <inheritdoc/>
        public static void BackwardB<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> db)
            where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(db, dy, db);
        /// <inheritdoc/>
        public static void GradATerm<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> term,
            BroadcastIndex s) where T : unmanaged, IFloatingPointIeee754<T> => dy.CopyTo(term);
        /// <inheritdoc/>
        public static void GradBTerm<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> term,
            BroadcastIndex s) where T : unmanaged, IFloatingPointIeee754<T> => dy.CopyTo(term);
    }

    /// <summary>a − b.</summary>
    public readonly struct Sub : IBinaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "sub";
        /// <inheritdoc/>
        public static float Forward(float a, float b) => a - b;
        /// <inheritdoc/>
        public static float GradA(float a, float b, float dy) => dy;
        /// <inheritdoc/>
        public static float GradB(float a, float b, float dy) => -dy;
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c)
            where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Subtract(a, b, c);
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, BroadcastIndex s)
            where T : unmanaged, IFloatingPointIeee754<T> => Broadcast.Binary<T, SubOp<T>>(a, s.A, b, s.B, s.Dims, c);
        /// <inheritdoc/>
        public static void BackwardA<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> da)
            where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(da, dy, da);
        /// <inheritdoc/>
        public static void BackwardB<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> db)
            where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Subtract(db, dy, db);
        /// <inheritdoc/>
        public static void GradATerm<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> term,
            BroadcastIndex s) where T : unmanaged, IFloatingPointIeee754<T> => dy.CopyTo(term);
        /// <inheritdoc/>
        public static void GradBTerm<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> term,
            BroadcastIndex s) where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Negate(dy, term);
    }

    /// <summary>a · b.</summary>
    public readonly struct Mul : IBinaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "mul";
        /// <inheritdoc/>
        public static float Forward(float a, float b) => a * b;
        /// <inheritdoc/>
        public static float GradA(float a, float b, float dy) => dy * b;
        /// <inheritdoc/>
        public static float GradB(float a, float b, float dy) => dy * a;
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c)
            where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Multiply(a, b, c);
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, BroadcastIndex s)
            where T : unmanaged, IFloatingPointIeee754<T> => Broadcast.Binary<T, MulOp<T>>(a, s.A, b, s.B, s.Dims, c);
        /// <inheritdoc/>
        public static void BackwardA<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> da)
            where T : unmanaged, IFloatingPointIeee754<T> => Simd.Accumulate<T, MulAccOp<T>>(b, b, dy, T.One, da);
        /// <inheritdoc/>
        public static void BackwardB<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> db)
            where T : unmanaged, IFloatingPointIeee754<T> => Simd.Accumulate<T, MulAccOp<T>>(a, a, dy, T.One, db);
        /// <inheritdoc/>
        public static void GradATerm<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> term,
            BroadcastIndex s) where T : unmanaged, IFloatingPointIeee754<T> =>
            Broadcast.Binary<T, MulOp<T>>(dy, s.Dense, b, s.B, s.Dims, term);
        /// <inheritdoc/>
        public static void GradBTerm<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> term,
            BroadcastIndex s) where T : unmanaged, IFloatingPointIeee754<T> =>
            Broadcast.Binary<T, MulOp<T>>(dy, s.Dense, a, s.A, s.Dims, term);
    }

    /// <summary>a / b; ∂c/∂b = −a/b².</summary>
    public readonly struct Div : IBinaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "div";
        /// <inheritdoc/>
        public static float Forward(float a, float b) => a / b;
        /// <inheritdoc/>
        public static float GradA(float a, float b, float dy) => dy / b;
        /// <inheritdoc/>
        public static float GradB(float a, float b, float dy) => -dy * a / (b * b);
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c)
            where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Divide(a, b, c);
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, BroadcastIndex s)
            where T : unmanaged, IFloatingPointIeee754<T> => Broadcast.Binary<T, DivOp<T>>(a, s.A, b, s.B, s.Dims, c);
        /// <inheritdoc/>
        public static void BackwardA<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> da)
            where T : unmanaged, IFloatingPointIeee754<T> => Simd.Accumulate<T, DivAccOp<T>>(b, b, dy, T.One, da);
        /// <inheritdoc/>
        public static void BackwardB<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> db)
            where T : unmanaged, IFloatingPointIeee754<T> => Simd.Accumulate<T, DivisorGradOp<T>>(a, b, dy, db);
        /// <inheritdoc/>
        public static void GradATerm<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> term,
            BroadcastIndex s) where T : unmanaged, IFloatingPointIeee754<T> =>
            Broadcast.Binary<T, DivOp<T>>(dy, s.Dense, b, s.B, s.Dims, term);

        // −(dy·a)/(b·b), rounded as the three passes it replaces (dy·a, then b·b, a quotient, a negation).
        /// <inheritdoc/>
        public static void GradBTerm<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, ReadOnlySpan<T> dy, Span<T> term,
            BroadcastIndex s) where T : unmanaged, IFloatingPointIeee754<T>
        {
            Broadcast.Binary<T, MulOp<T>>(dy, s.Dense, a, s.A, s.Dims, term);
            Broadcast.Binary<T, NegDivSquareOp<T>>(term, s.Dense, b, s.B, s.Dims, term);
        }
    }
}
