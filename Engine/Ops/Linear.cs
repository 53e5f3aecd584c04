using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// y = x·Wᵀ + b with x (B, in), W (out, in) as PyTorch stores it, b (out). Bias broadcast and GEMM fused:
    /// the bias is copied into y's rows and the GEMM accumulates onto it. dx += dy·W, dW += dyᵀ·x, db += Σ_rows dy.
    /// </summary>
    public static Tensor<T> Linear<T>(Tensor<T> x, Tensor<T> w, Tensor<T>? b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        SameBackend(x, w);
        if (x.Shape.Rank != 2 || w.Shape.Rank != 2 || x.Shape[1] != w.Shape[1])
            throw new ArgumentException($"linear: x {x.Shape} and W {w.Shape} (out, in) do not fit");
        if (b != null && (b.Shape.Rank != 1 || b.Shape[0] != w.Shape[0])) throw new ArgumentException($"linear: bias {b.Shape} does not match W {w.Shape}");
        x = x.Contiguous();
        var be = x.Backend;
        var y = TapeOf<T>().Node("linear", new Shape(x.Shape[0], w.Shape[0]), be, x, w, b);
        // The bias into every row in one call: a (B, out) window onto b with row stride 0 (one launch on a GPU, not B).
        if (b != null)
            be.CopyRows(Window(Scratch<T>.A, b.Storage, be, b.Offset, y.Shape, 0), y, accumulate: false);
        be.Matmul(x, false, w, true, y, T.One, b != null ? T.One : T.Zero);
        if (y.RequiresGrad)
            y.BackwardFn = static y =>
            {
                MatmulBackward(y.A!, false, y.B!, true, y.Grad!);
                if (y.C is { RequiresGrad: true } bias) y.Backend.Sum(y.Grad!, 0, bias.GradForWrite(out bool overwrite), T.One, accumulate: !overwrite);
            };
        return y;
    }
}
