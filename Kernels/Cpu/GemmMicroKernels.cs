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
public static unsafe partial class Gemm
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<T> MulAdd<T>(Vector512<T> x, Vector512<T> y, Vector512<T> z)
    {
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> MulAdd<T>(Vector256<T> x, Vector256<T> y, Vector256<T> z)
    {
        if (!Fma.IsSupported) return x * y + z;   // no fused instruction (pre-Haswell): a software FMA would be far slower
        if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(x.AsSingle(), y.AsSingle(), z.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(x.AsDouble(), y.AsDouble(), z.AsDouble()).As<double, T>();
        throw new NotSupportedException(typeof(T).Name);
    }

    /// <summary>overwrite: c = alpha·acc (beta = 0, so NaN in C cannot leak); else c = alpha·acc + beta·c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store<T>(T* c, Vector512<T> acc0, Vector512<T> acc1, Vector512<T> alpha, Vector512<T> beta, bool overwrite) where T : unmanaged
    {
        if (overwrite)
        {
            Vector512.Store(acc0 * alpha, c);
            Vector512.Store(acc1 * alpha, c + Vector512<T>.Count);
        }
        else
        {
            Vector512.Store(MulAdd(acc0, alpha, Vector512.Load(c) * beta), c);
            Vector512.Store(MulAdd(acc1, alpha, Vector512.Load(c + Vector512<T>.Count) * beta), c + Vector512<T>.Count);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store<T>(T* c, Vector256<T> acc0, Vector256<T> acc1, Vector256<T> alpha, Vector256<T> beta, bool overwrite) where T : unmanaged
    {
        if (overwrite)
        {
            Vector256.Store(acc0 * alpha, c);
            Vector256.Store(acc1 * alpha, c + Vector256<T>.Count);
        }
        else
        {
            Vector256.Store(MulAdd(acc0, alpha, Vector256.Load(c) * beta), c);
            Vector256.Store(MulAdd(acc1, alpha, Vector256.Load(c + Vector256<T>.Count) * beta), c + Vector256<T>.Count);
        }
    }

    /// <summary>12 × (2 · Vector512&lt;T&gt;.Count): 12×32 for float, 12×16 for double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MicroKernel512<T>(int kc, T* a, T* b, nint ldb, T* c, nint ldc, T alpha, T beta, bool overwrite)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default, c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        for (; kc > 0; kc--, a += 12, b += ldb)
        {
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
        Store(c + 0 * ldc, c00, c01, alphaV, betaV, overwrite);
        Store(c + 1 * ldc, c10, c11, alphaV, betaV, overwrite);
        Store(c + 2 * ldc, c20, c21, alphaV, betaV, overwrite);
        Store(c + 3 * ldc, c30, c31, alphaV, betaV, overwrite);
        Store(c + 4 * ldc, c40, c41, alphaV, betaV, overwrite);
        Store(c + 5 * ldc, c50, c51, alphaV, betaV, overwrite);
        Store(c + 6 * ldc, c60, c61, alphaV, betaV, overwrite);
        Store(c + 7 * ldc, c70, c71, alphaV, betaV, overwrite);
        Store(c + 8 * ldc, c80, c81, alphaV, betaV, overwrite);
        Store(c + 9 * ldc, c90, c91, alphaV, betaV, overwrite);
        Store(c + 10 * ldc, ca0, ca1, alphaV, betaV, overwrite);
        Store(c + 11 * ldc, cb0, cb1, alphaV, betaV, overwrite);
    }

    /// <summary>6 × (2 · Vector256&lt;T&gt;.Count): 6×16 for float, 6×8 for double (machines without AVX-512).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void MicroKernel256<T>(int kc, T* a, T* b, nint ldb, T* c, nint ldc, T alpha, T beta, bool overwrite)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Vector256<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
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
        Store(c + 0 * ldc, c00, c01, alphaV, betaV, overwrite);
        Store(c + 1 * ldc, c10, c11, alphaV, betaV, overwrite);
        Store(c + 2 * ldc, c20, c21, alphaV, betaV, overwrite);
        Store(c + 3 * ldc, c30, c31, alphaV, betaV, overwrite);
        Store(c + 4 * ldc, c40, c41, alphaV, betaV, overwrite);
        Store(c + 5 * ldc, c50, c51, alphaV, betaV, overwrite);
    }
}
