using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>ln(x). ∂ = 1/x.</summary>
    public static Tensor<T> Log<T>(this Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T>
        => Unary<T, UnaryOps.Log>(x);
}
