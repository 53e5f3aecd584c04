using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// Cross-entropy of target weights t under softmax(logits), per row: logits, t (B, C) → (B), with
    /// loss[r] = Σ_c t[r,c]·(logsumexp(z[r,:]) − z[r,c]); one-hot t gives −log softmax(z)[label] (PyTorch's
    /// cross_entropy with reduction='none'). Fused and shifted by the row maximum, so it is finite for any finite
    /// logits. ∂/∂z = softmax(z)·Σ_c t_c − t, ∂/∂t = −log softmax(z).
    /// </summary>
    public static Tensor<T> SoftmaxCrossEntropy<T>(Tensor<T> logits, Tensor<T> target)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SameBackend(logits, target);
        if (logits.Shape.Rank != 2 || logits.Shape != target.Shape)
            throw new ArgumentException($"softmax cross-entropy: logits {logits.Shape} and targets {target.Shape} "
                + $"must be the same (B, C)");
        logits = logits.Contiguous(); target = target.Contiguous();
        var y = TapeOf<T>().Node("softmax_cross_entropy", new Shape(logits.Shape[0]), logits.Backend, logits, target);
        logits.Backend.SoftmaxCrossEntropy(logits, target, y);
        if (y.RequiresGrad)
            y.BackwardFn = static y => y.Backend.SoftmaxCrossEntropyBackward(y.A!, y.B!, y.Grad!,
                y.A!.RequiresGrad ? y.A.GradOrZeros() : null, y.B!.RequiresGrad ? y.B.GradOrZeros() : null);
        return y;
    }
}
