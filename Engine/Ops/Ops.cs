using System.Numerics;
using InfoVae.Kernels;

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

    /// <summary>Elementwise unary op through the backend; its backward is the op struct's derivative.</summary>
    static Tensor<T> Unary<T, TOp>(Tensor<T> x, T p = default)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IUnaryFunction
    {
        x = x.Contiguous();
        var y = TapeOf<T>().Node(TOp.Name, x.Shape, x.Backend, x);
        OpScalar(y) = p;
        x.Backend.Unary<TOp>(x, y, p);
        if (y.RequiresGrad)
            y.BackwardFn = static y =>
                y.Backend.UnaryBackward<TOp>(First(y), y, y.Grad!, First(y).GradOrZeros(), OpScalar(y));
        return y;
    }

    /// <summary>Elementwise binary op with NumPy broadcasting; the backward sums over broadcast axes.</summary>
    static Tensor<T> Binary<T, TOp>(Tensor<T> a, Tensor<T> b)
        where T : unmanaged, IFloatingPointIeee754<T> where TOp : struct, IBinaryFunction
    {
        SameBackend(a, b);
        a = a.Contiguous(); b = b.Contiguous();
        var c = TapeOf<T>().Node(TOp.Name, Shape.Broadcast(a.Shape, b.Shape), a.Backend, a, b);
        a.Backend.Binary<TOp>(a, b, c);
        if (c.RequiresGrad)
            c.BackwardFn = static c => c.Backend.BinaryBackward<TOp>(First(c), Second(c), c.Grad!,
                GradIfNeeded(First(c)), GradIfNeeded(Second(c)));
        return c;
    }

    // What a node saved for its backward lives in anonymous slots on Tensor (A, B, C, P, I0-I2, D0, F0, F1, State),
    // so that recording an op allocates nothing. Ops read and write them only through named accessors: the parents
    // here, each op's own values in its file (Stride(y) in Conv2d.cs, not y.I0).

    /// <summary>The node's first input (the x of a one-input op).</summary>
    static Tensor<T> First<T>(Tensor<T> node) where T : unmanaged, IFloatingPointIeee754<T> => node.A!;
    /// <summary>The node's second input (a weight, the b of a ∘ b, a target).</summary>
    static Tensor<T> Second<T>(Tensor<T> node) where T : unmanaged, IFloatingPointIeee754<T> => node.B!;
    /// <summary>The node's third input: a bias or beta, or null.</summary>
    static Tensor<T>? Third<T>(Tensor<T> node) where T : unmanaged, IFloatingPointIeee754<T> => node.C;

    /// <summary>An elementwise op's scalar (the leaky-ReLU slope, AddScalar's s).</summary>
    static ref T OpScalar<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.P;

    /// <summary>The input's gradient buffer when it requires one, else null (the backends skip that side).</summary>
    static Tensor<T>? GradIfNeeded<T>(Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T> => x.RequiresGrad
        ? x.GradOrZeros() : null;

    static void SameBackend<T>(Tensor<T> a, Tensor<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!ReferenceEquals(a.Backend, b.Backend))
            throw new InvalidOperationException($"tensors on different backends ({a.Backend.Name}, {b.Backend.Name})");
    }

    /// <summary>A throwaway window object over existing storage, for a backend call; never put on the tape.</summary>
    internal static Tensor<T> Window<T>(Tensor<T> scratch, Storage<T> storage, IBackend<T> backend, int offset,
        Shape shape, int rowStride)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        scratch.Storage = storage; scratch.Backend = backend; scratch.Offset = offset; scratch.Shape = shape;
        scratch.RowStride = rowStride;
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
