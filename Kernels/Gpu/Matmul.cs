using ILGPU;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

// C[M,N] = alpha · op(A)[M,K] · op(B)[K,N] + beta · C, row-major with leading dimensions lda, ldb, ldc;
// op(A) = A or Aᵀ (A stored (K, M) then), likewise B. beta = 0 ignores C's old contents (NaN included), as
// Reference.Gemm and Kernels/Cpu/Gemm do.
// v1 Naive: one thread per C element, loops over K (the readable baseline, a port of Reference.Gemm).
// v2 Tiled: T×T groups, T×T tiles of op(A) and op(B) in shared memory (padded to T+1 against bank conflicts),
//    Group.Barrier() between loads; transposed operands are loaded so that neighbouring threads read
//    neighbouring addresses. T is a SpecializedValue (one compiled kernel per tile size): 16 on a GPU, 4 in tests.
// v3 Blocked: register blocking, each of the T×T threads computes 4×4 outputs of a 4T×4T block of C (rows ty + T·r,
//    columns tx + T·c), from 4T×T and T×4T slabs in shared memory (k-major, padded): 16 multiply-adds per 8 shared
//    loads instead of v2's 1 per 2. Fewer, larger groups: a 128×512 output is 16 groups at T = 16 (v2: 256), so on
//    the model's small batches v2 may keep more multiprocessors busy. Unmeasured on a GPU so far.
// Correctness: Tests/Kernels/Gpu/MatmulKernelTests.cs (every version, all four transposes, alpha/beta).
// Speed: not yet raced on a GPU (no device here). v2 stays the default until Bench measures v2 against v3.

/// <summary>Sizes and scalars of one GEMM call (see the header of Matmul.cs).</summary>
public struct GemmArgs
{
    /// <summary>C (M, N) = op(A) (M, K) · op(B) (K, N), with the leading dimensions of A, B and C.</summary>
    public int M, N, K, Lda, Ldb, Ldc;
    /// <summary>1 when A, or B, is read transposed (ints, as ILGPU passes them).</summary>
    public int TransA, TransB;   // 0/1
    /// <summary>C = Alpha·op(A)·op(B) + Beta·C.</summary>
    public float Alpha, Beta;
}

/// <summary>The GEMM kernels, v1 to v3 (see the header of this file).</summary>
public static class MatmulKernels
{
    static float LoadA(ArrayView<float> a, GemmArgs g, int i, int p) => g.TransA != 0 ? a[p * g.Lda + i]
        : a[i * g.Lda + p];
    static float LoadB(ArrayView<float> b, GemmArgs g, int p, int j) => g.TransB != 0 ? b[j * g.Ldb + p]
        : b[p * g.Ldb + j];

    static void Store(ArrayView<float> c, GemmArgs g, int i, int j, float acc)
    {
        int ci = i * g.Ldc + j;
        c[ci] = g.Beta == 0f ? g.Alpha * acc : g.Alpha * acc + g.Beta * c[ci];
    }

    /// <summary>v1: idx = (column j, row i) of C.</summary>
    public static void MatmulNaiveKernel(Index2D idx, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c,
        GemmArgs g)
    {
        int j = idx.X, i = idx.Y;
        float acc = 0f;
        for (int p = 0; p < g.K; p++) acc += LoadA(a, g, i, p) * LoadB(b, g, p, j);
        Store(c, g, i, j, acc);
    }

