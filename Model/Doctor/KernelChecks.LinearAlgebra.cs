using InfoVae.Engine;
using static InfoVae.Model.Doctor.Arena;

namespace InfoVae.Model.Doctor;

/// <summary>GEMM (square and the MLP's linear shapes), sums, transpose, and the loss kernels (BCE, KL).</summary>
public static partial class KernelChecks
{
    static IEnumerable<OpCheck> LinearAlgebra(DoctorSizes s)
    {
        int r = s.Rows, c = s.Cols;
        foreach (int n in s.Gemm) yield return Gemm($"n={n}", false, false, n, n, n, accumulate: false);
        foreach (var (name, m, n, k, ta, tb) in LinearShapes(s.Mlp, s.MlpBatch))
            yield return Gemm(name, ta, tb, m, n, k, accumulate: ta || !tb);
        yield return Sum(r, c, -1);
        yield return Sum(r, c, 0);
        yield return Sum(r, c, 1);
        var (rows, channels) = NormShapes(s.Conv, s.ConvBatch).First();   // the conv bias gradient: a tall column sum
        yield return Sum(rows, channels, 0);
        yield return SumBackward(r, c, -1);
        yield return SumBackward(r, c, 0);
        yield return Transpose(r, c);
        yield return Bce(r, c);
        yield return BceBackward(r, c);
        yield return Kl(s.MlpBatch, s.Mlp.Latent);
        yield return KlBackward(s.MlpBatch, s.Mlp.Latent);
    }

    /// <summary>
    /// The MLP's GEMMs at batch B, per layer in → out (W stored (out, in)): forward y = x·Wᵀ (B, out), the input
    /// gradient dx = dy·W (B, in) and the weight gradient dW = dyᵀ·x (out, in). (name, M, N, K, transA, transB).
    /// </summary>
    public static IEnumerable<(string Name, int M, int N, int K, bool TransA, bool TransB)> LinearShapes(
        TrainConfig cfg, int b)
    {
        int[] enc = [cfg.InputSize, .. cfg.Hidden, 2 * cfg.Latent];
        int[] dec = [cfg.Latent, .. cfg.Hidden.Reverse(), cfg.InputSize];
        foreach (var (widths, part) in new[] { (enc, "encoder"), (dec, "decoder") })
            for (int l = 0; l + 1 < widths.Length; l++)
            {
                int i = widths[l], o = widths[l + 1];
                string layer = $"{part} {i}→{o}, batch {b}";
                yield return ($"{layer}: y = x·Wᵀ", b, o, i, false, true);
                yield return ($"{layer}: dx = dy·W", b, i, o, false, false);
                yield return ($"{layer}: dW = dyᵀ·x", o, i, b, true, false);
            }
    }

    /// <summary>C (M, N) = op(A)·op(B): beta = 0 into a NaN-filled C (it must not leak), or beta = 1 onto random values
    /// (the gradients accumulate).</summary>
    static OpCheck Gemm(string name, bool transA, bool transB, int m, int n, int k, bool accumulate) =>
        new("gemm", name, be =>
    {
        var ar = new Arena(be);
        var a = transA ? ar.Random(50, -1, 1, k, m) : ar.Random(50, -1, 1, m, k);
        var b = transB ? ar.Random(51, -1, 1, n, k) : ar.Random(51, -1, 1, k, n);
        var c = accumulate ? ar.Random(52, -1, 1, m, n) : ar.Poisoned(m, n);
        float beta = accumulate ? 1 : 0;
        return Op(ar, () => be.Matmul(a, transA, b, transB, c, 1f, beta), () => Out("c", c, Tolerances.Reduction(k)));
    }, Flop: 2.0 * m * n * k, Bytes: (double)F * ((double)m * k + (double)k * n + 2.0 * m * n));

    static string AxisCase(int r, int c, int axis) => axis < 0 ? $"all of ({r}, {c})" : $"axis {axis} of ({r}, {c})";

