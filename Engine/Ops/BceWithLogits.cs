using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// Elementwise Bernoulli negative log-likelihood of targets t under logits z: softplus(z) − t·z, fused and
    /// stable for any finite z. ∂/∂z = σ(z) − t, ∂/∂t = −z.
    /// </summary>
    public static Tensor<T> BceWithLogits<T>(Tensor<T> logits, Tensor<T> target)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SameBackend(logits, target);
        if (logits.Shape != target.Shape)
            throw new ArgumentException($"bce: logits {logits.Shape} and targets {target.Shape} differ");
        logits = logits.Contiguous(); target = target.Contiguous();
        var y = TapeOf<T>().Node("bce_with_logits", logits.Shape, logits.Backend, logits, target);
        logits.Backend.BceWithLogits(logits, target, y);
        if (y.RequiresGrad)
            y.BackwardFn = static y => y.Backend.BceWithLogitsBackward(First(y), Second(y), y.Grad!,
                GradIfNeeded(First(y)), GradIfNeeded(Second(y)));
        return y;
    }

    /// <summary>
    /// scale · Σ over every element of <see cref="BceWithLogits{T}"/> (a scalar), fused: no (B, D) tensor of terms,
    /// no sum pass and no broadcast of its gradient; the scale is <see cref="ScaledSum{T}"/>'s (Σ, then × scale, one
    /// node: no second node's launches on a GPU). The terms' sums are added in double (fixed chunks, in order), so
    /// the total can differ from BceWithLogits(...).ScaledSum(scale)'s float sum in its last bits.
    /// ∂/∂z = g·scale·(σ(z) − t), ∂/∂t = −g·scale·z.
    /// </summary>
    public static Tensor<T> BceWithLogitsSum<T>(Tensor<T> logits, Tensor<T> target, T scale) where T : unmanaged,
        IFloatingPointIeee754<T>
    {
        SameBackend(logits, target);
        if (logits.Shape != target.Shape)
            throw new ArgumentException($"bce: logits {logits.Shape} and targets {target.Shape} differ");
        logits = logits.Contiguous(); target = target.Contiguous();
        var y = TapeOf<T>().Node("bce_with_logits_sum", Shape.Scalar, logits.Backend, logits, target);
        BceScale(y) = scale;
        logits.Backend.BceWithLogitsSum(logits, target, y, scale);
        if (y.RequiresGrad)
            y.BackwardFn = static y =>
            {
                Tensor<T> z = First(y), t = Second(y);
                bool overwrite = false;
                var dz = z.RequiresGrad ? z.GradForWrite(out overwrite) : null;
                y.Backend.BceWithLogitsSumBackward(z, t, y.Grad!, BceScale(y), dz, !overwrite,
                    t.RequiresGrad ? t.GradOrZeros() : null);
            };
        return y;
    }

    /// <summary>BceWithLogitsSum's scale.</summary>
    static ref T BceScale<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.P;
}
