using InfoVae.Engine;
using InfoVae.Kernels;
using InfoVae.Kernels.Cpu;
using static InfoVae.Model.Doctor.Arena;

namespace InfoVae.Model.Doctor;

/// <summary>
/// Every primitive of <see cref="IBackend{T}"/> at the model's sizes, one <see cref="OpCheck"/> per op and size.
/// E = elementwise length, R × C = a 2-D operand (a batch of images), B = batch, Z = latent, n × d = point sets.
/// Each check builds its own inputs on the backend it is given (see <see cref="Arena"/>).
/// </summary>
public static class KernelChecks
{
    const int F = sizeof(float);

    public static IEnumerable<OpCheck> All(DoctorSizes s)
    {
        int e = s.Elements, r = s.Rows, c = s.Cols;
        yield return Fill(1);
        yield return Fill(e);
        yield return Upload(e);
        yield return Download(e);
        yield return CopyRows(r, s.Mlp.Latent);
        yield return AllFinite(e);
        foreach (var op in Enum.GetValues<UnaryOp>()) yield return Unary(op, e);
        foreach (var op in Enum.GetValues<UnaryOp>()) yield return UnaryBackward(op, e);
        foreach (var op in Enum.GetValues<BinaryOp>()) yield return Binary(op, [r, c], [r, c]);
        foreach (var op in Enum.GetValues<BinaryOp>()) yield return Binary(op, [r, c], [c]);
        foreach (var op in Enum.GetValues<BinaryOp>()) yield return BinaryBackward(op, [r, c], [r, c]);
        foreach (var op in Enum.GetValues<BinaryOp>()) yield return BinaryBackward(op, [r, c], [c]);
        foreach (int n in s.Gemm) yield return Gemm($"n={n}", false, false, n, n, n, accumulate: false);
        foreach (var (name, m, n, k, ta, tb) in LinearShapes(s.Mlp, s.MlpBatch)) yield return Gemm(name, ta, tb, m, n, k, accumulate: ta || !tb);
        yield return Sum(r, c, -1);
        yield return Sum(r, c, 0);
        yield return Sum(r, c, 1);
        var bias = ConvBiasShape(s);
        yield return Sum(bias.Rows, bias.C, 0);
        yield return SumBackward(r, c, -1);
        yield return SumBackward(r, c, 0);
        yield return Transpose(r, c);
        yield return Bce(r, c);
        yield return BceBackward(r, c);
        yield return Kl(s.MlpBatch, s.Mlp.Latent);
        yield return KlBackward(s.MlpBatch, s.Mlp.Latent);
        foreach (int n in s.DistN)
            foreach (int d in s.DistD)
            {
                yield return SquaredDistance(n, d);
                yield return SquaredDistanceBackward(n, d, self: false);
            }
        yield return SquaredDistanceBackward(s.DistN[0], s.DistD[0], self: true);
        foreach (int n in s.DistN)
            foreach (int d in s.DistD)
                foreach (var kernel in new[] { MmdKernel.Imq, MmdKernel.Rbf })
                    yield return MmdForwardBackward(n, d, kernel, self: false);
        foreach (int n in s.DistN.Take(2)) yield return MmdForwardBackward(n, s.DistD[0], MmdKernel.Imq, self: true);
        foreach (var g in ConvGeometries(s.Conv, s.ConvBatch).Take(2))
        {
            yield return Im2Col(g);
            yield return Col2Im(g);
        }
        foreach (var (rows, ch) in NormShapes(s.Conv, s.ConvBatch))
        {
            yield return BatchNormStats(rows, ch);
            yield return BatchNormApply(rows, ch);
            yield return BatchNormBackward(rows, ch);
        }
        yield return BatchNormUpdateRunning(bias.Rows, bias.C);
        yield return Random(e, normal: true);
        yield return Random(e, normal: false);
        int p = ParameterCount(s.Mlp);
        yield return Adam(p);
    }