    /// <summary>y = scale·Σ over an axis (-1: everything), written over NaN; then the same sum added onto random
    /// values.</summary>
    static OpCheck Sum(int r, int c, int axis) => new("sum", AxisCase(r, c, axis), be =>
    {
        var a = new Arena(be);
        var x = a.Random(60, -1, 1, r, c);
        int length = axis < 0 ? 1 : axis == 0 ? c : r, terms = r * c / length;
        var y = axis < 0 ? a.Own(Tensor<float>.Scalar(float.NaN, be)) : a.Poisoned(length);
        var acc = axis < 0 ? a.Own(Tensor<float>.Scalar(0.25f, be)) : a.Random(61, -1, 1, length);
        return Op(a, () =>
            {
                be.Sum(x, axis, y, 1f / r, accumulate: false);
                be.Sum(x, axis, acc, 1f, accumulate: true);
            },
            () => Out("y", y, Tolerances.Reduction(terms)), () => Out("y+=", acc, Tolerances.Reduction(terms)));
    }, Bytes: 2.0 * r * c * F);

    static OpCheck SumBackward(int r, int c, int axis) => new("sum_backward", AxisCase(r, c, axis), be =>
    {
        var a = new Arena(be);
        var dy = axis < 0 ? a.Own(Tensor<float>.Scalar(0.75f, be)) : a.Random(62, -1, 1, c);
        var dx = a.Random(63, -1, 1, r, c);
        return Op(a, () => be.SumBackward(dy, axis, dx, 0.5f), () => Out("dx", dx, Tolerances.Arithmetic));
    }, Bytes: 2.0 * r * c * F);

    static OpCheck Transpose(int r, int c) => new("transpose", $"({r}, {c})", be =>
    {
        var a = new Arena(be);
        var x = a.Random(64, -1, 1, r, c);
        var y = a.Poisoned(c, r);
        return Op(a, () => be.Transpose(x, y, accumulate: false), () => Out("y", y, Tolerances.Copy));
    }, Bytes: 2.0 * r * c * F);

    static OpCheck Bce(int r, int c) => new("bce_with_logits", $"({r}, {c})", be =>
    {
        var a = new Arena(be);
        var z = a.Random(70, -8, 8, r, c);
        var t = a.Random(71, 0, 1, r, c);
        var loss = a.Poisoned(r, c);
        return Op(a, () => be.BceWithLogits(z, t, loss), () => Out("loss", loss, Tolerances.Transcendental));
    }, Bytes: 3.0 * r * c * F);

    static OpCheck BceBackward(int r, int c) => new("bce_with_logits_backward", $"({r}, {c})", be =>
    {
        var a = new Arena(be);
        var z = a.Random(70, -8, 8, r, c);
        var t = a.Random(71, 0, 1, r, c);
        var dl = a.Random(72, 0, 1, r, c);
        var dz = a.Random(73, -1, 1, r, c);
        return Op(a, () => be.BceWithLogitsBackward(z, t, dl, dz, null),
            () => Out("dlogits", dz, Tolerances.Transcendental));
    }, Bytes: 5.0 * r * c * F);

    static OpCheck Kl(int b, int z) => new("gaussian_kl", $"({b}, {z})", be =>
    {
        var a = new Arena(be);
        var mu = a.Random(74, -2, 2, b, z);
        var lv = a.Random(75, -3, 2, b, z);
        var kl = a.Poisoned(b);
        return Op(a, () => be.GaussianKl(mu, lv, kl), () => Out("kl", kl, Tolerances.Transcendental));
    }, Bytes: 2.0 * b * z * F);

    static OpCheck KlBackward(int b, int z) => new("gaussian_kl_backward", $"({b}, {z})", be =>
    {
        var a = new Arena(be);
        var mu = a.Random(74, -2, 2, b, z);
        var lv = a.Random(75, -3, 2, b, z);
        var dkl = a.Random(76, -1, 1, b);
        var dmu = a.Random(77, -1, 1, b, z);
        var dlv = a.Random(78, -1, 1, b, z);
        return Op(a, () => be.GaussianKlBackward(mu, lv, dkl, dmu, dlv),
            () => Out("dmu", dmu, Tolerances.Transcendental), () => Out("dlogvar", dlv, Tolerances.Transcendental));
    }, Bytes: 6.0 * b * z * F);
}
