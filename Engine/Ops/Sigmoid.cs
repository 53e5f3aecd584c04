using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>1/(1 + exp(−x)). ∂ = y(1 − y) from the saved output.</summary>
    public static Tensor<T> Sigmoid<T>(this Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T>
        => Unary<T, UnaryOps.Sigmoid>(x);
}
