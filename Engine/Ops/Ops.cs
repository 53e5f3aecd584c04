using System.Numerics;

namespace InfoVae.Engine;

/// <summary>
/// The ops. Each file under Engine/Ops holds one op: its forward (which records a node on the tape) and the
/// backward function that node runs, side by side. Backward functions are static lambdas, so recording an op
/// allocates nothing. They add (+=) into their inputs' gradients, so a tensor used twice gets both contributions,
/// except where a gradient is logically zero but was never cleared (freshly rented, or after
/// <see cref="Tensor{T}.ZeroGradDeferred"/>): ops that can write every element in one pass (matmul, linear, the
/// convolutions) then overwrite it through <see cref="Tensor{T}.GradForWrite"/>, which saves clearing it first.
/// </summary>
public static partial class Ops
{
    static Tape<T> TapeOf<T>() where T : unmanaged, IFloatingPointIeee754<T> => Tape<T>.Current;

    /// <summary>Elementwise unary op through the backend; its backward is the backend's matching derivative.</summary>
    static Tensor<T> Unary<T>(string name, UnaryOp op, Tensor<T> x, T p = default) where T : unmanaged, IFloatingPointIeee754<T>
    {
        x = x.Contiguous();
        var y = TapeOf<T>().Node(name, x.Shape, x.Backend, x);
        y.P = p; y.I0 = (int)op;
        x.Backend.Unary(op, x, y, p);
        if (y.RequiresGrad)
            y.BackwardFn = static y => y.Backend.UnaryBackward((UnaryOp)y.I0, y.A!, y, y.Grad!, y.A!.GradOrZeros(), y.P);
        return y;
    }

    /// <summary>Elementwise binary op with NumPy broadcasting; the backward sums over broadcast axes.</summary>
    static Tensor<T> Binary<T>(string name, BinaryOp op, Tensor<T> a, Tensor<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        SameBackend(a, b);
        a = a.Contiguous(); b = b.Contiguous();
        var c = TapeOf<T>().Node(name, Shape.Broadcast(a.Shape, b.Shape), a.Backend, a, b);
        c.I0 = (int)op;
        a.Backend.Binary(op, a, b, c);
        if (c.RequiresGrad)
            c.BackwardFn = static c => c.Backend.BinaryBackward((BinaryOp)c.I0, c.A!, c.B!, c.Grad!,
                c.A!.RequiresGrad ? c.A.GradOrZeros() : null, c.B!.RequiresGrad ? c.B.GradOrZeros() : null);
        return c;
    }

    static void SameBackend<T>(Tensor<T> a, Tensor<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!ReferenceEquals(a.Backend, b.Backend))
            throw new InvalidOperationException($"tensors on different backends ({a.Backend.Name}, {b.Backend.Name})");
    }

    /// <summary>A throwaway window object over existing storage, for a backend call; never put on the tape.</summary>
    internal static Tensor<T> Window<T>(Tensor<T> scratch, Storage<T> storage, IBackend<T> backend, int offset, Shape shape, int rowStride)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        scratch.Storage = storage; scratch.Backend = backend; scratch.Offset = offset; scratch.Shape = shape; scratch.RowStride = rowStride;
        return scratch;
    }

    internal static class Scratch<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] static Tensor<T>? a, b, c, d, e, f;
        public static Tensor<T> A => a ??= new Tensor<T>();
        public static Tensor<T> B => b ??= new Tensor<T>();
        public static Tensor<T> C => c ??= new Tensor<T>();
        public static Tensor<T> D => d ??= new Tensor<T>();
        public static Tensor<T> E => e ??= new Tensor<T>();
        public static Tensor<T> F => f ??= new Tensor<T>();
    }
}
