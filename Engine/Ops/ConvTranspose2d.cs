using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// 2-D transposed convolution in channels-last layout (PyTorch's ConvTranspose2d, dilation 1, groups 1):
    /// x (N, IH, IW, Cin), w (Cin, KH, KW, Cout), b (Cout) → y (N, OH, OW, Cout) with
    /// OH = (IH − 1)·stride − 2·pad + KH + outputPad (0 ≤ outputPad &lt; stride). It is the adjoint of Conv2d with
    /// the same weight: y = bias + col2im(x·W) with W seen as (Cin, KH·KW·Cout) and x as (N·IH·IW, Cin).
    /// Backward, with dcols = im2col(dy): dx += dcols·Wᵀ, dW += xᵀ·dcols, db += Σ_rows dy. The backend fuses
    /// im2col and col2im into the GEMMs (<see cref="IBackend{T}.ConvBackwardData"/>), so neither cols is ever whole.
    /// </summary>
    public static Tensor<T> ConvTranspose2d<T>(Tensor<T> x, Tensor<T> w, Tensor<T>? b, int stride, int pad,
        int outputPad = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SameBackend(x, w);
        if (b != null) SameBackend(x, b);
        if (x.Shape.Rank != 4)
            throw new ArgumentException($"conv_transpose2d: x {x.Shape} must be (N, H, W, C), channels-last");
        if (w.Shape.Rank != 4)
            throw new ArgumentException($"conv_transpose2d: weight {w.Shape} must be (Cin, KH, KW, Cout)");
        if (w.Shape[0] != x.Shape[3])
            throw new ArgumentException($"conv_transpose2d: weight {w.Shape} (Cin, KH, KW, Cout) has Cin = "
                + $"{w.Shape[0]}, but x {x.Shape} has C = {x.Shape[3]} channels");
        int cin = w.Shape[0], cout = w.Shape[3];
        if (b != null && (b.Shape.Rank != 1 || b.Shape[0] != cout))
            throw new ArgumentException($"conv_transpose2d: bias {b.Shape} must be ({cout}) for weight {w.Shape}");
        var g = ConvGeometry.Transposed(x.Shape[0], x.Shape[1], x.Shape[2], cout, w.Shape[1], w.Shape[2], stride, pad,
            outputPad);
        x = x.Contiguous(); w = w.Contiguous();
        var be = x.Backend;
        var y = TapeOf<T>().Node("conv_transpose2d", new Shape(g.N, g.H, g.W, cout), be, x, w, b);
        Stride(y) = stride; Pad(y) = pad; OutputPad(y) = outputPad;
        if (b != null)
            be.CopyRows(Window(Scratch<T>.A, b.Storage, be, b.Offset, new Shape(g.N * g.H * g.W, cout), 0), y,
                accumulate: false);
        be.ConvBackwardData(AsMatrix(Scratch<T>.A, x, g.Rows, cin), w, g, y, accumulate: b != null);
        if (y.RequiresGrad) y.BackwardFn = static y => ConvTranspose2dBackward(y);
        return y;
    }

    static void ConvTranspose2dBackward<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Tensor<T> x = First(y), w = Second(y);
        var be = y.Backend;
        int cin = w.Shape[0], cout = w.Shape[3];
        var g = ConvGeometry.Transposed(x.Shape[0], x.Shape[1], x.Shape[2], cout, w.Shape[1], w.Shape[2], Stride(y),
            Pad(y), OutputPad(y));
        if (Third(y) is { RequiresGrad: true } bias)
            be.Sum(AsMatrix(Scratch<T>.A, y.Grad!, g.N * g.H * g.W, cout), 0, bias.GradForWrite(out bool overwrite),
                T.One, accumulate: !overwrite);
        if (x.RequiresGrad)
        {
            var dx = x.GradForWrite(out bool overwrite);
            be.ConvForward(y.Grad!, g, w, AsMatrix(Scratch<T>.A, dx, g.Rows, cin), overwrite ? T.Zero : T.One);
        }
        if (w.RequiresGrad)
        {
            var dw = w.GradForWrite(out bool overwrite);
            be.ConvWeightGrad(y.Grad!, g, AsMatrix(Scratch<T>.A, x, g.Rows, cin), dw, accumulate: !overwrite);
        }
    }

    /// <summary>The extra rows and columns on the output's far side (stride and pad: Conv2d.cs's accessors).</summary>
    static ref int OutputPad<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.I2;
}
