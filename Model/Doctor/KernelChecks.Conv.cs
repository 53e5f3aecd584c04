using InfoVae.Engine;
using InfoVae.Kernels;
using static InfoVae.Model.Doctor.Arena;

namespace InfoVae.Model.Doctor;

/// <summary>The conv primitives (im2col, col2im), batch norm, Philox draws and Adam.</summary>
public static partial class KernelChecks
{
    static IEnumerable<OpCheck> ConvAndOptimiser(DoctorSizes s)
    {
        foreach (var g in ConvGeometries(s.Conv, s.ConvBatch).Take(2))
        {
            yield return Im2Col(g);
            yield return Col2Im(g);
        }
        foreach (var (rows, c) in NormShapes(s.Conv, s.ConvBatch))
        {
            yield return BatchNormStats(rows, c);
            yield return BatchNormApply(rows, c);
            yield return BatchNormBackward(rows, c);
        }
        var (r0, c0) = NormShapes(s.Conv, s.ConvBatch).First();
        yield return BatchNormUpdateRunning(r0, c0);
        yield return Random(s.Elements, normal: true);
        yield return Random(s.Elements, normal: false);
        yield return Adam(ParameterCount(s.Mlp));
    }

    /// <summary>The conv net's convolutions as im2col geometries (the transposed ones as their adjoint), encoder
    /// first.</summary>
    public static IEnumerable<ConvGeometry> ConvGeometries(TrainConfig cfg, int b)
    {
        foreach (var l in ConvArch.Encoder(cfg.Channels))
            yield return ConvGeometry.Conv(b, l.InSize, l.InSize, l.In, l.Kernel, l.Kernel, l.Stride, l.Pad);
        foreach (var l in ConvArch.Decoder(cfg.Channels))
            yield return ConvGeometry.Transposed(b, l.InSize, l.InSize, l.Out, l.Kernel, l.Kernel, l.Stride, l.Pad,
                l.OutSize - ConvGeometry.TransposedOutputSize(l.InSize, l.Kernel, l.Stride, l.Pad, 0));
    }

    static string Geometry(ConvGeometry g) =>
        $"({g.N}, {g.H}, {g.W}, {g.C}) k{g.KH} s{g.Stride} p{g.Pad} → ({g.Rows}, {g.PatchLength})";

    static OpCheck Im2Col(ConvGeometry g) => new("im2col", Geometry(g), be =>
    {
        var a = new Arena(be);
        var image = a.Random(100, -1, 1, g.N, g.H, g.W, g.C);
        var cols = a.Poisoned(g.Rows, g.PatchLength);
        return Op(a, () => be.Im2Col(image, g, cols), () => Out("cols", cols, Tolerances.Copy));
    }, Bytes: (double)F * ((double)g.ImageLength + g.ColsLength));

    static OpCheck Col2Im(ConvGeometry g) => new("col2im", Geometry(g), be =>
    {
        var a = new Arena(be);
        var cols = a.Random(101, -1, 1, g.Rows, g.PatchLength);
        var image = a.Random(102, -1, 1, g.N, g.H, g.W, g.C);
        int overlap = (g.KH + g.Stride - 1) / g.Stride * ((g.KW + g.Stride - 1) / g.Stride);
        return Op(a, () => be.Col2Im(cols, g, image), () => Out("image", image, Tolerances.Reduction(overlap)));
    }, Bytes: (double)F * (2.0 * g.ImageLength + g.ColsLength));

    /// <summary>The conv net's batch-norm inputs seen as (rows, channels), each distinct shape once.</summary>
    public static IEnumerable<(int Rows, int C)> NormShapes(TrainConfig cfg, int b) =>
        ConvArch.Encoder(cfg.Channels).Select(l => (b * l.OutSize * l.OutSize, l.Out)).Distinct();

    static OpCheck BatchNormStats(int rows, int c) => new("batchnorm_stats", $"({rows}, {c})", be =>
    {
        var a = new Arena(be);
        var x = a.Random(110, -1, 3, rows, c);
        var mean = a.Poisoned(c);
        var variance = a.Poisoned(c);
        var tol = Tolerances.Reduction(rows);
        return Op(a, () => be.BatchNormStats(x, mean, variance),
            () => Out("mean", mean, tol), () => Out("var", variance, tol));
    }, Bytes: (double)rows * c * F);

