using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>a − b, broadcasting. ∂/∂a = 1, ∂/∂b = −1.</summary>
    public static Tensor<T> Sub<T>(Tensor<T> a, Tensor<T> b) where T : unmanaged, IFloatingPointIeee754<T>
        => Binary<T, BinaryOps.Sub>(a, b);
}
