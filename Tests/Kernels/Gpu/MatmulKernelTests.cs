using InfoVae.Kernels.Gpu;
using InfoVae.Kernels.Reference;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Kernels.Gpu.GpuTestAccelerator;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>
/// Every matmul version, all four transposes, alpha/beta, sizes off the tile, against Reference.Gemm in double.
/// </summary>
public class MatmulKernelTests
{
    static IEnumerable<TestCaseData> Cases()
    {
        var sizes = new (int M, int K, int N)[] { (1, 1, 1), (3, 17, 5), (33, 5, 31), (17, 31, 3), (5, 0, 3),
            (40, 9, 37) };
        foreach (int version in new[] { GpuKernels.MatmulNaive, GpuKernels.MatmulTiled, GpuKernels.MatmulBlocked })
            foreach (var (m, k, n) in sizes)
                foreach (bool ta in new[] { false, true })
                    foreach (bool tb in new[] { false, true })
                        yield return new TestCaseData(version, m, k, n, ta, tb).SetArgDisplayNames($"v{version}",
                            $"{m}x{k}x{n}", ta ? "Aᵀ" : "A", tb ? "Bᵀ" : "B");
    }

    [TestCaseSource(nameof(Cases))]
    public void Matches_reference_gemm(int version, int m, int k, int n, bool transA, bool transB)
    {
        // Leading dimensions wider than the rows (+2) reach the stride arithmetic.
        int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
        int lda = aCols + 2, ldb = bCols + 2, ldc = n + 2;
        var a = F(Rand.Uniform(Math.Max(aRows * lda, 1), 41)); var b = F(Rand.Uniform(Math.Max(bRows * ldb, 1), 42));
        var c0 = F(Rand.Uniform(m * ldc, 43));
        // 2×2 groups only for the plain product: each group's barriers cost on the CPU accelerator.
        foreach (var (alpha, beta, grid) in new[] { (1.0, 0.0, K), (0.5, -1.5, K), (1.0, 0.0, Tile2) })
        {
            if (version == GpuKernels.MatmulNaive && grid == Tile2) continue;
            string label = $"tile {grid.Tile}";
            var expected = (double[])c0.Clone();
            Reference.Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);
            using var ga = Dev(a); using var gb = Dev(b); using var gc = Dev(c0);
            grid.Matmul(transA, transB, m, n, k, (float)alpha, ga.View, lda, gb.View, ldb, (float)beta, gc.View, ldc,
                version);
            Close.Assert(expected, Host(gc), 1e-5, 1e-5, $"{label} alpha={alpha} beta={beta}");
        }
    }

    [Test]
    public void Small_integer_product_by_hand()
    {
        // [[1,2,3],[4,5,6]] · [[7,8],[9,10],[11,12]] = [[58,64],[139,154]]
        using var a = Dev(new float[] { 1, 2, 3, 4, 5, 6 }); using var b = Dev(new float[] { 7, 8, 9, 10, 11, 12 });
        foreach (int version in new[] { GpuKernels.MatmulNaive, GpuKernels.MatmulTiled, GpuKernels.MatmulBlocked })
        {
            // beta = 0 ignores old C, NaN too
            using var c = Dev(new[] { float.NaN, float.NaN, float.NaN, float.NaN });
            K.Matmul(false, false, 2, 2, 3, 1f, a.View, 3, b.View, 2, 0f, c.View, 2, version);
            Assert.That(Host(c), Is.EqualTo(new float[] { 58, 64, 139, 154 }), $"v{version}");
        }
    }
}
