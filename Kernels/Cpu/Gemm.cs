using System.Numerics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// C = alpha · op(A) · op(B) + beta · C, row-major, op(X) = X or Xᵀ. M, N, K: op(A) is M×K, op(B) is K×N, C is M×N.
/// lda, ldb, ldc: row strides of A, B, C as stored. beta = 0 overwrites C (NaN in C does not leak), as BLAS does.
/// </summary>
public static class Gemm
{
    public static void Multiply<T>(bool transA, bool transB, int m, int n, int k, T alpha,
        ReadOnlySpan<T> a, int lda, ReadOnlySpan<T> b, int ldb, T beta, Span<T> c, int ldc)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(transA, transB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        // Placeholder i-k-j loop; the packed, register-blocked kernel replaces it.
        for (int i = 0; i < m; i++)
        {
            var ci = c.Slice(i * ldc, n);
            if (beta == T.Zero) ci.Clear(); else if (beta != T.One) for (int j = 0; j < n; j++) ci[j] *= beta;
            for (int p = 0; p < k; p++)
            {
                T aip = alpha * (transA ? a[p * lda + i] : a[i * lda + p]);
                if (!transB)
                {
                    var bp = b.Slice(p * ldb, n);
                    for (int j = 0; j < n; j++) ci[j] += aip * bp[j];
                }
                else for (int j = 0; j < n; j++) ci[j] += aip * b[j * ldb + p];
            }
        }
    }

    internal static void Validate(bool transA, bool transB, int m, int n, int k, int aLen, int lda, int bLen, int ldb, int cLen, int ldc)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentException($"negative GEMM size {m}x{n}x{k}");
        int aRows = transA ? k : m, aCols = transA ? m : k, bRows = transB ? n : k, bCols = transB ? k : n;
        if (lda < Math.Max(1, aCols) || ldb < Math.Max(1, bCols) || ldc < Math.Max(1, n))
            throw new ArgumentException("a leading dimension is smaller than its row length");
        if (aRows > 0 && aCols > 0 && aLen < (aRows - 1) * lda + aCols) throw new ArgumentException("A is too short", "a");
        if (bRows > 0 && bCols > 0 && bLen < (bRows - 1) * ldb + bCols) throw new ArgumentException("B is too short", "b");
        if (m > 0 && n > 0 && cLen < (m - 1) * ldc + n) throw new ArgumentException("destination C is too short", "c");
    }
}
