using ILGPU;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

/// <summary>An elementwise op on the GPU: y = Forward(x, p); its backward is dx += Backward(x, y, dy, p).</summary>
public interface IGpuUnaryOp
{
    /// <summary>y = f(x, p).</summary>
    static abstract float Forward(float x, float p);
    /// <summary>dy · f'(x), from the input x or the saved output y, whichever is cheaper and stable.</summary>
    static abstract float Backward(float x, float y, float dy, float p);
}

/// <summary>
/// Elementwise unary kernels over N floats, one thread per element, generic over the op struct (the ops are in
/// Kernels/UnaryOps.cs, next to their CPU forms). p is the op's scalar, ignored by most.
/// </summary>
public static class UnaryKernels
{
    /// <summary>y[i] = f(x[i], p).</summary>
    public static void MapKernel<TOp>(Index1D i, ArrayView<float> x, ArrayView<float> y, float p)
        where TOp : struct, IGpuUnaryOp =>
        y[i] = TOp.Forward(x[i], p);

    /// <summary>dx[i] += dy[i]·f'(x[i]), from x or the saved output y.</summary>
    public static void MapBackwardKernel<TOp>(Index1D i, ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy,
        ArrayView<float> dx, float p)
        where TOp : struct, IGpuUnaryOp =>
        dx[i] += TOp.Backward(x[i], y[i], dy[i], p);
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
    public void MapBackward<TOp>(ArrayView<float> x, ArrayView<float> y, ArrayView<float> dy, ArrayView<float> dx,
        float p) where TOp : struct, IGpuUnaryOp
    {
        if (dx.Length == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            float>(UnaryKernels.MapBackwardKernel<TOp>)(Stream, (int)dx.Length, x, y, dy, dx, p);
    }
}
