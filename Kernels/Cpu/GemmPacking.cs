using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace InfoVae.Kernels.Cpu;

// Packing copies a block of op(A) or op(B) into the layout the micro-kernel streams, so the kernel never
// changes with transA/transB: only these strided reads do. Short edges are zero-padded to a full MR or NR.

/// <summary>
/// Where Ã comes from for <see cref="Gemm.MultiplyPacked{T, TA}"/>: a stored matrix (<see cref="StoredA{T}"/>) or
/// the patches of an image, gathered as they are packed (<see cref="Im2Col.Patches{T}"/>).
/// </summary>
internal unsafe interface IPanelSource<T> where T : unmanaged
{
    /// <summary>Ã ← op(A)[i0 .. i0+mc, p0 .. p0+kc] in the micro-panel layout of Gemm.PackA.</summary>
    void Pack(int i0, int mc, int p0, int kc, T* dst);
}

/// <summary>
/// What runs a block's tiles for Gemm's sliced product, knowing where B̃'s rows are (packed, a matrix in place, or
/// through a row-offset table).
/// </summary>
internal unsafe interface IPanelTiles<T> where T : unmanaged
{
    /// <summary>C block (mc rows) = alpha · Ã·B̃ + beta · C over K slice [pc, pc + kc), every column panel.</summary>
    void Tiles(T* packedA, int mc, int pc, int kc, T* c, nint ldc, T alpha, T beta, bool overwrite, T* tile);
}

/// <summary>op(A) = A or Aᵀ, stored with row stride lda.</summary>
internal readonly unsafe struct StoredA<T>(bool transA, T* a, int lda) : IPanelSource<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public void Pack(int i0, int mc, int p0, int kc, T* dst) => Gemm.PackA(transA, a, lda, i0, mc, p0, kc, dst);
}