    // ---- memory and elementwise ----

    static OpCheck Fill(int n) => new("fill", n == 1 ? "n=1 (launch latency)" : $"n={n}", be =>
    {
        var a = new Arena(be);
        var t = a.Poisoned(n);
        return new PreparedOp(() => be.Fill(t, 0.5f), () => [Out("t", t, Tolerances.Copy)], a.Dispose);
    }, Bytes: (double)n * F);

    static OpCheck Upload(int n) => new("upload", $"n={n} (host to device)", be =>
    {
        var a = new Arena(be);
        var host = Uniform(n, 1, -1, 1);
        var t = a.Poisoned(n);
        return new PreparedOp(() => be.Upload(host, t), () => [Out("t", t, Tolerances.Copy)], a.Dispose);
    }, Bytes: (double)n * F);

    static OpCheck Download(int n) => new("download", $"n={n} (device to host)", be =>
    {
        var a = new Arena(be);
        var t = a.Random(2, -1, 1, n);
        var host = new float[n];
        return new PreparedOp(() => be.Download(t, host), () => [new CheckOutput("host", (float[])host.Clone(), Tolerances.Copy)], a.Dispose);
    }, Bytes: (double)n * F);

    /// <summary>The mu/logvar split: a (B, Z) window with row stride 2Z copied out, then added back.</summary>
    static OpCheck CopyRows(int b, int z) => new("copy_rows", $"({b}, {z}) of ({b}, {2 * z})", be =>
    {
        var a = new Arena(be);
        var h = a.Random(3, -1, 1, b, 2 * z);
        var mu = a.Poisoned(b, z);
        var acc = a.Random(4, -1, 1, b, 2 * z);
        var (logvar, window) = (h.Slice(z, z), acc.Slice(0, z));    // strided views (tape nodes until the reset below)
        return new PreparedOp(() =>
        {
            be.CopyRows(logvar, mu, accumulate: false);
            be.CopyRows(mu, window, accumulate: true);
        }, () => [Out("copy", mu, Tolerances.Copy), Out("accumulate", acc, Tolerances.Arithmetic)], () => { Tape<float>.Current.Reset(); a.Dispose(); });
    }, Bytes: 5.0 * b * z * F);

    static OpCheck AllFinite(int n) => new("all_finite", $"n={n}, one NaN", be =>
    {
        var a = new Arena(be);
        var host = Uniform(n, 5, -1, 1);
        var finite = a.From(host, n);
        host[n / 2] = float.NaN;
        var bad = a.From(host, n);
        var flags = new float[2];
        return new PreparedOp(() => { flags[0] = be.AllFinite(finite) ? 1 : 0; flags[1] = be.AllFinite(bad) ? 1 : 0; },
            () => [new CheckOutput("finite, with NaN", (float[])flags.Clone(), Tolerances.Copy)], a.Dispose);
    }, Bytes: 2.0 * n * F);

    static (double Lo, double Hi, float P, Tolerance Tol) UnaryCase(UnaryOp op) => op switch
    {
        UnaryOp.Neg or UnaryOp.Relu => (-4, 4, 0, Tolerances.Copy),
        UnaryOp.LeakyRelu => (-4, 4, 0.2f, Tolerances.Arithmetic),
        UnaryOp.AddScalar => (-4, 4, 0.5f, Tolerances.Arithmetic),
        UnaryOp.MulScalar => (-4, 4, 1.5f, Tolerances.Arithmetic),
        UnaryOp.Sqrt => (0.05, 4, 0, Tolerances.Arithmetic),
        UnaryOp.Log => (0.05, 4, 0, Tolerances.Transcendental),
        _ => (-5, 5, 0, Tolerances.Transcendental),
    };

    static string Snake(Enum op) => string.Concat(op.ToString().Select((ch, i) => char.IsUpper(ch) && i > 0 ? "_" + char.ToLowerInvariant(ch) : char.ToLowerInvariant(ch).ToString()));