    static OpCheck BatchNormApply(int rows, int c) => new("batchnorm_apply", $"({rows}, {c})", be =>
    {
        var a = new Arena(be);
        var x = a.Random(110, -1, 3, rows, c);
        var mean = a.Random(111, 0.5, 1.5, c);
        var variance = a.Random(112, 0.5, 2, c);
        var gamma = a.Random(113, 0.5, 1.5, c);
        var beta = a.Random(114, -0.5, 0.5, c);
        var y = a.Poisoned(rows, c);
        return Op(a, () => be.BatchNormApply(x, mean, variance, 1e-5, gamma, beta, y),
            () => Out("y", y, Tolerances.Arithmetic));
    }, Bytes: 2.0 * rows * c * F);

    static OpCheck BatchNormBackward(int rows, int c) => new("batchnorm_backward", $"({rows}, {c})", be =>
    {
        var a = new Arena(be);
        var x = a.Random(110, -1, 3, rows, c);
        var mean = a.Poisoned(c);
        var variance = a.Poisoned(c);
        be.BatchNormStats(x, mean, variance);
        var gamma = a.Random(113, 0.5, 1.5, c);
        var dy = a.Random(115, -1, 1, rows, c);
        var dx = a.Random(116, -1, 1, rows, c);
        var dg = a.Random(117, -1, 1, c);
        var db = a.Random(118, -1, 1, c);
        var t = Tolerances.Reduction(rows);
        return Op(a, () => be.BatchNormBackward(x, mean, variance, 1e-5, gamma, dy, dx, dg, db),
            () => Out("dx", dx, t), () => Out("dgamma", dg, t), () => Out("dbeta", db, t));
    }, Bytes: 4.0 * rows * c * F);

    static OpCheck BatchNormUpdateRunning(int rows, int c) => new("batchnorm_update_running", $"C={c}, rows={rows}",
        be =>
    {
        var a = new Arena(be);
        var mean = a.Random(111, 0.5, 1.5, c);
        var variance = a.Random(112, 0.5, 2, c);
        var rm = a.Random(119, -0.5, 0.5, c);
        var rv = a.Random(120, 0.5, 1.5, c);
        return Op(a, () => be.BatchNormUpdateRunning(mean, variance, rows, 0.1, rm, rv),
            () => Out("running_mean", rm, Tolerances.MovingAverage),
            () => Out("running_var", rv, Tolerances.MovingAverage));
    }, Bytes: 6.0 * c * F);

    static OpCheck Random(int n, bool normal) => new(normal ? "philox_normal" : "philox_uniform", $"n={n}", be =>
    {
        var a = new Arena(be);
        var t = a.Poisoned(n);
        return Op(a, () => { if (normal) be.Normal(t, 7, 3); else be.Uniform(t, 7, 3); },
            () => Out("t", t, normal ? Tolerances.RandomDraws : Tolerances.Arithmetic));
    }, Bytes: (double)n * F);

    /// <summary>Weights and biases of the MLP of <paramref name="cfg"/>.</summary>
    public static int ParameterCount(TrainConfig cfg)
    {
        int[] enc = [cfg.InputSize, .. cfg.Hidden, 2 * cfg.Latent];
        int[] dec = [cfg.Latent, .. cfg.Hidden.Reverse(), cfg.InputSize];
        int p = 0;
        foreach (var w in new[] { enc, dec })
            for (int l = 0; l + 1 < w.Length; l++) p += (w[l] + 1) * w[l + 1];
        return p;
    }

    /// <summary>Adam at step 10 with moments that are not those of a first step (where the update is lr·sign(g)).
    /// </summary>
    static OpCheck Adam(int p) => new("adam", $"{p} parameters, step 10", be =>
    {
        var a = new Arena(be);
        var w = a.Random(130, -0.1, 0.1, p);
        var g = a.Random(131, -1, 1, p);
        var m = a.Random(132, -0.1, 0.1, p);
        var v = a.Random(133, 0, 0.01, p);
        return Op(a, () => be.Adam(w, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 10),
            () => Out("param", w, Tolerances.Transcendental),
            () => Out("m", m, Tolerances.MovingAverage), () => Out("v", v, Tolerances.MovingAverage));
    }, Bytes: 7.0 * p * F);
}
