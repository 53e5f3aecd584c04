using ILGPU;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

/// <summary>
/// D[i, j] = ‖a_i − b_j‖² for A (n, d), B (m, d), D (n, m), summed from differences (so ≥ 0 with no clamp needed and
/// exactly 0 for equal rows; Kernels/Cpu/PairwiseDistance expands ‖a‖² + ‖b‖² − 2a·b and clamps at 0). The backward
/// lets no gradient through where D = 0, as the CPU's clamp does. One thread per output element, each a fixed loop.
/// The two forms agree to (d + 2)·2⁻²³·(‖a_i‖² + ‖b_j‖²) absolute: the expansion's rounding, which near D = 0 is all
/// the CPU's value holds, while the differences keep D to a few ulp of itself (and an exact 0 for equal rows).
/// Tested at near-zero distances in Tests/Kernels/Gpu/PairwiseDistanceKernelTests.cs. The backward's two sides are
/// separate launches, so da and db may be one buffer (D(x, x)).
/// </summary>
public static class PairwiseDistanceKernels
{
    /// <summary>dist[i, j] = Σ_k (a_ik − b_jk)², one thread per pair.</summary>
    public static void SquaredDistanceKernel(Index1D idx, ArrayView<float> a, ArrayView<float> b, ArrayView<float> dist,
        int m, int d)
    {
        int i = idx / m, j = idx - i * m;
        float s = 0f;
        for (int k = 0; k < d; k++) { float t = a[i * d + k] - b[j * d + k]; s += t * t; }
        dist[idx] = s;
    }

    /// <summary>da[i, k] += 2 Σ_j g_ij (a_ik − b_jk) with g = dD where D > 0; idx = i·d + k.</summary>
    public static void SquaredDistanceGradAKernel(Index1D idx, ArrayView<float> a, ArrayView<float> b,
        ArrayView<float> dist, ArrayView<float> dDist,
        ArrayView<float> da, int m, int d)
    {
        int i = idx / d, k = idx - i * d;
        float ai = a[idx], acc = 0f;
        for (int j = 0; j < m; j++)
            if (dist[i * m + j] > 0f) acc += dDist[i * m + j] * (ai - b[j * d + k]);
        da[idx] += 2f * acc;
    }

    /// <summary>db[j, k] −= 2 Σ_i g_ij (a_ik − b_jk); idx = j·d + k.</summary>
    public static void SquaredDistanceGradBKernel(Index1D idx, ArrayView<float> a, ArrayView<float> b,
        ArrayView<float> dist, ArrayView<float> dDist,
        ArrayView<float> db, int n, int m, int d)
    {
        int j = idx / d, k = idx - j * d;
        float bj = b[idx], acc = 0f;
        for (int i = 0; i < n; i++)
            if (dist[i * m + j] > 0f) acc += dDist[i * m + j] * (a[i * d + k] - bj);
        db[idx] -= 2f * acc;
    }
}

public sealed partial class GpuKernels
{
    /// <summary>dist (n, m) = the squared distances between the rows of a (n, d) and b (m, d).</summary>
    public void SquaredDistance(ArrayView<float> a, int n, ArrayView<float> b, int m, int d, ArrayView<float> dist)
    {
        int pairs = Threads(n, m);
        if (pairs == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, int,
            int>(PairwiseDistanceKernels.SquaredDistanceKernel)(Stream, pairs, a, b, dist, m, d);
    }

    /// <summary>da += ∂/∂A Σ dD ⊙ D, db likewise; an empty view skips that side.</summary>
    public void SquaredDistanceBackward(ArrayView<float> a, int n, ArrayView<float> b, int m, int d,
        ArrayView<float> dist, ArrayView<float> dDist,
        ArrayView<float> da, ArrayView<float> db)
    {
        if (da.Length > 0 && Threads(n, d) > 0)
            Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int,
                int>(PairwiseDistanceKernels.SquaredDistanceGradAKernel)(
                Stream, Threads(n, d), a, b, dist, dDist, da, m, d);
        if (db.Length > 0 && Threads(m, d) > 0)
            Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, int, int,
                int>(PairwiseDistanceKernels.SquaredDistanceGradBKernel)(
                Stream, Threads(m, d), a, b, dist, dDist, db, n, m, d);
    }
}