    static OpCheck Unary(UnaryOp op, int n) => new("unary", $"{Snake(op)}, n={n}", be =>
    {
        var (lo, hi, p, tol) = UnaryCase(op);
        var a = new Arena(be);
        var x = a.Random(10 + (int)op, lo, hi, n);
        var y = a.Poisoned(n);
        return new PreparedOp(() => be.Unary(op, x, y, p), () => [Out("y", y, tol)], a.Dispose);
    }, Bytes: 2.0 * n * F);

    static OpCheck UnaryBackward(UnaryOp op, int n) => new("unary_backward", $"{Snake(op)}, n={n}", be =>
    {
        var (lo, hi, p, tol) = UnaryCase(op);
        var a = new Arena(be);
        var x = a.Random(10 + (int)op, lo, hi, n);
        var y = a.Poisoned(n);
        be.Unary(op, x, y, p);
        var dy = a.Random(30, -1, 1, n);
        var dx = a.Random(31, -1, 1, n);
        var t = tol == Tolerances.Copy ? Tolerances.Arithmetic : tol;
        return new PreparedOp(() => be.UnaryBackward(op, x, y, dy, dx, p), () => [Out("dx", dx, t)], a.Dispose);
    }, Bytes: 5.0 * n * F);

    static string ShapeText(int[] shape) => "(" + string.Join(", ", shape) + ")";

    static (double Lo, double Hi) BinaryRange(BinaryOp op) => op == BinaryOp.Div ? (0.5, 2) : (-2, 2);

    static OpCheck Binary(BinaryOp op, int[] sa, int[] sb) => new("binary", $"{Snake(op)}, {ShapeText(sa)} ∘ {ShapeText(sb)}", be =>
    {
        var a = new Arena(be);
        var (lo, hi) = BinaryRange(op);
        var x = a.Random(40, -2, 2, sa);
        var y = a.Random(41, lo, hi, sb);
        var z = a.Poisoned(sa);
        return new PreparedOp(() => be.Binary(op, x, y, z), () => [Out("c", z, Tolerances.Arithmetic)], a.Dispose);
    }, Bytes: 3.0 * new Shape(sa).Length * F);

    static OpCheck BinaryBackward(BinaryOp op, int[] sa, int[] sb) => new("binary_backward", $"{Snake(op)}, {ShapeText(sa)} ∘ {ShapeText(sb)}", be =>
    {
        var a = new Arena(be);
        var (lo, hi) = BinaryRange(op);
        var x = a.Random(40, -2, 2, sa);
        var y = a.Random(41, lo, hi, sb);
        var dy = a.Random(42, -1, 1, sa);
        var dx = a.Random(43, -1, 1, sa);
        var db = a.Random(44, -1, 1, sb);
        int reduced = new Shape(sa).Length / new Shape(sb).Length;
        return new PreparedOp(() => be.BinaryBackward(op, x, y, dy, dx, db),
            () => [Out("da", dx, Tolerances.Arithmetic), Out("db", db, Tolerances.Reduction(reduced))], a.Dispose);
    }, Bytes: 6.0 * new Shape(sa).Length * F);

    // ---- GEMM ----

    /// <summary>
    /// The MLP's GEMMs at batch B, per layer in → out (W stored (out, in)): forward y = x·Wᵀ (B, out), the input
    /// gradient dx = dy·W (B, in) and the weight gradient dW = dyᵀ·x (out, in). (name, M, N, K, transA, transB).
    /// </summary>
    public static IEnumerable<(string Name, int M, int N, int K, bool TransA, bool TransB)> LinearShapes(TrainConfig cfg, int b)
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

