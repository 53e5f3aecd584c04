using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

/// <summary>An elementwise op on the GPU: y = Forward(x, p); its backward is dx += Backward(x, y, dy, p).</summary>
public interface IGpuUnaryOp
{
    static abstract float Forward(float x, float p);
    /// <summary>dy · f'(x), from the input x or the saved output y, whichever is cheaper and stable.</summary>
    static abstract float Backward(float x, float y, float dy, float p);
}

/// <summary>
/// Elementwise unary kernels over N floats, one thread per element, and the ops of Engine's UnaryOp.
/// p is the op's scalar (leaky relu slope, the scalar of AddScalar/MulScalar), ignored by the others.
/// Semantics mirror Engine/Cpu/CpuBackend.Unary and UnaryBackward.
/// </summary>
public static class UnaryKernels
{
    public static void MapKernel<TOp>(Index1D i, ArrayView<float> x, ArrayView<float> y, float p) where TOp : struct, IGpuUnaryOp =>
        y[i] = TOp.Forward(x[i], p);

    public static void MapBackwardKernel<TOp>(Index1D i, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, float p)
        where TOp : struct, IGpuUnaryOp =>
        dx[i] += TOp.Backward(x[i], y[i], dy[i], p);

    public readonly struct Neg : IGpuUnaryOp
    {
        public static float Forward(float x, float p) => -x;
        public static float Backward(float x, float y, float dy, float p) => -dy;
    }

    public readonly struct Exp : IGpuUnaryOp
    {
        public static float Forward(float x, float p) => XMath.Exp(x);
        public static float Backward(float x, float y, float dy, float p) => dy * y;
    }

    public readonly struct Log : IGpuUnaryOp
    {
        public static float Forward(float x, float p) => XMath.Log(x);
        public static float Backward(float x, float y, float dy, float p) => dy / x;
    }

    public readonly struct Sqrt : IGpuUnaryOp
    {
        public static float Forward(float x, float p) => XMath.Sqrt(x);
        public static float Backward(float x, float y, float dy, float p) => 0.5f * dy / y;
    }

    /// <summary>
    /// x > 0 ? x : 0, NaN kept. The gradient at x = 0 is 0. Backward: x > 0 ? dy : 0·dy, as the CPU's
    /// LeakyReluGradOp with slope 0: a NaN upstream gradient stays NaN where x ≤ 0 (so anomaly checks see it; PyTorch's
    /// threshold_backward would give 0), and 0·dy keeps the CPU's sign of zero. Neither RyuJIT nor ILGPU's IR builder
    /// folds a float 0·dy to 0 (the builder folds integer ×0 only); the PTX compile test checks the multiply is there.
    /// </summary>
    public readonly struct Relu : IGpuUnaryOp
    {
        public static float Forward(float x, float p) => x > 0f || XMath.IsNaN(x) ? x : 0f;
        public static float Backward(float x, float y, float dy, float p) => x > 0f ? dy : 0f * dy;
    }

    /// <summary>x > 0 ? x : p·x, NaN kept. The gradient at x = 0 is p.</summary>
    public readonly struct LeakyRelu : IGpuUnaryOp
    {
        public static float Forward(float x, float p) => x > 0f || XMath.IsNaN(x) ? x : p * x;
        public static float Backward(float x, float y, float dy, float p) => x > 0f ? dy : p * dy;
    }

    public readonly struct Sigmoid : IGpuUnaryOp
    {
        public static float Forward(float x, float p) => GpuMath.Sigmoid(x);
        public static float Backward(float x, float y, float dy, float p) => dy * y * (1f - y);
    }

    public readonly struct Tanh : IGpuUnaryOp
    {
        public static float Forward(float x, float p) => GpuMath.Tanh(x);
        public static float Backward(float x, float y, float dy, float p) => dy * (1f - y * y);
    }

    /// <summary>softplus(x) = log(1 + eˣ); d/dx = σ(x).</summary>
    public readonly struct Softplus : IGpuUnaryOp
    {
        public static float Forward(float x, float p) => GpuMath.Softplus(x);
        public static float Backward(float x, float y, float dy, float p) => dy * GpuMath.Sigmoid(x);
    }

    public readonly struct AddScalar : IGpuUnaryOp
    {
        public static float Forward(float x, float p) => x + p;
        public static float Backward(float x, float y, float dy, float p) => dy;
    }

    public readonly struct MulScalar : IGpuUnaryOp
    {
        public static float Forward(float x, float p) => x * p;
        public static float Backward(float x, float y, float dy, float p) => dy * p;
    }
}

public sealed partial class GpuKernels
{
    /// <summary>y = op(x, p) over y's length.</summary>
    public void Map<TOp>(ArrayView<float> x, ArrayView<float> y, float p) where TOp : struct, IGpuUnaryOp
    {
        if (y.Length == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, float>(UnaryKernels.MapKernel<TOp>)(Stream, (int)y.Length, x, y, p);
    }

    /// <summary>dx += op'(x, y) · dy over dx's length.</summary>
    public void MapBackward<TOp>(ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx, float p) where TOp : struct, IGpuUnaryOp
    {
        if (dx.Length == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, float>(UnaryKernels.MapBackwardKernel<TOp>)(Stream, (int)dx.Length, x, y, dy, dx, p);
    }
}
