using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// op(a) · op(b) for 2-D tensors, op = identity or transpose (handled inside the GEMM, no copy).
    /// For C = A·B: dA += dC·Bᵀ, dB += Aᵀ·dC; the transposed cases follow by swapping roles.
    /// </summary>
    public static Tensor<T> Matmul<T>(Tensor<T> a, Tensor<T> b, bool transA = false, bool transB = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SameBackend(a, b);
        if (a.Shape.Rank != 2 || b.Shape.Rank != 2)
            throw new ArgumentException($"matmul needs 2-D tensors, not {a.Shape} and {b.Shape}");
        a = a.Contiguous(); b = b.Contiguous();
        int m = transA ? a.Shape[1] : a.Shape[0], k = transA ? a.Shape[0] : a.Shape[1];
        int kb = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
        if (k != kb)
            throw new ArgumentException($"matmul: inner sizes differ ({a.Shape}{(transA ? "ᵀ" : "")} · "
                + $"{b.Shape}{(transB ? "ᵀ" : "")})");
        var c = TapeOf<T>().Node("matmul", new Shape(m, n), a.Backend, a, b);
        TransA(c) = transA; TransB(c) = transB;
        a.Backend.Matmul(a, transA, b, transB, c, T.One, T.Zero);
        if (c.RequiresGrad)
            c.BackwardFn = static c => MatmulBackward(First(c), TransA(c), Second(c), TransB(c), c.Grad!);
        return c;
    }

    /// <summary>The gradients of C = op(A)·op(B) given dC, added into A's and B's, or written where they are
    /// logically zero (<see cref="Tensor{T}.GradForWrite"/>); shared with Linear.</summary>
    static void MatmulBackward<T>(Tensor<T> a, bool transA, Tensor<T> b, bool transB, Tensor<T> dc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var be = dc.Backend;
        if (a.RequiresGrad)
        {
            // A·B: dA = dC·Bᵀ; A·Bᵀ: dA = dC·B; Aᵀ·B: dA = B·dCᵀ; Aᵀ·Bᵀ: dA = Bᵀ·dCᵀ
            var da = a.GradForWrite(out bool overwrite);
            if (!transA) be.Matmul(dc, false, b, !transB, da, T.One, overwrite ? T.Zero : T.One);
            else be.Matmul(b, transB, dc, true, da, T.One, overwrite ? T.Zero : T.One);
        }
        if (b.RequiresGrad)
        {
            // A·B: dB = Aᵀ·dC; A·Bᵀ: dB = dCᵀ·A; Aᵀ·B: dB = A·dC; Aᵀ·Bᵀ: dB = dCᵀ·Aᵀ
            var db = b.GradForWrite(out bool overwrite);
            if (!transB) be.Matmul(a, !transA, dc, false, db, T.One, overwrite ? T.Zero : T.One);
            else be.Matmul(dc, true, a, transA, db, T.One, overwrite ? T.Zero : T.One);
        }
    }

    /// <summary>Whether a, and b, entered the product transposed.</summary>
    static ref bool TransA<T>(Tensor<T> c) where T : unmanaged, IFloatingPointIeee754<T> => ref c.F0;
    static ref bool TransB<T>(Tensor<T> c) where T : unmanaged, IFloatingPointIeee754<T> => ref c.F1;
}
