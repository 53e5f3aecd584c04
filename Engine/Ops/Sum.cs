using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// Σ of every element (a scalar), or along <paramref name="axis"/> (that axis removed). ∂ = 1 broadcast back.
    /// </summary>
    public static Tensor<T> Sum<T>(this Tensor<T> x, int? axis = null)
        where T : unmanaged, IFloatingPointIeee754<T> => Reduction("sum", x, axis, T.One);

    /// <summary>
    /// scale · Σ of every element, one node: the float operations of Sum() * scale (Σ, then × scale; ∂ = scale
    /// broadcast back), without the second node's launches, forward and backward, on a GPU.
    /// </summary>
    public static Tensor<T> ScaledSum<T>(this Tensor<T> x, T scale) where T : unmanaged, IFloatingPointIeee754<T> =>
        Reduction("scaled_sum", x, null, scale);

    /// <summary>The mean of every element, or along <paramref name="axis"/>. ∂ = 1/count broadcast back.</summary>
    public static Tensor<T> Mean<T>(this Tensor<T> x, int? axis = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int count = axis is int a ? x.Shape[x.Shape.NormalizeAxis(a)] : x.Length;
        return Reduction("mean", x, axis, T.One / T.CreateTruncating(Math.Max(count, 1)));
    }

    static Tensor<T> Reduction<T>(string name, Tensor<T> x, int? axis, T scale)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        x = x.Contiguous();
        int ax = axis is int a ? x.Shape.NormalizeAxis(a) : -1;
        var y = TapeOf<T>().Node(name, ax < 0 ? Shape.Scalar : x.Shape.Without(ax), x.Backend, x);
        SumAxis(y) = ax; SumScale(y) = scale;
        x.Backend.Sum(x, ax, y, scale, accumulate: false);
        if (y.RequiresGrad)
            y.BackwardFn = static y => y.Backend.SumBackward(y.Grad!, SumAxis(y), First(y).GradOrZeros(), SumScale(y));
        return y;
    }

    /// <summary>The axis reduced (−1: every element) and the scale applied after the sum.</summary>
    static ref int SumAxis<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.I0;
    static ref T SumScale<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.P;
}