public static unsafe partial class Gemm
{
    /// <summary>
    /// Ã ← op(A)[i0 .. i0+mc, p0 .. p0+kc] as ceil(mc/MR) micro-panels of MR×kc, each stored k-major
    /// (dst[p·MR + i]), panel r at dst + r·MR·kc.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackA<T>(bool transA, T* a, int lda, int i0, int mc, int p0, int kc, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int mr = MR;
        for (int ir = 0; ir < mc; ir += mr, dst += mr * kc)
        {
            int rows = Math.Min(mr, mc - ir);
            if (transA)
            {
                // stored K×M: each k is a contiguous run of MR elements of op(A)'s column
                T* s = a + (nint)p0 * lda + i0 + ir;
                if (rows == mr)
                    for (int p = 0; p < kc; p++, s += lda) CopyMr(s, dst + p * mr);
                else
                    for (int p = 0; p < kc; p++, s += lda)
                    {
                        T* d = dst + p * mr;
                        for (int i = 0; i < rows; i++) d[i] = s[i];
                        for (int i = rows; i < mr; i++) d[i] = T.Zero;
                    }
            }
            else
            {
                // stored M×K: gathers one element from each of MR rows per k (a transpose)
                T* s = a + (nint)(i0 + ir) * lda + p0;
                if (rows == mr && mr == 12 && typeof(T) == typeof(float) && Avx.IsSupported)
                    PackRows12Avx((float*)s, lda, kc, (float*)dst);
                else if (rows == mr && mr == 12) PackRows12(s, lda, kc, dst);
                else
                    for (int p = 0; p < kc; p++)
                    {
                        T* d = dst + p * mr;
                        for (int i = 0; i < rows; i++) d[i] = s[(nint)i * lda + p];
                        for (int i = rows; i < mr; i++) d[i] = T.Zero;
                    }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void CopyMr<T>(T* s, T* d) where T : unmanaged => Unsafe.CopyBlockUnaligned(d, s, (uint)(MR * sizeof(T)));

    /// <summary>12 row pointers held in registers, so each k is 12 loads and 12 contiguous stores.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackRows12<T>(T* s, nint lda, int kc, T* d) where T : unmanaged
    {
        T* r0 = s, r1 = s + lda, r2 = s + 2 * lda, r3 = s + 3 * lda, r4 = s + 4 * lda, r5 = s + 5 * lda;
        T* r6 = s + 6 * lda, r7 = s + 7 * lda, r8 = s + 8 * lda, r9 = s + 9 * lda, ra = s + 10 * lda, rb = s + 11 * lda;
        for (nint p = 0; p < kc; p++, d += 12)
        {
            d[0] = r0[p]; d[1] = r1[p]; d[2] = r2[p]; d[3] = r3[p]; d[4] = r4[p]; d[5] = r5[p];
            d[6] = r6[p]; d[7] = r7[p]; d[8] = r8[p]; d[9] = r9[p]; d[10] = ra[p]; d[11] = rb[p];
        }
    }

    /// <summary>
    /// The float case of <see cref="PackRows12{T}"/> eight k at a time: rows 0-7 through an 8×8 transpose, rows 8-11
    /// through two 4×4 transposes side by side in the 128-bit lanes. Each source line is read whole, once.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackRows12Avx(float* s, nint lda, int kc, float* d)
    {
        int p = 0;
        for (; p <= kc - 8; p += 8, s += 8, d += 8 * 12)
        {
            Transpose8x8(Vector256.Load(s), Vector256.Load(s + lda), Vector256.Load(s + 2 * lda),
                Vector256.Load(s + 3 * lda),
                Vector256.Load(s + 4 * lda), Vector256.Load(s + 5 * lda), Vector256.Load(s + 6 * lda),
                    Vector256.Load(s + 7 * lda),
                d, 12);
            Transpose4x8(Vector256.Load(s + 8 * lda), Vector256.Load(s + 9 * lda), Vector256.Load(s + 10 * lda),
                Vector256.Load(s + 11 * lda), d + 8);
        }
        for (; p < kc; p++, s++, d += 12)
            for (int i = 0; i < 12; i++) d[i] = s[i * lda];
    }

    /// <summary>
    /// Ã's 12-row micro-panel layout from 12 rows anywhere: d[p·12 + i] = rows[i][p] for p &lt; length (rows: pointers
    /// to T). For Ã packed straight from an image (<see cref="Im2Col.Patches{T}"/>), eight k at a time as
    /// <see cref="PackRows12Avx"/> does for rows a stride apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackRowPointers12<T>(nint* rows, int length, T* d) where T : unmanaged
    {
        int p = 0;
        if (typeof(T) == typeof(float) && Avx.IsSupported)
            for (; p <= length - 8; p += 8, d += 8 * 12)
            {
                Transpose8x8(Vector256.Load((float*)rows[0] + p), Vector256.Load((float*)rows[1] + p),
                    Vector256.Load((float*)rows[2] + p), Vector256.Load((float*)rows[3] + p),
                    Vector256.Load((float*)rows[4] + p), Vector256.Load((float*)rows[5] + p),
                    Vector256.Load((float*)rows[6] + p), Vector256.Load((float*)rows[7] + p), (float*)d, 12);
                Transpose4x8(Vector256.Load((float*)rows[8] + p), Vector256.Load((float*)rows[9] + p),
                    Vector256.Load((float*)rows[10] + p), Vector256.Load((float*)rows[11] + p), (float*)d + 8);
            }
        for (; p < length; p++, d += 12)
            for (int i = 0; i < 12; i++) d[i] = ((T*)rows[i])[p];
    }

    /// <summary>d[j·12 + i] = r_i[j] for 4 rows of 8 floats: two 4×4 transposes in the 128-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose4x8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        float* d)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var o0 = Avx.Shuffle(t0, t2, 0x44); var o1 = Avx.Shuffle(t0, t2, 0xEE);
        var o2 = Avx.Shuffle(t1, t3, 0x44); var o3 = Avx.Shuffle(t1, t3, 0xEE);
        o0.GetLower().Store(d); o1.GetLower().Store(d + 12); o2.GetLower().Store(d + 24); o3.GetLower().Store(d + 36);
        o0.GetUpper().Store(d + 48); o1.GetUpper().Store(d + 60);
        o2.GetUpper().Store(d + 72); o3.GetUpper().Store(d + 84);
    }

    /// <summary>d[j·ld + i] = r_i[j] for an 8×8 block of floats (rows r0..r7 in, columns out).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Transpose8x8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7, float* d, nint ld)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var s0 = Avx.Shuffle(t0, t2, 0x44); var s1 = Avx.Shuffle(t0, t2, 0xEE);
        var s2 = Avx.Shuffle(t1, t3, 0x44); var s3 = Avx.Shuffle(t1, t3, 0xEE);
        var s4 = Avx.Shuffle(t4, t6, 0x44); var s5 = Avx.Shuffle(t4, t6, 0xEE);
        var s6 = Avx.Shuffle(t5, t7, 0x44); var s7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(s0, s4, 0x20).Store(d);
        Avx.Permute2x128(s1, s5, 0x20).Store(d + ld);
        Avx.Permute2x128(s2, s6, 0x20).Store(d + 2 * ld);
        Avx.Permute2x128(s3, s7, 0x20).Store(d + 3 * ld);
        Avx.Permute2x128(s0, s4, 0x31).Store(d + 4 * ld);
        Avx.Permute2x128(s1, s5, 0x31).Store(d + 5 * ld);
        Avx.Permute2x128(s2, s6, 0x31).Store(d + 6 * ld);
        Avx.Permute2x128(s3, s7, 0x31).Store(d + 7 * ld);
    }

