using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>x + s. ∂ = 1.</summary>
    public static Tensor<T> AddScalar<T>(this Tensor<T> x, T s) where T : unmanaged, IFloatingPointIeee754<T>
        => Unary<T, UnaryOps.AddScalar>(x, s);

    /// <summary>x · s. ∂ = s.</summary>
    public static Tensor<T> MulScalar<T>(this Tensor<T> x, T s) where T : unmanaged, IFloatingPointIeee754<T>
        => Unary<T, UnaryOps.MulScalar>(x, s);
}
