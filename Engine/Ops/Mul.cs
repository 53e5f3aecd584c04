using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>a · b elementwise, broadcasting. ∂/∂a = b, ∂/∂b = a.</summary>
    public static Tensor<T> Mul<T>(Tensor<T> a, Tensor<T> b) where T : unmanaged, IFloatingPointIeee754<T> => Binary("mul", BinaryOp.Mul, a, b);
}
