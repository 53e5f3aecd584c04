using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>a + b, broadcasting. ∂/∂a = ∂/∂b = 1 (summed over broadcast axes).</summary>
    public static Tensor<T> Add<T>(Tensor<T> a, Tensor<T> b) where T : unmanaged, IFloatingPointIeee754<T>
        => Binary<T, BinaryOps.Add>(a, b);
}
