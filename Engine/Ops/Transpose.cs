using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>xᵀ of a 2-D tensor, as a copy. ∂: dx += dyᵀ.</summary>
    public static Tensor<T> Transpose<T>(this Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.Shape.Rank != 2) throw new ArgumentException($"transpose needs a 2-D tensor, not {x.Shape}");
        x = x.Contiguous();
        var y = TapeOf<T>().Node("transpose", new Shape(x.Shape[1], x.Shape[0]), x.Backend, x);
        x.Backend.Transpose(x, y, accumulate: false);
        if (y.RequiresGrad)
            y.BackwardFn = static y => y.Backend.Transpose(y.Grad!, First(y).GradOrZeros(), accumulate: true);
        return y;
    }
}
