using System.Numerics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// D[i, j] = max(0, ‖a_i‖² + ‖b_j‖² − 2 a_i·b_j) for A (n×d), B (m×d), D (n×m). Never through a sqrt.
/// </summary>
public static class PairwiseDistance
{
    public static void Forward<T>(ReadOnlySpan<T> a, int n, ReadOnlySpan<T> b, int m, int d, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (a.Length < n * d || b.Length < m * d) throw new ArgumentException("input shorter than n·d");
        if (destination.Length < n * m) throw new ArgumentException("destination is too short", nameof(destination));
        Gemm.Multiply(false, true, n, m, d, -T.One - T.One, a, Math.Max(d, 1), b, Math.Max(d, 1), T.Zero, destination, Math.Max(m, 1));
        for (int i = 0; i < n; i++)
        {
            T ai = SumSq(a.Slice(i * d, d));
            for (int j = 0; j < m; j++)
            {
                T v = destination[i * m + j] + ai + SumSq(b.Slice(j * d, d));
                destination[i * m + j] = v > T.Zero || T.IsNaN(v) ? v : T.Zero;
            }
        }
    }

    /// <summary>
    /// da += ∂/∂A Σ dD ⊙ D, db likewise; where the clamp is active (D == 0) no gradient flows.
    /// ∂D_ij/∂a_i = 2 (a_i − b_j), so da = 2 (rowsum(G) ⊙ A − G B), db = 2 (colsum(G) ⊙ B − Gᵀ A) with G = dD masked.
    /// </summary>
    public static void Backward<T>(ReadOnlySpan<T> a, int n, ReadOnlySpan<T> b, int m, int d, ReadOnlySpan<T> dist, ReadOnlySpan<T> dDist, Span<T> da, Span<T> db)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T two = T.One + T.One;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                T g = dist[i * m + j] > T.Zero ? dDist[i * m + j] : T.Zero;
                if (g == T.Zero) continue;
                for (int k = 0; k < d; k++)
                {
                    T diff = two * g * (a[i * d + k] - b[j * d + k]);
                    if (!da.IsEmpty) da[i * d + k] += diff;
                    if (!db.IsEmpty) db[j * d + k] -= diff;
                }
            }
    }

    // The same FMA chain, in the same order, as Gemm's kernels use for a·b (for d ≤ Gemm.KC), so that identical rows
    // give ‖a‖² + ‖a‖² − 2·a·a = exactly 0 rather than a rounding-level residue of either sign.
    static T SumSq<T>(ReadOnlySpan<T> v) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T s = T.Zero;
        foreach (var t in v) s = T.FusedMultiplyAdd(t, t, s);
        return s;
    }
}
