using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// 2-D transposed convolution in channels-last layout (PyTorch's ConvTranspose2d, dilation 1, groups 1):
    /// x (N, IH, IW, Cin), w (Cin, KH, KW, Cout), b (Cout) → y (N, OH, OW, Cout) with
    /// OH = (IH − 1)·stride − 2·pad + KH + outputPad (0 ≤ outputPad &lt; stride). It is the adjoint of Conv2d with
    /// the same weight: cols (N·IH·IW, KH·KW·Cout) = x·W with W seen as (Cin, KH·KW·Cout), y = bias + col2im(cols).
    /// Backward: dcols = im2col(dy), dx += dcols·Wᵀ, dW += xᵀ·dcols, db += Σ_rows dy. cols is pooled and
    /// handed back inside each call (the backward recomputes what it needs from dy).
    /// </summary>
    public static Tensor<T> ConvTranspose2d<T>(Tensor<T> x, Tensor<T> w, Tensor<T>? b, int stride, int pad, int outputPad = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SameBackend(x, w);
        if (b != null) SameBackend(x, b);
        if (x.Shape.Rank != 4) throw new ArgumentException($"conv_transpose2d: x {x.Shape} must be (N, H, W, C), channels-last");
        if (w.Shape.Rank != 4) throw new ArgumentException($"conv_transpose2d: weight {w.Shape} must be (Cin, KH, KW, Cout)");
        if (w.Shape[0] != x.Shape[3])
            throw new ArgumentException($"conv_transpose2d: weight {w.Shape} (Cin, KH, KW, Cout) has Cin = {w.Shape[0]}, but x {x.Shape} has C = {x.Shape[3]} channels");
        int cin = w.Shape[0], cout = w.Shape[3];
        if (b != null && (b.Shape.Rank != 1 || b.Shape[0] != cout)) throw new ArgumentException($"conv_transpose2d: bias {b.Shape} must be ({cout}) for weight {w.Shape}");
        var g = ConvGeometry.Transposed(x.Shape[0], x.Shape[1], x.Shape[2], cout, w.Shape[1], w.Shape[2], stride, pad, outputPad);
        x = x.Contiguous(); w = w.Contiguous();
        var be = x.Backend;
        var y = TapeOf<T>().Node("conv_transpose2d", new Shape(g.N, g.H, g.W, cout), be, x, w, b);
        y.I0 = stride; y.I1 = pad; y.I2 = outputPad;
        var cols = be.Rent(g.ColsLength);
        var c2 = Window(Scratch<T>.C, cols, be, 0, new Shape(g.Rows, g.PatchLength), g.PatchLength);   // (N·IH·IW, KH·KW·Cout)
        be.Matmul(AsMatrix(Scratch<T>.A, x, g.Rows, cin), false, AsMatrix(Scratch<T>.B, w, cin, g.PatchLength), false, c2, T.One, T.Zero);
        if (b != null) be.CopyRows(Window(Scratch<T>.A, b.Storage, be, b.Offset, new Shape(g.N * g.H * g.W, cout), 0), y, accumulate: false);
        else be.Fill(y, T.Zero);
        be.Col2Im(c2, g, y);
        be.Return(cols);
        if (y.RequiresGrad) y.BackwardFn = static y => ConvTranspose2dBackward(y);
        return y;
    }

    static void ConvTranspose2dBackward<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Tensor<T> x = y.A!, w = y.B!;
        var be = y.Backend;
        int cin = w.Shape[0], cout = w.Shape[3];
        var g = ConvGeometry.Transposed(x.Shape[0], x.Shape[1], x.Shape[2], cout, w.Shape[1], w.Shape[2], y.I0, y.I1, y.I2);
        if (y.C is { RequiresGrad: true } bias)
            be.Sum(AsMatrix(Scratch<T>.A, y.Grad!, g.N * g.H * g.W, cout), 0, bias.GradOrZeros(), T.One, accumulate: true);
        if (!x.RequiresGrad && !w.RequiresGrad) return;
        var dcols = be.Rent(g.ColsLength);
        var dc = Window(Scratch<T>.C, dcols, be, 0, new Shape(g.Rows, g.PatchLength), g.PatchLength);   // (N·IH·IW, KH·KW·Cout)
        be.Im2Col(y.Grad!, g, dc);
        if (x.RequiresGrad)
            be.Matmul(dc, false, AsMatrix(Scratch<T>.B, w, cin, g.PatchLength), true, AsMatrix(Scratch<T>.A, x.GradOrZeros(), g.Rows, cin), T.One, T.One);
        if (w.RequiresGrad)
            be.Matmul(AsMatrix(Scratch<T>.A, x, g.Rows, cin), true, dc, false, AsMatrix(Scratch<T>.B, w.GradOrZeros(), cin, g.PatchLength), T.One, T.One);
        be.Return(dcols);
    }
}
