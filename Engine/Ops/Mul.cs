using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>a · b elementwise, broadcasting. ∂/∂a = b, ∂/∂b = a.</summary>
    public static Tensor<T> Mul<T>(Tensor<T> a, Tensor<T> b) where T : unmanaged, IFloatingPointIeee754<T>
        => Binary<T, BinaryOps.Mul>(a, b);
}
