using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution in channels-last layout (PyTorch's Conv2d, dilation 1, groups 1, on channels_last memory):
    /// x (N, H, W, C), w (OC, KH, KW, C), b (OC) → y (N, OH, OW, OC) with OH = ⌊(H + 2·pad − KH)/stride⌋ + 1.
    /// As one GEMM: y (Rows, OC) = bias rows + cols·Wᵀ with cols = im2col(x) (Rows, KH·KW·C), W seen as
    /// (OC, KH·KW·C) and Rows = N·OH·OW. Backward: dW += dyᵀ·cols, db += Σ_rows dy, dx += col2im(dy·W).
    /// The backend fuses im2col and col2im into the GEMMs (<see cref="IBackend{T}.ConvForward"/>), so cols is never
    /// kept: the backward builds it again, chunk by chunk.
    /// </summary>
    public static Tensor<T> Conv2d<T>(Tensor<T> x, Tensor<T> w, Tensor<T>? b, int stride, int pad)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SameBackend(x, w);
        if (b != null) SameBackend(x, b);
        if (x.Shape.Rank != 4) throw new ArgumentException($"conv2d: x {x.Shape} must be (N, H, W, C), channels-last");
        if (w.Shape.Rank != 4) throw new ArgumentException($"conv2d: weight {w.Shape} must be (OC, KH, KW, C)");
        if (w.Shape[3] != x.Shape[3])
            throw new ArgumentException($"conv2d: weight {w.Shape} (OC, KH, KW, C) has C = {w.Shape[3]}, but x "
                + $"{x.Shape} has C = {x.Shape[3]} channels");
        int oc = w.Shape[0];
        if (b != null && (b.Shape.Rank != 1 || b.Shape[0] != oc))
            throw new ArgumentException($"conv2d: bias {b.Shape} must be ({oc}) for weight {w.Shape}");
        var g = ConvGeometry.Conv(x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], w.Shape[1], w.Shape[2], stride, pad);
        x = x.Contiguous(); w = w.Contiguous();
        var be = x.Backend;
        var y = TapeOf<T>().Node("conv2d", new Shape(g.N, g.OH, g.OW, oc), be, x, w, b);
        Stride(y) = stride; Pad(y) = pad;
        var y2 = Window(Scratch<T>.A, y.Storage, be, y.Offset, new Shape(g.Rows, oc), oc);   // (Rows, OC)
        if (b != null) be.CopyRows(Window(Scratch<T>.B, b.Storage, be, b.Offset, y2.Shape, 0), y2, accumulate: false);
        be.ConvForward(x, g, w, y2, b != null ? T.One : T.Zero);
        if (y.RequiresGrad) y.BackwardFn = static y => Conv2dBackward(y);
        return y;
    }

    static void Conv2dBackward<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Tensor<T> x = First(y), w = Second(y);
        var be = y.Backend;
        int oc = w.Shape[0];
        var g = ConvGeometry.Conv(x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], w.Shape[1], w.Shape[2], Stride(y),
            Pad(y));
        var dy = AsMatrix(Scratch<T>.A, y.Grad!, g.Rows, oc);                                  // (Rows, OC)
        if (w.RequiresGrad)
        {
            var dw = w.GradForWrite(out bool overwrite);
            be.ConvWeightGrad(x, g, dy, dw, accumulate: !overwrite);
        }
        if (Third(y) is { RequiresGrad: true } bias)
            be.Sum(dy, 0, bias.GradForWrite(out bool overwrite), T.One, accumulate: !overwrite);
        if (x.RequiresGrad) be.ConvBackwardData(dy, w, g, x.GradForWrite(out bool overwrite), accumulate: !overwrite);
    }

    /// <summary>A contiguous tensor's elements seen as a (rows, cols) matrix, through a throwaway window.</summary>
    static Tensor<T> AsMatrix<T>(Tensor<T> scratch, Tensor<T> t, int rows, int cols)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        Window(scratch, t.Storage, t.Backend, t.Offset, new Shape(rows, cols), cols);

    /// <summary>A convolution's stride and padding (conv2d's and conv-transpose2d's).</summary>
    static ref int Stride<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.I0;
    static ref int Pad<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.I1;
}
