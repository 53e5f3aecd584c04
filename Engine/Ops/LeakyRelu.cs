using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>x for x > 0, else slope·x. ∂ = 1 for x > 0, else slope (slope at the kink x = 0).</summary>
    public static Tensor<T> LeakyRelu<T>(this Tensor<T> x, double slope = 0.01)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Unary<T, UnaryOps.LeakyRelu>(x, T.CreateTruncating(slope));
}