    /// <summary>v2: group (Grid.IdxX, Grid.IdxY) computes the T×T block of C at (row IdxY·T, column IdxX·T).</summary>
    public static void MatmulTiledKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmArgs g,
        SpecializedValue<int> tile)
    {
        int t = tile.Value, tp = t + 1;
        var sh = SharedMemory.GetDynamic<float>();          // As: t×tp at 0, Bs: t×tp after it
        int bs = t * tp;
        int tx = Group.IdxX, ty = Group.IdxY;
        int row0 = Grid.IdxY * t, col0 = Grid.IdxX * t;
        float acc = 0f;
        for (int k0 = 0; k0 < g.K; k0 += t)
        {
            // As[r, p] = op(A)[row0 + r, k0 + p]. Untransposed A: tx runs along p (contiguous in A);
            // transposed A (stored (K, M)): tx runs along r, which is then contiguous.
            int ar = g.TransA != 0 ? tx : ty, ap = g.TransA != 0 ? ty : tx;
            sh[ar * tp + ap] = row0 + ar < g.M && k0 + ap < g.K ? LoadA(a, g, row0 + ar, k0 + ap) : 0f;
            // Bs[p, cc] = op(B)[k0 + p, col0 + cc]; the same trick for a transposed B (stored (N, K)).
            int bp = g.TransB != 0 ? tx : ty, bc = g.TransB != 0 ? ty : tx;
            sh[bs + bp * tp + bc] = k0 + bp < g.K && col0 + bc < g.N ? LoadB(b, g, k0 + bp, col0 + bc) : 0f;
            Group.Barrier();
            for (int p = 0; p < t; p++) acc += sh[ty * tp + p] * sh[bs + p * tp + tx];
            Group.Barrier();
        }
        if (row0 + ty < g.M && col0 + tx < g.N) Store(c, g, row0 + ty, col0 + tx, acc);
    }

    /// <summary>Outputs per thread along each axis in <see cref="MatmulBlockedKernel"/>.</summary>
    public const int Block = 4;

    /// <summary>
    /// Shared floats <see cref="MatmulBlockedKernel"/> needs for tile edge t: two t × (4t + 1) slabs.
    /// </summary>
    public static int BlockedSharedFloats(int t) => 2 * t * (Block * t + 1);

    /// <summary>
    /// v3: group (Grid.IdxX, Grid.IdxY) computes the 4T×4T block of C at (row IdxY·4T, column IdxX·4T).
    /// </summary>
    public static void MatmulBlockedKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmArgs g,
        SpecializedValue<int> tile)
    {
        int t = tile.Value, bm = Block * t, ld = bm + 1;
        var sh = SharedMemory.GetDynamic<float>();   // As[k, r] at k·ld + r, then Bs[k, col] at bs + k·ld + col
        int bs = t * ld;
        int tx = Group.IdxX, ty = Group.IdxY, lin = ty * t + tx, threads = t * t;
        int row0 = Grid.IdxY * bm, col0 = Grid.IdxX * bm;
        float c00 = 0f, c01 = 0f, c02 = 0f, c03 = 0f, c10 = 0f, c11 = 0f, c12 = 0f, c13 = 0f;
        float c20 = 0f, c21 = 0f, c22 = 0f, c23 = 0f, c30 = 0f, c31 = 0f, c32 = 0f, c33 = 0f;
        for (int k0 = 0; k0 < g.K; k0 += t)
        {
            // Each thread loads 4 elements of each slab; neighbouring threads take neighbouring addresses of the
            // operand as stored (along K for A, along M for Aᵀ; along N for B, along K for Bᵀ).
            for (int e = lin; e < bm * t; e += threads)
            {
                int ar = g.TransA != 0 ? e % bm : e / t, ak = g.TransA != 0 ? e / bm : e % t;
                sh[ak * ld + ar] = row0 + ar < g.M && k0 + ak < g.K ? LoadA(a, g, row0 + ar, k0 + ak) : 0f;
                int bc = g.TransB != 0 ? e / t : e % bm, bk = g.TransB != 0 ? e % t : e / bm;
                sh[bs + bk * ld + bc] = k0 + bk < g.K && col0 + bc < g.N ? LoadB(b, g, k0 + bk, col0 + bc) : 0f;
            }
            Group.Barrier();
            for (int k = 0; k < t; k++)
            {
                int ak = k * ld + ty, bk = bs + k * ld + tx;
                float a0 = sh[ak], a1 = sh[ak + t], a2 = sh[ak + 2 * t], a3 = sh[ak + 3 * t];
                float b0 = sh[bk], b1 = sh[bk + t], b2 = sh[bk + 2 * t], b3 = sh[bk + 3 * t];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }
        int r0 = row0 + ty, q0 = col0 + tx;
        StoreRow(c, g, r0, q0, t, c00, c01, c02, c03);
        StoreRow(c, g, r0 + t, q0, t, c10, c11, c12, c13);
        StoreRow(c, g, r0 + 2 * t, q0, t, c20, c21, c22, c23);
        StoreRow(c, g, r0 + 3 * t, q0, t, c30, c31, c32, c33);
    }

    static void StoreRow(ArrayView<float> c, GemmArgs g, int i, int j, int t, float v0, float v1, float v2, float v3)
    {
        if (i >= g.M) return;
        if (j < g.N) Store(c, g, i, j, v0);
        if (j + t < g.N) Store(c, g, i, j + t, v1);
        if (j + 2 * t < g.N) Store(c, g, i, j + 2 * t, v2);
        if (j + 3 * t < g.N) Store(c, g, i, j + 3 * t, v3);
    }
}

