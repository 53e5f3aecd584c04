using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>−x. ∂ = −1.</summary>
    public static Tensor<T> Neg<T>(this Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T> => Unary("neg", UnaryOp.Neg, x);
}
