using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>The same elements under another shape: a view, no copy. ∂: dx += dy read in x's shape.</summary>
    public static Tensor<T> Reshape<T>(this Tensor<T> x, Shape shape) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (shape.Length != x.Length)
            throw new ArgumentException($"cannot reshape {x.Shape} ({x.Length} elements) to {shape}");
        x = x.Contiguous();
        var y = TapeOf<T>().ViewNode("reshape", x, shape, x.Offset, shape.Last);
        if (y.RequiresGrad)
            y.BackwardFn = static y =>
            {
                var g = y.Grad!;
                var x = First(y);
                var asX = Window(Scratch<T>.A, g.Storage, g.Backend, g.Offset, x.Shape, x.Shape.Last);
                // a fresh gradient is copied into, not cleared and added to
                var dx = x.GradForWrite(out bool overwrite);
                y.Backend.CopyRows(asX, dx, accumulate: !overwrite);
            };
        return y;
    }

    // params ReadOnlySpan: the dimensions go on the stack (an int[] here cost the conv step 170 B a step).
    /// <see cref="Reshape{T}(Tensor{T}, Shape)"/> with the dimensions given one by one.
    public static Tensor<T> Reshape<T>(this Tensor<T> x, params ReadOnlySpan<int> dims) where T : unmanaged,
        IFloatingPointIeee754<T> => x.Reshape(new Shape(dims));
}