public sealed partial class GpuKernels
{
    /// <summary>Matmul versions (see Matmul.cs): 1 naive, 2 tiled (default), 3 register-blocked.</summary>
    public const int MatmulNaive = 1, MatmulTiled = 2, MatmulBlocked = 3;

    /// <summary>C = alpha · op(A) · op(B) + beta · C, the argument order of Kernels/Cpu/Gemm.Multiply.</summary>
    public void Matmul(bool transA, bool transB, int m, int n, int k, float alpha, ArrayView<float> a, int lda,
        ArrayView<float> b, int ldb, float beta, ArrayView<float> c, int ldc, int version = MatmulTiled)
    {
        if (m == 0 || n == 0) return;
        var g = new GemmArgs
        {
            M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc, TransA = transA ? 1 : 0,
            TransB = transB ? 1 : 0, Alpha = alpha, Beta = beta
        };
        switch (version)
        {
            case MatmulNaive:
                Get(((Action<Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                    GemmArgs>)MatmulKernels.MatmulNaiveKernel).Method,
                    () =>
                    {
                        var l = Accelerator.LoadAutoGroupedKernel<Index2D, ArrayView<float>, ArrayView<float>,
                            ArrayView<float>, GemmArgs>(MatmulKernels.MatmulNaiveKernel);
                        return (Action<AcceleratorStream, Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>,
                            GemmArgs>)((s, i, a1, b1, c1, g1) =>
                        {
                            Launched(nameof(MatmulKernels.MatmulNaiveKernel), i.Size, 0);
                            l(s, i, a1, b1, c1, g1);
                        });
                    })(Stream, new Index2D(n, m), a, b, c, g);
                break;
            case MatmulTiled:
                int t = Tile;
                var config = new KernelConfig(new Index2D(GpuMath.CeilDiv(n, t), GpuMath.CeilDiv(m, t)),
                    new Index2D(t, t),
                    SharedMemoryConfig.RequestDynamic<float>(2 * t * (t + 1)));
                Grouped<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs,
                    SpecializedValue<int>>(MatmulKernels.MatmulTiledKernel)(
                    Stream, config, a, b, c, g, SpecializedValue.New(t));
                break;
            case MatmulBlocked:
                int tb = Tile, bm = MatmulKernels.Block * tb;
                var blocked = new KernelConfig(new Index2D(GpuMath.CeilDiv(n, bm), GpuMath.CeilDiv(m, bm)),
                    new Index2D(tb, tb),
                    SharedMemoryConfig.RequestDynamic<float>(MatmulKernels.BlockedSharedFloats(tb)));
                Grouped<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs,
                    SpecializedValue<int>>(MatmulKernels.MatmulBlockedKernel)(
                    Stream, blocked, a, b, c, g, SpecializedValue.New(tb));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(version), version,
                "matmul versions are 1 (naive), 2 (tiled) and 3 (blocked)");
        }
    }
}
