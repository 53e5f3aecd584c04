namespace InfoVae.Kernels.Reference;

public static partial class Reference
{
    /// <summary>D[i, j] = Σ_k (a_ik − b_jk)² for A (n, d), B (m, d), D (n, m), in double.</summary>
    public static void PairwiseDistance(ReadOnlySpan<double> a, int n, ReadOnlySpan<double> b, int m, int d,
        Span<double> destination)
    {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double s = 0;
                for (int k = 0; k < d; k++) { double t = a[i * d + k] - b[j * d + k]; s += t * t; }
                destination[i * m + j] = s;
            }
    }

    /// <summary>
    /// da_i += Σ_j dD_ij · 2 (a_i − b_j), db_j += Σ_i dD_ij · 2 (b_j − a_i), skipping pairs whose given distance
    /// is ≤ 0 (the clamp); an empty span skips that side.
    /// </summary>
    public static void PairwiseDistanceBackward(ReadOnlySpan<double> a, int n, ReadOnlySpan<double> b, int m, int d,
        ReadOnlySpan<double> dist, ReadOnlySpan<double> dDist, Span<double> da, Span<double> db)
    {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                if (dist[i * m + j] <= 0) continue;
                double g = dDist[i * m + j];
                for (int k = 0; k < d; k++)
                {
                    double diff = a[i * d + k] - b[j * d + k];
                    if (!da.IsEmpty) da[i * d + k] += 2 * g * diff;
                    if (!db.IsEmpty) db[j * d + k] -= 2 * g * diff;
                }
            }
    }
}