    /// <summary>C (M, N) = op(A)·op(B), beta = 0 into a NaN-filled C (it must not leak), or beta = 1 for the gradients.</summary>
    static OpCheck Gemm(string name, bool transA, bool transB, int m, int n, int k, bool accumulate) => new("gemm", name, be =>
    {
        var ar = new Arena(be);
        var a = transA ? ar.Random(50, -1, 1, k, m) : ar.Random(50, -1, 1, m, k);
        var b = transB ? ar.Random(51, -1, 1, n, k) : ar.Random(51, -1, 1, k, n);
        var c = accumulate ? ar.Random(52, -1, 1, m, n) : ar.Poisoned(m, n);
        float beta = accumulate ? 1 : 0;
        return new PreparedOp(() => be.Matmul(a, transA, b, transB, c, 1f, beta), () => [Out("c", c, Tolerances.Reduction(k))], ar.Dispose);
    }, Flop: 2.0 * m * n * k, Bytes: (double)F * ((double)m * k + (double)k * n + 2.0 * m * n));

    // ---- reductions, layout, losses ----

    /// <summary>y = scale·Σ over an axis (-1: everything), written over NaN; then the same sum added onto random values.</summary>
    static OpCheck Sum(int r, int c, int axis) => new("sum", axis < 0 ? $"all of ({r}, {c})" : $"axis {axis} of ({r}, {c})", be =>
    {
        var a = new Arena(be);
        var x = a.Random(60, -1, 1, r, c);
        int length = axis < 0 ? 1 : axis == 0 ? c : r, terms = r * c / length;
        var y = axis < 0 ? a.Own(Tensor<float>.Scalar(float.NaN, be)) : a.Poisoned(length);
        var acc = axis < 0 ? a.Own(Tensor<float>.Scalar(0.25f, be)) : a.Random(61, -1, 1, length);
        return new PreparedOp(() =>
        {
            be.Sum(x, axis, y, 1f / r, accumulate: false);
            be.Sum(x, axis, acc, 1f, accumulate: true);
        }, () => [Out("y", y, Tolerances.Reduction(terms)), Out("y+=", acc, Tolerances.Reduction(terms))], a.Dispose);
    }, Bytes: 2.0 * r * c * F);

    static OpCheck SumBackward(int r, int c, int axis) => new("sum_backward", axis < 0 ? $"all of ({r}, {c})" : $"axis {axis} of ({r}, {c})", be =>
    {
        var a = new Arena(be);
        var dy = axis < 0 ? a.Own(Tensor<float>.Scalar(0.75f, be)) : a.Random(62, -1, 1, c);
        var dx = a.Random(63, -1, 1, r, c);
        return new PreparedOp(() => be.SumBackward(dy, axis, dx, 0.5f), () => [Out("dx", dx, Tolerances.Arithmetic)], a.Dispose);
    }, Bytes: 2.0 * r * c * F);

    static OpCheck Transpose(int r, int c) => new("transpose", $"({r}, {c})", be =>
    {
        var a = new Arena(be);
        var x = a.Random(64, -1, 1, r, c);
        var y = a.Poisoned(c, r);
        return new PreparedOp(() => be.Transpose(x, y, accumulate: false), () => [Out("y", y, Tolerances.Copy)], a.Dispose);
    }, Bytes: 2.0 * r * c * F);

    static OpCheck Bce(int r, int c) => new("bce_with_logits", $"({r}, {c})", be =>
    {
        var a = new Arena(be);
        var z = a.Random(70, -8, 8, r, c);
        var t = a.Random(71, 0, 1, r, c);
        var loss = a.Poisoned(r, c);
        return new PreparedOp(() => be.BceWithLogits(z, t, loss), () => [Out("loss", loss, Tolerances.Transcendental)], a.Dispose);
    }, Bytes: 3.0 * r * c * F);

