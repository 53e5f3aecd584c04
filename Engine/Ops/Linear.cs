using System.Numerics;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// y = x·Wᵀ + b with x (B, in), W (out, in) as PyTorch stores it, b (out); with <paramref name="relu"/>,
    /// y = max(x·Wᵀ + b, 0). Bias and ReLU are the GEMM's epilogue (the last stores of each tile), so neither costs a
    /// pass over y, and the numbers are those of the separate ops. dx += dz·W, dW += dzᵀ·x, db += Σ_rows dz with
    /// dz = dy, or dz = dy·(y > 0) for the ReLU (written once into scratch).
    /// </summary>
    public static Tensor<T> Linear<T>(Tensor<T> x, Tensor<T> w, Tensor<T>? b, bool relu = false) where T : unmanaged,
        IFloatingPointIeee754<T>
    {
        SameBackend(x, w);
        if (x.Shape.Rank != 2 || w.Shape.Rank != 2 || x.Shape[1] != w.Shape[1])
            throw new ArgumentException($"linear: x {x.Shape} and W {w.Shape} (out, in) do not fit");
        if (b != null && (b.Shape.Rank != 1 || b.Shape[0] != w.Shape[0]))
            throw new ArgumentException($"linear: bias {b.Shape} does not match W {w.Shape}");
        x = x.Contiguous();
        if (b != null) b = b.Contiguous();
        var be = x.Backend;
        var y = TapeOf<T>().Node(relu ? "linear+relu" : "linear", new Shape(x.Shape[0], w.Shape[0]), be, x, w, b);
        FusedRelu(y) = relu;
        be.Matmul(x, false, w, true, y, T.One, T.Zero, b, relu);
        if (y.RequiresGrad)
            y.BackwardFn = static y =>
            {
                var be = y.Backend;
                var dz = y.Grad!;
                Storage<T>? masked = null;
                if (FusedRelu(y))
                {
                    masked = be.Rent(y.Length);
                    dz = Window(Scratch<T>.D, masked, be, 0, y.Shape, y.Shape.Last);
                    // y > 0 exactly where x·Wᵀ + b > 0
                    be.UnaryBackward<UnaryOps.Relu>(y, y, y.Grad!, dz, T.Zero, accumulate: false);
                }
                MatmulBackward(First(y), false, Second(y), true, dz);
                if (Third(y) is { RequiresGrad: true } bias) be.Sum(dz, 0, bias.GradForWrite(out bool overwrite), T.One,
                    accumulate: !overwrite);
                if (masked != null) be.Return(masked);
            };
        return y;
    }

    /// <summary>Whether the ReLU is fused into this linear layer.</summary>
    static ref bool FusedRelu<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.F0;
}