    /// <summary>
    /// B̃ ← op(B)[p0 .. p0+kc, j0 + q0·NR .. j0 + min(q1·NR, nc)] as micro-panels q0..q1 of kc×NR, each stored
    /// k-major (dst[p·NR + j]), panel q at dst + q·NR·kc.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackB<T>(bool transB, T* b, int ldb, int p0, int kc, int j0, int nc, int q0, int q1, T* dst)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int nr = NR<T>();
        for (int q = q0; q < q1; q++)
        {
            int jq = q * nr, cols = Math.Min(nr, nc - jq);
            T* d = dst + (nint)q * nr * kc;
            if (!transB)
            {
                // stored K×N: each k is a contiguous run of NR elements of op(B)'s row
                T* s = b + (nint)p0 * ldb + j0 + jq;
                if (cols == nr)
                    for (int p = 0; p < kc; p++, s += ldb, d += nr) CopyNr(s, d);
                else
                    for (int p = 0; p < kc; p++, s += ldb, d += nr)
                    {
                        for (int j = 0; j < cols; j++) d[j] = s[j];
                        for (int j = cols; j < nr; j++) d[j] = T.Zero;
                    }
            }
            else
            {
                // stored N×K: row j of storage is column j of op(B), read contiguously and written with stride NR
                T* s = b + (nint)(j0 + jq) * ldb + p0;
                if (cols == nr && typeof(T) == typeof(float) && Avx.IsSupported)
                {
                    PackColumnsAvx((float*)s, ldb, kc, nr, (float*)d);
                    continue;
                }
                for (int j = 0; j < cols; j++, s += ldb)
                    for (int p = 0; p < kc; p++) d[p * nr + j] = s[p];
                for (int j = cols; j < nr; j++)
                    for (int p = 0; p < kc; p++) d[p * nr + j] = T.Zero;
            }
        }
    }

    /// <summary>d[p·nr + j] = s[j·ldb + p] for nr (a multiple of 8) storage rows, 8×8 blocks at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void PackColumnsAvx(float* s, nint ldb, int kc, int nr, float* d)
    {
        int p = 0;
        for (; p <= kc - 8; p += 8)
            for (int j = 0; j < nr; j += 8)
            {
                float* r = s + j * ldb + p;
                Transpose8x8(Vector256.Load(r), Vector256.Load(r + ldb), Vector256.Load(r + 2 * ldb),
                    Vector256.Load(r + 3 * ldb),
                    Vector256.Load(r + 4 * ldb), Vector256.Load(r + 5 * ldb), Vector256.Load(r + 6 * ldb),
                        Vector256.Load(r + 7 * ldb),
                    d + p * nr + j, nr);
            }
        for (; p < kc; p++)
            for (int j = 0; j < nr; j++) d[p * nr + j] = s[j * ldb + p];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void CopyNr<T>(T* s, T* d) where T : unmanaged => Unsafe.CopyBlockUnaligned(d, s,
        (uint)(NR<T>() * sizeof(T)));
}
