using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>ln(1 + exp(x)), computed as max(x, 0) + log1p(exp(−|x|)). ∂ = σ(x).</summary>
    public static Tensor<T> Softplus<T>(this Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T>
        => Unary<T, UnaryOps.Softplus>(x);
}