    static OpCheck BceBackward(int r, int c) => new("bce_with_logits_backward", $"({r}, {c})", be =>
    {
        var a = new Arena(be);
        var z = a.Random(70, -8, 8, r, c);
        var t = a.Random(71, 0, 1, r, c);
        var dl = a.Random(72, 0, 1, r, c);
        var dz = a.Random(73, -1, 1, r, c);
        return new PreparedOp(() => be.BceWithLogitsBackward(z, t, dl, dz, null), () => [Out("dlogits", dz, Tolerances.Transcendental)], a.Dispose);
    }, Bytes: 5.0 * r * c * F);

    static OpCheck Kl(int b, int z) => new("gaussian_kl", $"({b}, {z})", be =>
    {
        var a = new Arena(be);
        var mu = a.Random(74, -2, 2, b, z);
        var lv = a.Random(75, -3, 2, b, z);
        var kl = a.Poisoned(b);
        return new PreparedOp(() => be.GaussianKl(mu, lv, kl), () => [Out("kl", kl, Tolerances.Transcendental)], a.Dispose);
    }, Bytes: 2.0 * b * z * F);

    static OpCheck KlBackward(int b, int z) => new("gaussian_kl_backward", $"({b}, {z})", be =>
    {
        var a = new Arena(be);
        var mu = a.Random(74, -2, 2, b, z);
        var lv = a.Random(75, -3, 2, b, z);
        var dkl = a.Random(76, -1, 1, b);
        var dmu = a.Random(77, -1, 1, b, z);
        var dlv = a.Random(78, -1, 1, b, z);
        return new PreparedOp(() => be.GaussianKlBackward(mu, lv, dkl, dmu, dlv),
            () => [Out("dmu", dmu, Tolerances.Transcendental), Out("dlogvar", dlv, Tolerances.Transcendental)], a.Dispose);
    }, Bytes: 6.0 * b * z * F);

    // ---- pairwise distances and MMD ----

    static OpCheck SquaredDistance(int n, int d) => new("sqdist", $"n={n}, d={d}", be =>
    {
        var a = new Arena(be);
        var x = a.Random(80, -2, 2, n, d);
        var y = a.Random(81, -2, 2, n, d);
        var dist = a.Poisoned(n, n);
        return new PreparedOp(() => be.SquaredDistance(x, y, dist), () => [Out("d", dist, Tolerances.Reduction(d))], a.Dispose);
    }, Flop: 3.0 * n * n * d, Bytes: (double)F * ((double)n * n + 2.0 * n * d));

    /// <summary>self: a and b the same tensor, and both gradients into one buffer (sqdist(x, x)).</summary>
    static OpCheck SquaredDistanceBackward(int n, int d, bool self) => new("sqdist_backward", $"n={n}, d={d}{(self ? ", x = y" : "")}", be =>
    {
        var a = new Arena(be);
        var x = a.Random(80, -2, 2, n, d);
        var y = self ? x : a.Random(81, -2, 2, n, d);
        var dist = a.Poisoned(n, n);
        be.SquaredDistance(x, y, dist);
        var dd = a.Random(82, -1, 1, n, n);
        var dx = a.Random(83, -1, 1, n, d);
        var dy = self ? dx : a.Random(84, -1, 1, n, d);
        var outs = new List<Func<CheckOutput>> { () => Out("dx", dx, Tolerances.Reduction(2 * n)) };
        if (!self) outs.Add(() => Out("dy", dy, Tolerances.Reduction(2 * n)));
        return new PreparedOp(() => be.SquaredDistanceBackward(x, y, dist, dd, dx, dy), () => outs.Select(o => o()).ToList(), a.Dispose);
    }, Flop: 4.0 * n * n * d, Bytes: (double)F * (2.0 * n * n + 4.0 * n * d));

