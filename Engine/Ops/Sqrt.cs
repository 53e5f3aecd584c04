using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>√x. ∂ = 1/(2y).</summary>
    public static Tensor<T> Sqrt<T>(this Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T>
        => Unary<T, UnaryOps.Sqrt>(x);
}
