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
// Correctness: Tests/Kernels/Gpu/MatmulKernelTests.cs (both versions, all four transposes, alpha/beta).
// v2 is the default. A register-blocked v3 (several outputs per thread) is the next step; not written yet.

/// <summary>Sizes and scalars of one GEMM call (see the header of Matmul.cs).</summary>
public struct GemmArgs
{
    public int M, N, K, Lda, Ldb, Ldc;
    public int TransA, TransB;   // 0/1
    public float Alpha, Beta;
}

public static class MatmulKernels
{
    static float LoadA(ArrayView<float> a, GemmArgs g, int i, int p) => g.TransA != 0 ? a[p * g.Lda + i] : a[i * g.Lda + p];
    static float LoadB(ArrayView<float> b, GemmArgs g, int p, int j) => g.TransB != 0 ? b[j * g.Ldb + p] : b[p * g.Ldb + j];

    static void Store(ArrayView<float> c, GemmArgs g, int i, int j, float acc)
    {
        int ci = i * g.Ldc + j;
        c[ci] = g.Beta == 0f ? g.Alpha * acc : g.Alpha * acc + g.Beta * c[ci];
    }

    /// <summary>v1: idx = (column j, row i) of C.</summary>
    public static void MatmulNaiveKernel(Index2D idx, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmArgs g)
    {
        int j = idx.X, i = idx.Y;
        float acc = 0f;
        for (int p = 0; p < g.K; p++) acc += LoadA(a, g, i, p) * LoadB(b, g, p, j);
        Store(c, g, i, j, acc);
    }

    /// <summary>v2: group (Grid.IdxX, Grid.IdxY) computes the T×T block of C at (row IdxY·T, column IdxX·T).</summary>
    public static void MatmulTiledKernel(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, GemmArgs g, SpecializedValue<int> tile)
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
}

public sealed partial class GpuKernels
{
    /// <summary>Matmul versions (see Matmul.cs): 1 naive, 2 tiled (default).</summary>
    public const int MatmulNaive = 1, MatmulTiled = 2;

    /// <summary>C = alpha · op(A) · op(B) + beta · C, the argument order of Kernels/Cpu/Gemm.Multiply.</summary>
    public void Matmul(bool transA, bool transB, int m, int n, int k, float alpha, ArrayView<float> a, int lda,
        ArrayView<float> b, int ldb, float beta, ArrayView<float> c, int ldc, int version = MatmulTiled)
    {
        if (m == 0 || n == 0) return;
        var g = new GemmArgs { M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc, TransA = transA ? 1 : 0, TransB = transB ? 1 : 0, Alpha = alpha, Beta = beta };
        switch (version)
        {
            case MatmulNaive:
                Get(((Action<Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>)MatmulKernels.MatmulNaiveKernel).Method,
                    () => Accelerator.LoadAutoGroupedKernel<Index2D, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs>(MatmulKernels.MatmulNaiveKernel))(
                    Stream, new Index2D(n, m), a, b, c, g);
                break;
            case MatmulTiled:
                int t = Tile;
                var config = new KernelConfig(new Index2D(GpuMath.CeilDiv(n, t), GpuMath.CeilDiv(m, t)), new Index2D(t, t),
                    SharedMemoryConfig.RequestDynamic<float>(2 * t * (t + 1)));
                Grouped<ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmArgs, SpecializedValue<int>>(MatmulKernels.MatmulTiledKernel)(
                    Stream, config, a, b, c, g, SpecializedValue.New(t));
                break;
            default: throw new ArgumentOutOfRangeException(nameof(version), version, "matmul versions are 1 (naive) and 2 (tiled)");
        }
    }
}
