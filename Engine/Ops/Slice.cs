using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// Columns [start, start + length) of the last axis, as a strided view (e.g. mu and logvar out of the encoder's
    /// output). ∂: dy is added into that window of dx.
    /// </summary>
    public static Tensor<T> Slice<T>(this Tensor<T> x, int start, int length)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int last = x.Shape.Last;
        if (x.Shape.Rank == 0 || start < 0 || length < 0 || start + length > last)
            throw new ArgumentException($"slice [{start}, {start + length}) is outside the last axis of {x.Shape}");
        var y = TapeOf<T>().ViewNode("slice", x, x.Shape.With(x.Shape.Rank - 1, length), x.Offset + start, x.RowStride);
        Start(y) = start;
        if (y.RequiresGrad)
            y.BackwardFn = static y =>
            {
                var gx = First(y).GradOrZeros();
                var window = Window(Scratch<T>.A, gx.Storage, gx.Backend, gx.Offset + Start(y), y.Shape, gx.Shape.Last);
                y.Backend.CopyRows(y.Grad!, window, accumulate: true);
            };
        return y;
    }

    /// <summary>The slice's first column.</summary>
    static ref int Start<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.I0;
}
