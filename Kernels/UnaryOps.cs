using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using ILGPU.Algorithms;
using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Gpu;

namespace InfoVae.Kernels;

/// <summary>
/// One elementwise op of one input (tinygrad's Function), for both backends: y = f(x, p) and dx += dy·f'(x), where p
/// is the op's scalar (a leaky-ReLU slope, the scalar of AddScalar), ignored by the others. The GPU compiles the
/// scalar float members it inherits from <see cref="IGpuUnaryOp"/>; the CPU runs the span members, generic over
/// float and double so that gradient checks run the same code in double.
/// </summary>
public interface IUnaryFunction : IGpuUnaryOp
{
    /// <summary>The op's name on the tape and in reports (snake case: "leaky_relu").</summary>
    static abstract string Name { get; }

    /// <summary>y = f(x, p) over x's length; x and y are not empty.</summary>
    static abstract void Forward<T>(ReadOnlySpan<T> x, Span<T> y, T p) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>dx += dy·f'(x), from the input x or the saved output y.</summary>
    static abstract void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T p)
        where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>
    /// dx = dy·f'(x) in one pass, for a gradient that is logically zero but not cleared; false when the op has no such
    /// kernel, and the caller clears dx and calls <see cref="Backward"/> instead.
    /// </summary>
    static virtual bool BackwardOverwrite<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T p)
        where T : unmanaged, IFloatingPointIeee754<T> => false;
}

