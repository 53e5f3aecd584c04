using System.Numerics;
using System.Numerics.Tensors;

namespace InfoVae.Kernels.Cpu;

/// <summary>The fused loss terms: Bernoulli negative log-likelihood from logits, and the Gaussian KL against N(0, I).</summary>
public static class Losses
{
    /// <summary>
    /// loss = softplus(z) − t·z = max(z, 0) − t·z + log1p(exp(−|z|)): never exponentiates a positive number,
    /// so it is finite for every finite z (PyTorch's BCEWithLogits uses the same form).
    /// <paramref name="scratch"/> holds n elements; it may not alias the others.
    /// </summary>
    public static void BceWithLogits<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> t, Span<T> loss, Span<T> scratch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = z.Length;
        if (t.Length < n || loss.Length < n || scratch.Length < n) throw new ArgumentException("a span is shorter than the logits");
        var s = scratch[..n];
        TensorPrimitives.Abs(z, s);
        TensorPrimitives.Negate(s, s);
        TensorPrimitives.Exp(s, s);
        TensorPrimitives.LogP1(s, s);                       // log1p(exp(−|z|))
        for (int i = 0; i < n; i++) s[i] += T.Max(z[i], T.Zero) - t[i] * z[i];
        s.CopyTo(loss);
    }

    /// <summary>dz += dl · (σ(z) − t); dt += dl · (−z). Either destination may be empty. scratch: n elements.</summary>
    public static void BceWithLogitsBackward<T>(ReadOnlySpan<T> z, ReadOnlySpan<T> t, ReadOnlySpan<T> dl, Span<T> dz, Span<T> dt, Span<T> scratch)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = z.Length;
        if (!dz.IsEmpty)
        {
            var s = scratch[..n];
            TensorPrimitives.Sigmoid(z, s);
            TensorPrimitives.Subtract(s, t[..n], s);
            TensorPrimitives.MultiplyAdd(s, dl[..n], dz[..n], dz[..n]);
        }
        if (!dt.IsEmpty)
            for (int i = 0; i < n; i++) dt[i] -= dl[i] * z[i];
    }

    /// <summary>kl[r] = −½ Σ_j (1 + lv − mu² − exp(lv)) over rows of length z.</summary>
    public static void GaussianKl<T>(ReadOnlySpan<T> mu, ReadOnlySpan<T> logvar, int rows, int z, Span<T> kl)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (mu.Length < rows * z || logvar.Length < rows * z) throw new ArgumentException("mu or logvar is shorter than rows·z");
        if (kl.Length < rows) throw new ArgumentException("destination is too short", nameof(kl));
        T half = T.CreateTruncating(0.5);
        for (int r = 0; r < rows; r++)
        {
            T s = T.Zero;
            for (int j = r * z; j < (r + 1) * z; j++) s += T.Exp(logvar[j]) + mu[j] * mu[j] - T.One - logvar[j];
            kl[r] = half * s;
        }
    }

    /// <summary>dmu += dkl · mu; dlogvar += dkl · ½ (exp(lv) − 1).</summary>
    public static void GaussianKlBackward<T>(ReadOnlySpan<T> mu, ReadOnlySpan<T> logvar, ReadOnlySpan<T> dkl, int rows, int z, Span<T> dmu, Span<T> dlogvar)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        T half = T.CreateTruncating(0.5);
        for (int r = 0; r < rows; r++)
            for (int j = r * z; j < (r + 1) * z; j++)
            {
                if (!dmu.IsEmpty) dmu[j] += dkl[r] * mu[j];
                if (!dlogvar.IsEmpty) dlogvar[j] += dkl[r] * half * (T.Exp(logvar[j]) - T.One);
            }
    }
}
