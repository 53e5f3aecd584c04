using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>max(x, 0). ∂ = 1 for x > 0, else 0 (0 at the kink x = 0, as PyTorch).</summary>
    public static Tensor<T> Relu<T>(this Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T>
        => Unary<T, UnaryOps.Relu>(x);
}