/// <summary>
/// The unary ops. Each struct holds its GPU scalar forward and backward and its CPU span forward and backward: the
/// CPU side calls TensorPrimitives where it has the function and the lanes of Kernels/Cpu/ElementwiseOps.cs through
/// <see cref="Simd"/> otherwise. References: Kernels/Reference/ElementwiseReference.cs.
/// </summary>
public static class UnaryOps
{
    /// <summary>−x.</summary>
    public readonly struct Neg : IUnaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "neg";
        /// <inheritdoc/>
        public static float Forward(float x, float p) => -x;
        /// <inheritdoc/>
        public static float Backward(float x, float y, float dy, float p) => -dy;
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, T p)
            where T : unmanaged, IFloatingPointIeee754<T> =>
            TensorPrimitives.Negate(x, y);
        /// <inheritdoc/>
        public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T p)
            where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Subtract(dx, dy, dx);
    }

    /// <summary>eˣ; its derivative is the saved output.</summary>
    public readonly struct Exp : IUnaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "exp";
        /// <inheritdoc/>
        public static float Forward(float x, float p) => XMath.Exp(x);
        /// <inheritdoc/>
        public static float Backward(float x, float y, float dy, float p) => dy * y;
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, T p)
            where T : unmanaged, IFloatingPointIeee754<T> =>
            TensorPrimitives.Exp(x, y);
        /// <inheritdoc/>
        public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T p)
            where T : unmanaged, IFloatingPointIeee754<T> => Simd.Accumulate<T, MulAccOp<T>>(y, y, dy, T.One, dx);
    }

    /// <summary>ln x; d/dx = 1/x.</summary>
    public readonly struct Log : IUnaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "log";
        /// <inheritdoc/>
        public static float Forward(float x, float p) => XMath.Log(x);
        /// <inheritdoc/>
        public static float Backward(float x, float y, float dy, float p) => dy / x;
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, T p)
            where T : unmanaged, IFloatingPointIeee754<T> =>
            TensorPrimitives.Log(x, y);
        /// <inheritdoc/>
        public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T p)
            where T : unmanaged, IFloatingPointIeee754<T> => Simd.Accumulate<T, DivAccOp<T>>(x, x, dy, T.One, dx);
    }

    /// <summary>√x; d/dx = 1/(2y) from the saved output.</summary>
    public readonly struct Sqrt : IUnaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "sqrt";
        /// <inheritdoc/>
        public static float Forward(float x, float p) => XMath.Sqrt(x);
        /// <inheritdoc/>
        public static float Backward(float x, float y, float dy, float p) => 0.5f * dy / y;
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, T p)
            where T : unmanaged, IFloatingPointIeee754<T> =>
            TensorPrimitives.Sqrt(x, y);
        /// <inheritdoc/>
        public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T p)
            where T : unmanaged, IFloatingPointIeee754<T> =>
            Simd.Accumulate<T, DivAccOp<T>>(y, y, dy, T.CreateTruncating(0.5), dx);
    }

    /// <summary>
    /// x > 0 ? x : 0, NaN kept. The gradient at x = 0 is 0. Backward: x > 0 ? dy : 0·dy (<see
    /// cref="LeakyReluGradOp{T}"/> with slope 0): a NaN upstream gradient stays NaN where x ≤ 0 (so anomaly checks see
    /// it; PyTorch's threshold_backward would give 0), and 0·dy keeps the sign of zero. Neither RyuJIT nor ILGPU's IR
    /// builder folds a float 0·dy to 0 (the builder folds integer ×0 only); the PTX compile test checks the multiply is
    /// there.
    /// </summary>
    public readonly struct Relu : IUnaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "relu";
        /// <inheritdoc/>
        public static float Forward(float x, float p) => x > 0f || XMath.IsNaN(x) ? x : 0f;
        /// <inheritdoc/>
        public static float Backward(float x, float y, float dy, float p) => x > 0f ? dy : 0f * dy;
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, T p)
            where T : unmanaged, IFloatingPointIeee754<T> =>
            Simd.Map<T, ReluOp<T>>(x, y);
        /// <inheritdoc/>
        public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T p)
            where T : unmanaged, IFloatingPointIeee754<T> => Simd.Accumulate<T, LeakyReluGradOp<T>>(x, x, dy, T.Zero,
                dx);
        /// <inheritdoc/>
        public static bool BackwardOverwrite<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx,
            T p)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            Simd.Apply<T, LeakyReluGradOp<T>>(x, x, dy, T.Zero, dx);
            return true;
        }
    }

    /// <summary>x > 0 ? x : p·x, NaN kept. The gradient at x = 0 is p.</summary>
    public readonly struct LeakyRelu : IUnaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "leaky_relu";
        /// <inheritdoc/>
        public static float Forward(float x, float p) => x > 0f || XMath.IsNaN(x) ? x : p * x;
        /// <inheritdoc/>
        public static float Backward(float x, float y, float dy, float p) => x > 0f ? dy : p * dy;
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, T p)
            where T : unmanaged, IFloatingPointIeee754<T> =>
            Simd.Map<T, LeakyReluOp<T>>(x, p, y);
        /// <inheritdoc/>
        public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T p)
            where T : unmanaged, IFloatingPointIeee754<T> => Simd.Accumulate<T, LeakyReluGradOp<T>>(x, x, dy, p, dx);
        /// <inheritdoc/>
        public static bool BackwardOverwrite<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx,
            T p)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            Simd.Apply<T, LeakyReluGradOp<T>>(x, x, dy, p, dx);
            return true;
        }
    }

    /// <summary>σ(x) = 1/(1 + e⁻ˣ); d/dx = y(1 − y) from the saved output.</summary>
    public readonly struct Sigmoid : IUnaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "sigmoid";
        /// <inheritdoc/>
        public static float Forward(float x, float p) => GpuMath.Sigmoid(x);
        /// <inheritdoc/>
        public static float Backward(float x, float y, float dy, float p) => dy * y * (1f - y);
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, T p)
            where T : unmanaged, IFloatingPointIeee754<T> =>
            TensorPrimitives.Sigmoid(x, y);
        /// <inheritdoc/>
        public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T p)
            where T : unmanaged, IFloatingPointIeee754<T> => Simd.Accumulate<T, SigmoidGradOp<T>>(x, y, dy, dx);
    }

    /// <summary>tanh x; d/dx = 1 − y² from the saved output.</summary>
    public readonly struct Tanh : IUnaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "tanh";
        /// <inheritdoc/>
        public static float Forward(float x, float p) => GpuMath.Tanh(x);
        /// <inheritdoc/>
        public static float Backward(float x, float y, float dy, float p) => dy * (1f - y * y);

        // Not TensorPrimitives.Tanh (System.Numerics.Tensors 10.0.0): near 0 it is far off (tanh(0) = −6e-8 in
        // float, tanh of a tiny double is −0; Tests/Engine/UnaryForwardTests). No model uses tanh, so the C
        // library's, element by element, within an ulp.
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, T p) where T : unmanaged, IFloatingPointIeee754<T>
        {
            for (int i = 0; i < x.Length; i++) y[i] = T.Tanh(x[i]);
        }

        /// <inheritdoc/>
        public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T p)
            where T : unmanaged, IFloatingPointIeee754<T> => Simd.Accumulate<T, TanhGradOp<T>>(x, y, dy, dx);
    }

    /// <summary>softplus(x) = log(1 + eˣ); d/dx = σ(x).</summary>
    public readonly struct Softplus : IUnaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "softplus";
        /// <inheritdoc/>
        public static float Forward(float x, float p) => GpuMath.Softplus(x);
        /// <inheritdoc/>
        public static float Backward(float x, float y, float dy, float p) => dy * GpuMath.Sigmoid(x);
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, T p)
            where T : unmanaged, IFloatingPointIeee754<T> =>
            Losses.Softplus(x, y);

        // σ(x) over the whole length in one TensorPrimitives call (a chunked one could take its scalar path on a short
        // tail and change the last bit); the scratch comes from the shared pool, so a warm step allocates nothing.
        /// <inheritdoc/>
        public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T p)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            var scratch = ArrayPool<T>.Shared.Rent(x.Length);
            var s = scratch.AsSpan(0, x.Length);
            TensorPrimitives.Sigmoid(x, s);
            TensorPrimitives.MultiplyAdd(s, dy, dx, dx);
            ArrayPool<T>.Shared.Return(scratch);
        }
    }

    /// <summary>x + p.</summary>
    public readonly struct AddScalar : IUnaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "add_scalar";
        /// <inheritdoc/>
        public static float Forward(float x, float p) => x + p;
        /// <inheritdoc/>
        public static float Backward(float x, float y, float dy, float p) => dy;
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, T p)
            where T : unmanaged, IFloatingPointIeee754<T> =>
            Simd.Map<T, AddScalarOp<T>>(x, p, y);
        /// <inheritdoc/>
        public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T p)
            where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.Add(dx, dy, dx);
    }

    /// <summary>x·p.</summary>
    public readonly struct MulScalar : IUnaryFunction
    {
        /// <inheritdoc/>
        public static string Name => "mul_scalar";
        /// <inheritdoc/>
        public static float Forward(float x, float p) => x * p;
        /// <inheritdoc/>
        public static float Backward(float x, float y, float dy, float p) => dy * p;
        /// <inheritdoc/>
        public static void Forward<T>(ReadOnlySpan<T> x, Span<T> y, T p)
            where T : unmanaged, IFloatingPointIeee754<T> =>
            Simd.Map<T, MulScalarOp<T>>(x, p, y);
        /// <inheritdoc/>
        public static void Backward<T>(ReadOnlySpan<T> x, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, T p)
            where T : unmanaged, IFloatingPointIeee754<T> => TensorPrimitives.MultiplyAdd(dy, p, dx, dx);
    }
}
