namespace InfoVae.Kernels.Reference;

/// <summary>Scalar double-precision references that the fast kernels are tested against.</summary>
public static partial class Reference
{
    /// <summary>C = alpha · op(A) · op(B) + beta · C, row-major, accumulated in double.</summary>
    public static void Gemm(bool transA, bool transB, int m, int n, int k, double alpha,
        ReadOnlySpan<double> a, int lda, ReadOnlySpan<double> b, int ldb, double beta, Span<double> c, int ldc)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int p = 0; p < k; p++)
                    s += (transA ? a[p * lda + i] : a[i * lda + p]) * (transB ? b[j * ldb + p] : b[p * ldb + j]);
                c[i * ldc + j] = alpha * s + (beta == 0 ? 0 : beta * c[i * ldc + j]);
            }
    }
}