    /// <summary>
    /// The loss's MMD²(z, prior) and its gradient with respect to z (the prior needs none), as one training step
    /// runs them; self: MMD²(x, x) with both gradients into one buffer. Napkin FLOP count: per pair, the distance
    /// (3d) and the kernel summed over S scales (~4S), forward over 3 pair sets and backward over 2 (~5d + 4S).
    /// </summary>
    static OpCheck MmdForwardBackward(int n, int d, MmdKernel kernel, bool self)
    {
        var spec = new MmdSpec(kernel, kernel == MmdKernel.Imq ? MmdSpec.WaeScales : [1.0]);   // train's defaults per kernel
        int s = spec.Scales.Length;
        return new OpCheck("mmd_fwd_bwd", $"n={n}, d={d}, {kernel.ToString().ToLowerInvariant()}{(self ? ", x = y" : "")}", be =>
        {
            var a = new Arena(be);
            var x = a.Random(90, -2, 2, n, d);
            var y = self ? x : a.Random(91, -2.5, 2.5, n, d);
            var value = a.Own(Tensor<float>.Scalar(float.NaN, be));
            var up = a.Own(Tensor<float>.Scalar(1000f, be));
            var dx = a.Random(92, -1, 1, n, d);
            var dy = self ? dx : null;
            return new PreparedOp(() =>
            {
                be.Mmd(x, y, spec, value);
                be.MmdBackward(x, y, spec, up, dx, dy);
            }, () => [Out("mmd", value, Tolerances.Mmd(n)), Out("dx", dx, Tolerances.Mmd(n))], a.Dispose);
        }, Flop: 3.0 * n * n * (3 * d + 4 * s) + 2.0 * n * n * (5 * d + 4 * s), Bytes: 4.0 * n * d * F);
    }

    // ---- conv primitives and batch norm ----

    /// <summary>The conv net's convolutions as im2col geometries (the transposed ones as their adjoint), encoder first.</summary>
    public static IEnumerable<ConvGeometry> ConvGeometries(TrainConfig cfg, int b)
    {
        foreach (var l in ConvArch.Encoder(cfg.Channels))
            yield return ConvGeometry.Conv(b, l.InSize, l.InSize, l.In, l.Kernel, l.Kernel, l.Stride, l.Pad);
        foreach (var l in ConvArch.Decoder(cfg.Channels))
            yield return ConvGeometry.Transposed(b, l.InSize, l.InSize, l.Out, l.Kernel, l.Kernel, l.Stride, l.Pad,
                l.OutSize - ConvGeometry.TransposedOutputSize(l.InSize, l.Kernel, l.Stride, l.Pad, 0));
    }

    static string Geometry(ConvGeometry g) => $"({g.N}, {g.H}, {g.W}, {g.C}) k{g.KH} s{g.Stride} p{g.Pad} → ({g.Rows}, {g.PatchLength})";

    static OpCheck Im2Col(ConvGeometry g) => new("im2col", Geometry(g), be =>
    {
        var a = new Arena(be);
        var image = a.Random(100, -1, 1, g.N, g.H, g.W, g.C);
        var cols = a.Poisoned(g.Rows, g.PatchLength);
        return new PreparedOp(() => be.Im2Col(image, g, cols), () => [Out("cols", cols, Tolerances.Copy)], a.Dispose);
    }, Bytes: (double)F * ((double)g.ImageLength + g.ColsLength));

    static OpCheck Col2Im(ConvGeometry g) => new("col2im", Geometry(g), be =>
    {
        var a = new Arena(be);
        var cols = a.Random(101, -1, 1, g.Rows, g.PatchLength);
        var image = a.Random(102, -1, 1, g.N, g.H, g.W, g.C);
        int overlap = (g.KH + g.Stride - 1) / g.Stride * ((g.KW + g.Stride - 1) / g.Stride);
        return new PreparedOp(() => be.Col2Im(cols, g, image), () => [Out("image", image, Tolerances.Reduction(overlap))], a.Dispose);
    }, Bytes: (double)F * (2.0 * g.ImageLength + g.ColsLength));

    /// <summary>The conv net's batch-norm inputs seen as (rows, channels), each distinct shape once.</summary>
    public static IEnumerable<(int Rows, int C)> NormShapes(TrainConfig cfg, int b) =>
        ConvArch.Encoder(cfg.Channels).Select(l => (b * l.OutSize * l.OutSize, l.Out)).Distinct();

