using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace InfoVae.Kernels.Cpu;

// The register-blocked micro-kernels: C (MR×NR tile, row stride ldc) = alpha · Ã·B̃ + beta · C over kc steps,
// Ã packed MR×kc (a[p·MR + i]), B̃ kc×NR with row stride ldb: packed (ldb = NR, b[p·NR + j], zero-padded by the
// packing routines) or read in place from a row-major op(B) (ldb = its row stride) when packing would not pay.
// Each step broadcasts one element of Ã per row and does two FMAs against two vectors of B̃ (BLIS's 12×32
// for float on AVX-512, measured best in docs/cpu-kernels.md); all MR·2 accumulators stay in registers:
// 24 of the 32 zmm registers, or 12 of the 16 ymm ones in the Vector256 fallback (6 rows: AVX2 machines; about
// half the speed here). Where Vector256 is not hardware-accelerated (ARM64) the fallback is correct but slow.
// The sequence of operations per C element is fixed (k in order, one FMA per step), whatever the tile position
// or the thread that runs it: that is what keeps results bit-identical across thread counts.
/// <summary>
/// Where each k's row of B̃ starts, for the AVX-512 micro-kernels: a stride apart (<see cref="StridedRows{T}"/>:
/// packed panels, or a matrix read in place) or anywhere (<see cref="OffsetRows{T}"/>: a conv's patches in its padded
/// image). A struct the kernel copies and walks, so the strided case compiles to the pointer bump it always was.
/// </summary>
internal unsafe interface IBRows<T> where T : unmanaged
{
    /// <summary>The current k's row; then moves on to the next k.</summary>
    T* Next();
}

/// <summary>Rows ldb elements apart from b.</summary>
internal unsafe struct StridedRows<T>(T* b, nint ldb) : IBRows<T> where T : unmanaged
{
    T* row = b;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T* Next()
    {
        T* r = row;
        row += ldb;
        return r;
    }
}

/// <summary>Row k at b + offsets[k] (elements).</summary>
internal unsafe struct OffsetRows<T>(T* b, nint* offsets) : IBRows<T> where T : unmanaged
{
    nint* next = offsets;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T* Next() => b + *next++;
}

