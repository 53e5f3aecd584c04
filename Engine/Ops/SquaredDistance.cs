using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// Pairwise squared distances D[i, j] = max(0, ‖a_i‖² + ‖b_j‖² − 2 a_i·b_j) of a (n, d) and b (m, d), never through
    /// a sqrt. ∂D_ij/∂a_i = 2(a_i − b_j) where D_ij > 0; no gradient where the clamp holds it at 0.
    /// </summary>
    public static Tensor<T> SquaredDistance<T>(Tensor<T> a, Tensor<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        SameBackend(a, b);
        if (a.Shape.Rank != 2 || b.Shape.Rank != 2 || a.Shape[1] != b.Shape[1])
            throw new ArgumentException($"squared distance needs (n, d) and (m, d), not {a.Shape} and {b.Shape}");
        a = a.Contiguous(); b = b.Contiguous();
        var y = TapeOf<T>().Node("sqdist", new Shape(a.Shape[0], b.Shape[0]), a.Backend, a, b);
        a.Backend.SquaredDistance(a, b, y);
        if (y.RequiresGrad)
            y.BackwardFn = static y => y.Backend.SquaredDistanceBackward(First(y), Second(y), y, y.Grad!,
                GradIfNeeded(First(y)), GradIfNeeded(Second(y)));
        return y;
    }
}