    static (int Rows, int C) ConvBiasShape(DoctorSizes s) => NormShapes(s.Conv, s.ConvBatch).First();

    static OpCheck BatchNormStats(int rows, int c) => new("batchnorm_stats", $"({rows}, {c})", be =>
    {
        var a = new Arena(be);
        var x = a.Random(110, -1, 3, rows, c);
        var mean = a.Poisoned(c);
        var variance = a.Poisoned(c);
        return new PreparedOp(() => be.BatchNormStats(x, mean, variance),
            () => [Out("mean", mean, Tolerances.Reduction(rows)), Out("var", variance, Tolerances.Reduction(rows))], a.Dispose);
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
        return new PreparedOp(() => be.BatchNormApply(x, mean, variance, 1e-5, gamma, beta, y), () => [Out("y", y, Tolerances.Arithmetic)], a.Dispose);
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
        return new PreparedOp(() => be.BatchNormBackward(x, mean, variance, 1e-5, gamma, dy, dx, dg, db),
            () => [Out("dx", dx, t), Out("dgamma", dg, t), Out("dbeta", db, t)], a.Dispose);
    }, Bytes: 4.0 * rows * c * F);

    static OpCheck BatchNormUpdateRunning(int rows, int c) => new("batchnorm_update_running", $"C={c}, rows={rows}", be =>
    {
        var a = new Arena(be);
        var mean = a.Random(111, 0.5, 1.5, c);
        var variance = a.Random(112, 0.5, 2, c);
        var rm = a.Random(119, -0.5, 0.5, c);
        var rv = a.Random(120, 0.5, 1.5, c);
        return new PreparedOp(() => be.BatchNormUpdateRunning(mean, variance, rows, 0.1, rm, rv),
            () => [Out("running_mean", rm, Tolerances.Arithmetic), Out("running_var", rv, Tolerances.Arithmetic)], a.Dispose);
    }, Bytes: 6.0 * c * F);

    // ---- random draws and the optimiser ----

    static OpCheck Random(int n, bool normal) => new(normal ? "philox_normal" : "philox_uniform", $"n={n}", be =>
    {
        var a = new Arena(be);
        var t = a.Poisoned(n);
        return new PreparedOp(() => { if (normal) be.Normal(t, 7, 3); else be.Uniform(t, 7, 3); },
            () => [Out("t", t, normal ? Tolerances.RandomDraws : Tolerances.Arithmetic)], a.Dispose);
    }, Bytes: (double)n * F);

    /// <summary>Weights and biases of the MLP of <paramref name="cfg"/>.</summary>
    public static int ParameterCount(TrainConfig cfg)
    {
        int[] enc = [cfg.InputSize, .. cfg.Hidden, 2 * cfg.Latent], dec = [cfg.Latent, .. cfg.Hidden.Reverse(), cfg.InputSize];
        int p = 0;
        foreach (var w in new[] { enc, dec }) for (int l = 0; l + 1 < w.Length; l++) p += (w[l] + 1) * w[l + 1];
        return p;
    }

    /// <summary>Adam at step 10 with moments that are not those of a first step (where the update is lr·sign(g)).</summary>
    static OpCheck Adam(int p) => new("adam", $"{p} parameters, step 10", be =>
    {
        var a = new Arena(be);
        var w = a.Random(130, -0.1, 0.1, p);
        var g = a.Random(131, -1, 1, p);
        var m = a.Random(132, -0.1, 0.1, p);
        var v = a.Random(133, 0, 0.01, p);
        return new PreparedOp(() => be.Adam(w, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 10),
            () => [Out("param", w, Tolerances.Transcendental), Out("m", m, Tolerances.Arithmetic), Out("v", v, Tolerances.Arithmetic)], a.Dispose);
    }, Bytes: 7.0 * p * F);
}
