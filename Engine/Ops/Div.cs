using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>a / b elementwise, broadcasting. ∂/∂a = 1/b, ∂/∂b = −a/b².</summary>
    public static Tensor<T> Div<T>(Tensor<T> a, Tensor<T> b) where T : unmanaged, IFloatingPointIeee754<T>
        => Binary<T, BinaryOps.Div>(a, b);
}
