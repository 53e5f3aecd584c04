using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>x itself if its rows are packed, else a packed copy. ∂: dx += dy.</summary>
    public static Tensor<T> Contiguous<T>(this Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (x.IsContiguous) return x;
        var y = TapeOf<T>().Node("contiguous", x.Shape, x.Backend, x);
        x.Backend.CopyRows(x, y, accumulate: false);
        if (y.RequiresGrad)
            y.BackwardFn = static y => y.Backend.CopyRows(y.Grad!, First(y).GradOrZeros(), accumulate: true);
        return y;
    }
}
