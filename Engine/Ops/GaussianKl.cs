using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// KL(N(mu, exp(logvar)) ‖ N(0, I)) per row: −½ Σ_j (1 + lv − mu² − exp(lv)) over the last axis, fused.
    /// ∂/∂mu = mu, ∂/∂lv = ½ (exp(lv) − 1).
    /// </summary>
    public static Tensor<T> GaussianKl<T>(Tensor<T> mu, Tensor<T> logvar) where T : unmanaged, IFloatingPointIeee754<T>
    {
        SameBackend(mu, logvar);
        if (mu.Shape != logvar.Shape || mu.Shape.Rank == 0)
            throw new ArgumentException($"kl: mu {mu.Shape} and logvar {logvar.Shape} must match");
        mu = mu.Contiguous(); logvar = logvar.Contiguous();
        var y = TapeOf<T>().Node("gaussian_kl", mu.Shape.Without(mu.Shape.Rank - 1), mu.Backend, mu, logvar);
        mu.Backend.GaussianKl(mu, logvar, y);
        if (y.RequiresGrad)
            y.BackwardFn = static y => y.Backend.GaussianKlBackward(First(y), Second(y), y.Grad!,
                GradIfNeeded(First(y)), GradIfNeeded(Second(y)));
        return y;
    }
}