public static unsafe partial class Gemm
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<T> MulAdd<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z)
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> MulAdd<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z)
    {
        // no fused instruction (pre-Haswell): a software FMA would be far slower
        if (!Fma.IsSupported) return x * y + z;
        if (typeof(T) == typeof(float))
            return Vector256.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector256.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>
    /// overwrite: c = alpha·acc (beta = 0, so NaN in C cannot leak); else c = alpha·acc + beta·c. The epilogue of a
    /// fused linear layer: bias (the tile's NR column values, or null) added as c = alpha·acc + (beta·c + bias), in one
    /// rounding when overwriting (as a copy of the bias followed by beta = 1 gave); relu: max(c, 0), NaN kept (ReluOp).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store<T>(T* c, Vector512<T> acc0, Vector512<T> acc1, Vector512<T> alpha, Vector512<T> beta,
        bool overwrite, T* bias, bool relu)
        where T : unmanaged
    {
        StoreOne(c, acc0, alpha, beta, overwrite, bias, relu);
        StoreOne(c + Vector512<T>.Count, acc1, alpha, beta, overwrite, bias == null ? null : bias + Vector512<T>.Count,
            relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreOne<T>(T* c, Vector512<T> acc, Vector512<T> alpha, Vector512<T> beta, bool overwrite, T* bias,
        bool relu) where T : unmanaged
    {
        Vector512<T> v;
        if (overwrite) v = bias == null ? acc * alpha : MulAdd(acc, alpha, Vector512.Load(bias));
        else v = MulAdd(acc, alpha, bias == null ? Vector512.Load(c) * beta : Vector512.Load(c) * beta
            + Vector512.Load(bias));
        if (relu) v = Vector512.ConditionalSelect(Vector512.LessThanOrEqual(v, Vector512<T>.Zero), default, v);
        Vector512.Store(v, c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store<T>(T* c, Vector256<T> acc0, Vector256<T> acc1, Vector256<T> alpha, Vector256<T> beta,
        bool overwrite, T* bias, bool relu)
        where T : unmanaged
    {
        StoreOne(c, acc0, alpha, beta, overwrite, bias, relu);
        StoreOne(c + Vector256<T>.Count, acc1, alpha, beta, overwrite, bias == null ? null : bias + Vector256<T>.Count,
            relu);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void StoreOne<T>(T* c, Vector256<T> acc, Vector256<T> alpha, Vector256<T> beta, bool overwrite, T* bias,
        bool relu) where T : unmanaged
    {
        Vector256<T> v;
        if (overwrite) v = bias == null ? acc * alpha : MulAdd(acc, alpha, Vector256.Load(bias));
        else v = MulAdd(acc, alpha, bias == null ? Vector256.Load(c) * beta : Vector256.Load(c) * beta
            + Vector256.Load(bias));
        if (relu) v = Vector256.ConditionalSelect(Vector256.LessThanOrEqual(v, Vector256<T>.Zero), default, v);
        Vector256.Store(v, c);
    }

    /// <summary>12 × (2 · Vector512&lt;T&gt;.Count): 12×32 for float, 12×16 for double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MicroKernel512<T, TB>(int kc, T* a, TB rows, T* c, nint ldc, T alpha, T beta, bool overwrite,
        T* bias, bool relu)
        where T : unmanaged, IFloatingPointIeee754<T> where TB : struct, IBRows<T>
    {
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default,
            c61 = default, c70 = default, c71 = default, c80 = default, c81 = default, c90 = default, c91 = default,
            ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        for (; kc > 0; kc--, a += 12)
        {
            T* b = rows.Next();
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + Vector512<T>.Count);
            Vector512<T> a0;
            a0 = Vector512.Create(a[0]); c00 = MulAdd(a0, b0, c00); c01 = MulAdd(a0, b1, c01);
            a0 = Vector512.Create(a[1]); c10 = MulAdd(a0, b0, c10); c11 = MulAdd(a0, b1, c11);
            a0 = Vector512.Create(a[2]); c20 = MulAdd(a0, b0, c20); c21 = MulAdd(a0, b1, c21);
            a0 = Vector512.Create(a[3]); c30 = MulAdd(a0, b0, c30); c31 = MulAdd(a0, b1, c31);
            a0 = Vector512.Create(a[4]); c40 = MulAdd(a0, b0, c40); c41 = MulAdd(a0, b1, c41);
            a0 = Vector512.Create(a[5]); c50 = MulAdd(a0, b0, c50); c51 = MulAdd(a0, b1, c51);
            a0 = Vector512.Create(a[6]); c60 = MulAdd(a0, b0, c60); c61 = MulAdd(a0, b1, c61);
            a0 = Vector512.Create(a[7]); c70 = MulAdd(a0, b0, c70); c71 = MulAdd(a0, b1, c71);
            a0 = Vector512.Create(a[8]); c80 = MulAdd(a0, b0, c80); c81 = MulAdd(a0, b1, c81);
            a0 = Vector512.Create(a[9]); c90 = MulAdd(a0, b0, c90); c91 = MulAdd(a0, b1, c91);
            a0 = Vector512.Create(a[10]); ca0 = MulAdd(a0, b0, ca0); ca1 = MulAdd(a0, b1, ca1);
            a0 = Vector512.Create(a[11]); cb0 = MulAdd(a0, b0, cb0); cb1 = MulAdd(a0, b1, cb1);
        }
        var alphaV = Vector512.Create(alpha);
        var betaV = Vector512.Create(beta);
        Store(c + 0 * ldc, c00, c01, alphaV, betaV, overwrite, bias, relu);
        Store(c + 1 * ldc, c10, c11, alphaV, betaV, overwrite, bias, relu);
        Store(c + 2 * ldc, c20, c21, alphaV, betaV, overwrite, bias, relu);
        Store(c + 3 * ldc, c30, c31, alphaV, betaV, overwrite, bias, relu);
        Store(c + 4 * ldc, c40, c41, alphaV, betaV, overwrite, bias, relu);
        Store(c + 5 * ldc, c50, c51, alphaV, betaV, overwrite, bias, relu);
        Store(c + 6 * ldc, c60, c61, alphaV, betaV, overwrite, bias, relu);
        Store(c + 7 * ldc, c70, c71, alphaV, betaV, overwrite, bias, relu);
        Store(c + 8 * ldc, c80, c81, alphaV, betaV, overwrite, bias, relu);
        Store(c + 9 * ldc, c90, c91, alphaV, betaV, overwrite, bias, relu);
        Store(c + 10 * ldc, ca0, ca1, alphaV, betaV, overwrite, bias, relu);
        Store(c + 11 * ldc, cb0, cb1, alphaV, betaV, overwrite, bias, relu);
    }

    /// <summary>8 × (2 · Vector512&lt;T&gt;.Count): the last micro-panel of A when it holds at most 8 real rows
    /// (Ã keeps its stride of 12 per k), so a remainder of 1..8 rows costs 8 rows, not 12. Same operations per
    /// element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MicroKernel512x8<T, TB>(int kc, T* a, TB rows, T* c, nint ldc, T alpha, T beta, bool overwrite,
        T* bias, bool relu)
        where T : unmanaged, IFloatingPointIeee754<T> where TB : struct, IBRows<T>
    {
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default,
            c61 = default, c70 = default, c71 = default;
        for (; kc > 0; kc--, a += 12)
        {
            T* b = rows.Next();
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + Vector512<T>.Count);
            Vector512<T> a0;
            a0 = Vector512.Create(a[0]); c00 = MulAdd(a0, b0, c00); c01 = MulAdd(a0, b1, c01);
            a0 = Vector512.Create(a[1]); c10 = MulAdd(a0, b0, c10); c11 = MulAdd(a0, b1, c11);
            a0 = Vector512.Create(a[2]); c20 = MulAdd(a0, b0, c20); c21 = MulAdd(a0, b1, c21);
            a0 = Vector512.Create(a[3]); c30 = MulAdd(a0, b0, c30); c31 = MulAdd(a0, b1, c31);
            a0 = Vector512.Create(a[4]); c40 = MulAdd(a0, b0, c40); c41 = MulAdd(a0, b1, c41);
            a0 = Vector512.Create(a[5]); c50 = MulAdd(a0, b0, c50); c51 = MulAdd(a0, b1, c51);
            a0 = Vector512.Create(a[6]); c60 = MulAdd(a0, b0, c60); c61 = MulAdd(a0, b1, c61);
            a0 = Vector512.Create(a[7]); c70 = MulAdd(a0, b0, c70); c71 = MulAdd(a0, b1, c71);
        }
        var alphaV = Vector512.Create(alpha);
        var betaV = Vector512.Create(beta);
        Store(c + 0 * ldc, c00, c01, alphaV, betaV, overwrite, bias, relu);
        Store(c + 1 * ldc, c10, c11, alphaV, betaV, overwrite, bias, relu);
        Store(c + 2 * ldc, c20, c21, alphaV, betaV, overwrite, bias, relu);
        Store(c + 3 * ldc, c30, c31, alphaV, betaV, overwrite, bias, relu);
        Store(c + 4 * ldc, c40, c41, alphaV, betaV, overwrite, bias, relu);
        Store(c + 5 * ldc, c50, c51, alphaV, betaV, overwrite, bias, relu);
        Store(c + 6 * ldc, c60, c61, alphaV, betaV, overwrite, bias, relu);
        Store(c + 7 * ldc, c70, c71, alphaV, betaV, overwrite, bias, relu);
    }

    /// <summary>4 × (2 · Vector512&lt;T&gt;.Count): the last micro-panel of A when it holds at most 4 real rows
    /// (Ã keeps its stride of 12 per k), so a remainder of 1..4 rows costs 4 rows, not 12. Same operations per
    /// element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MicroKernel512x4<T, TB>(int kc, T* a, TB rows, T* c, nint ldc, T alpha, T beta, bool overwrite,
        T* bias, bool relu)
        where T : unmanaged, IFloatingPointIeee754<T> where TB : struct, IBRows<T>
    {
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default;
        for (; kc > 0; kc--, a += 12)
        {
            T* b = rows.Next();
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + Vector512<T>.Count);
            Vector512<T> a0;
            a0 = Vector512.Create(a[0]); c00 = MulAdd(a0, b0, c00); c01 = MulAdd(a0, b1, c01);
            a0 = Vector512.Create(a[1]); c10 = MulAdd(a0, b0, c10); c11 = MulAdd(a0, b1, c11);
            a0 = Vector512.Create(a[2]); c20 = MulAdd(a0, b0, c20); c21 = MulAdd(a0, b1, c21);
            a0 = Vector512.Create(a[3]); c30 = MulAdd(a0, b0, c30); c31 = MulAdd(a0, b1, c31);
        }
        var alphaV = Vector512.Create(alpha);
        var betaV = Vector512.Create(beta);
        Store(c + 0 * ldc, c00, c01, alphaV, betaV, overwrite, bias, relu);
        Store(c + 1 * ldc, c10, c11, alphaV, betaV, overwrite, bias, relu);
        Store(c + 2 * ldc, c20, c21, alphaV, betaV, overwrite, bias, relu);
        Store(c + 3 * ldc, c30, c31, alphaV, betaV, overwrite, bias, relu);
    }

    /// <summary>
    /// 12 × Vector512&lt;T&gt;.Count (12×16 for float): a last micro-panel of B̃ at most half an NR panel wide (B̃
    /// keeps its row stride), such as the one-channel conv-transpose's 16 columns, so it is not run at the full
    /// kernel's cost and then copied out of a tile. Same operations per element.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MicroKernel512Half<T>(int kc, T* a, T* b, nint ldb, T* c, nint ldc, T alpha, T beta, bool overwrite,
        T* bias, bool relu)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector512<T> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default, c6 = default,
            c7 = default, c8 = default, c9 = default, c10 = default, c11 = default;
        for (; kc > 0; kc--, a += 12, b += ldb)
        {
            var b0 = Vector512.Load(b);
            c0 = MulAdd(Vector512.Create(a[0]), b0, c0);
            c1 = MulAdd(Vector512.Create(a[1]), b0, c1);
            c2 = MulAdd(Vector512.Create(a[2]), b0, c2);
            c3 = MulAdd(Vector512.Create(a[3]), b0, c3);
            c4 = MulAdd(Vector512.Create(a[4]), b0, c4);
            c5 = MulAdd(Vector512.Create(a[5]), b0, c5);
            c6 = MulAdd(Vector512.Create(a[6]), b0, c6);
            c7 = MulAdd(Vector512.Create(a[7]), b0, c7);
            c8 = MulAdd(Vector512.Create(a[8]), b0, c8);
            c9 = MulAdd(Vector512.Create(a[9]), b0, c9);
            c10 = MulAdd(Vector512.Create(a[10]), b0, c10);
            c11 = MulAdd(Vector512.Create(a[11]), b0, c11);
        }
        var alphaV = Vector512.Create(alpha);
        var betaV = Vector512.Create(beta);
        StoreOne(c + 0 * ldc, c0, alphaV, betaV, overwrite, bias, relu);
        StoreOne(c + 1 * ldc, c1, alphaV, betaV, overwrite, bias, relu);
        StoreOne(c + 2 * ldc, c2, alphaV, betaV, overwrite, bias, relu);
        StoreOne(c + 3 * ldc, c3, alphaV, betaV, overwrite, bias, relu);
        StoreOne(c + 4 * ldc, c4, alphaV, betaV, overwrite, bias, relu);
        StoreOne(c + 5 * ldc, c5, alphaV, betaV, overwrite, bias, relu);
        StoreOne(c + 6 * ldc, c6, alphaV, betaV, overwrite, bias, relu);
        StoreOne(c + 7 * ldc, c7, alphaV, betaV, overwrite, bias, relu);
        StoreOne(c + 8 * ldc, c8, alphaV, betaV, overwrite, bias, relu);
        StoreOne(c + 9 * ldc, c9, alphaV, betaV, overwrite, bias, relu);
        StoreOne(c + 10 * ldc, c10, alphaV, betaV, overwrite, bias, relu);
        StoreOne(c + 11 * ldc, c11, alphaV, betaV, overwrite, bias, relu);
    }


    /// <summary>
    /// 6 × (2 · Vector256&lt;T&gt;.Count): 6×16 for float, 6×8 for double (machines without AVX-512).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MicroKernel256<T>(int kc, T* a, T* b, nint ldb, T* c, nint ldc, T alpha, T beta, bool overwrite,
        T* bias, bool relu)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (; kc > 0; kc--, a += 6, b += ldb)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + Vector256<T>.Count);
            Vector256<T> a0;
            a0 = Vector256.Create(a[0]); c00 = MulAdd(a0, b0, c00); c01 = MulAdd(a0, b1, c01);
            a0 = Vector256.Create(a[1]); c10 = MulAdd(a0, b0, c10); c11 = MulAdd(a0, b1, c11);
            a0 = Vector256.Create(a[2]); c20 = MulAdd(a0, b0, c20); c21 = MulAdd(a0, b1, c21);
            a0 = Vector256.Create(a[3]); c30 = MulAdd(a0, b0, c30); c31 = MulAdd(a0, b1, c31);
            a0 = Vector256.Create(a[4]); c40 = MulAdd(a0, b0, c40); c41 = MulAdd(a0, b1, c41);
            a0 = Vector256.Create(a[5]); c50 = MulAdd(a0, b0, c50); c51 = MulAdd(a0, b1, c51);
        }
        var alphaV = Vector256.Create(alpha);
        var betaV = Vector256.Create(beta);
        Store(c + 0 * ldc, c00, c01, alphaV, betaV, overwrite, bias, relu);
        Store(c + 1 * ldc, c10, c11, alphaV, betaV, overwrite, bias, relu);
        Store(c + 2 * ldc, c20, c21, alphaV, betaV, overwrite, bias, relu);
        Store(c + 3 * ldc, c30, c31, alphaV, betaV, overwrite, bias, relu);
        Store(c + 4 * ldc, c40, c41, alphaV, betaV, overwrite, bias, relu);
        Store(c + 5 * ldc, c50, c51, alphaV, betaV, overwrite, bias, relu);
    }
}
