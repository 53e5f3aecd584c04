using System.Numerics;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// MMD²(x, y) between samples x (n, d) and y (m, d) as one fused op (see <see cref="MmdSpec"/>). Forward and
    /// backward stream over tiles of pairs: the backward recomputes distances instead of keeping an n × m matrix.
    /// </summary>
    public static Tensor<T> Mmd<T>(Tensor<T> x, Tensor<T> y, MmdSpec spec) where T : unmanaged, IFloatingPointIeee754<T>
    {
        SameBackend(x, y);
        if (x.Shape.Rank != 2 || y.Shape.Rank != 2 || x.Shape[1] != y.Shape[1])
            throw new ArgumentException($"mmd needs (n, d) and (m, d), not {x.Shape} and {y.Shape}");
        spec.Validate(x.Shape[0], y.Shape[0]);
        x = x.Contiguous(); y = y.Contiguous();
        var r = TapeOf<T>().Node("mmd", Shape.Scalar, x.Backend, x, y);
        SetSpec(r, spec);
        x.Backend.Mmd(x, y, spec, r);
        if (r.RequiresGrad)
            r.BackwardFn = static r => r.Backend.MmdBackward(First(r), Second(r), Spec(r), r.Grad!,
                GradIfNeeded(First(r)), GradIfNeeded(Second(r)));
        return r;
    }

    /// <summary>The kernel settings the forward ran with.</summary>
    static MmdSpec Spec<T>(Tensor<T> r) where T : unmanaged, IFloatingPointIeee754<T> => (MmdSpec)r.State!;
    static void SetSpec<T>(Tensor<T> r, MmdSpec spec) where T : unmanaged, IFloatingPointIeee754<T> => r.State = spec;
}
