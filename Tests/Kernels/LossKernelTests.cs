using System.Numerics;
using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Reference;
using static InfoVae.Tests.Kernels.KernelCheck;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// Losses.Softplus, BceWithLogits, GaussianKl and SoftmaxCrossEntropy (forward and backward) against Reference in
/// double.
/// </summary>
[TestFixture(typeof(float))]
[TestFixture(typeof(double))]
public class LossKernelTests<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Softplus and BCE go through TensorPrimitives' vectorised exp and log (a few units each), and their
    /// log(1 + e^−|z|) term is exact to a few units of 1, not of itself: so the scale is |expected| + 1 and the
    /// tolerance twice the elementwise one.
    /// </summary>
    static readonly double TranscendentalTolerance = 2 * Tolerance<T>();

    static T P(double v) => T.CreateTruncating(v);

    static double[] Scale(double[] expected) => Array.ConvertAll(expected, e => Math.Abs(e) + 1);

    // ---- softplus ----

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Softplus(int n)
    {
        double[] Expected(T[] x) => Array.ConvertAll(ToDouble<T>(x), Reference.Softplus);
        var x = Uniform<T>(n, 10 + n, -20, 20);
        var d = Guarded<T>(n);
        Losses.Softplus<T>(x, d);
        var e = Expected(x);
        Close<T>(e, d.AsSpan(0, n), Scale(e), TranscendentalTolerance, "softplus");
        GuardIntact(d, n, "softplus");

        var same = (T[])x.Clone();
        Losses.Softplus<T>(same, same);
        Identical<T>(d.AsSpan(0, n), same, "softplus in place");

        // NaN → NaN, +∞ → +∞, −∞ → +0, −0 → log 2
        var s = (T[])x.Clone(); Plant(s, seed: n);
        var ds = new T[n];
        Losses.Softplus<T>(s, ds);
        var es = Expected(s);
        Close<T>(es, ds, Scale(es), TranscendentalTolerance, "softplus specials", zeroSign: true);
    }

    [Test]
    public void Softplus_is_finite_and_accurate_far_out()
    {
        T[] x = [P(-1e4), P(-100), P(-30), P(30), P(100), P(1e4)];
        var d = new T[x.Length];
        Losses.Softplus<T>(x, d);
        var e = Array.ConvertAll(ToDouble<T>(x), Reference.Softplus);
        Close<T>(e, d, Scale(e), TranscendentalTolerance, "softplus far out");
    }

    // ---- BCE with logits ----

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Bce_with_logits(int n)
    {
        var z = Uniform<T>(n, 20 + n, -12, 12);
        var t = Uniform<T>(n, 30 + n, 0, 1);
        // Extreme logits mixed in at fixed positions, so they land in vector bodies and in tails.
        double[] far = [100, -100, 1e4, -1e4];
        for (int i = 0; i < n; i += 5) z[i] = P(far[(i / 5) % far.Length]);
        CheckBce(z, t, "bce");

        var s = (T[])z.Clone(); Plant(s, seed: n);
        var ts = (T[])t.Clone(); Plant(ts, seed: 500 + n, [double.NaN]);
        CheckBce(s, ts, "bce specials");
    }

    static void CheckBce(T[] z, T[] t, string label)
    {
        int n = z.Length;
        var e = new double[n];
        var zd = ToDouble<T>(z); var td = ToDouble<T>(t);
        for (int i = 0; i < n; i++) e[i] = Reference.BceWithLogits(zd[i], td[i]);
        var d = Guarded<T>(n);
        Losses.BceWithLogits<T>(z, t, d);
        Close<T>(e, d.AsSpan(0, n), Scale(e), TranscendentalTolerance, label, zeroSign: true);
        GuardIntact(d, n, label);

        var intoZ = (T[])z.Clone();
        Losses.BceWithLogits<T>(intoZ, t, intoZ);
        Identical<T>(d.AsSpan(0, n), intoZ, label + " in place (destination = z)");
        var intoT = (T[])t.Clone();
        Losses.BceWithLogits<T>(z, intoT, intoT);
        Identical<T>(d.AsSpan(0, n), intoT, label + " in place (destination = t)");
    }

    /// <summary>
    /// The summed BCE is the sum of the elementwise kernel's terms (to a float sum's error), at every length and
    /// across several 16 Ki-element chunks; its backward is the elementwise backward with the scalar broadcast, bit for
    /// bit (accumulating, and overwriting a destination with stale NaN); NaN planted; 1 vs 2 threads give the same
    /// bits.
    /// </summary>
    [TestCaseSource(nameof(SumLengths))]
    public void Bce_with_logits_sum(int n)
    {
        var z = Uniform<T>(n, 40 + n, -12, 12); var t = Uniform<T>(n, 50 + n, 0, 1);
        foreach (bool specials in new[] { false, true })
        {
            if (specials) Plant(z, n + 7, [double.NaN]);
            string label = $"bce sum n={n}{(specials ? " specials" : "")}";
            var terms = new T[n];
            Losses.BceWithLogits<T>(z, t, terms);
            double e = 0, scale = 0;
            foreach (var v in terms) { e += double.CreateTruncating(v); scale += Math.Abs(double.CreateTruncating(v)); }
            T sum = Losses.BceWithLogitsSum<T>(z, t);
            Close<T>([e], [sum], [scale], SumTolerance<T>(256) + SumTolerance<double>(n), label);

            T g = P(-0.37);
            var dl = Enumerable.Repeat(g, n).ToArray();
            var dz0 = Uniform<T>(n, 60 + n, -1, 1); var dt0 = Uniform<T>(n, 70 + n, -1, 1);
            T[] edz = (T[])dz0.Clone(), edt = (T[])dt0.Clone(), dz = (T[])dz0.Clone(), dt = (T[])dt0.Clone();
            Losses.BceWithLogitsBackward<T>(z, t, dl, edz, edt);
            Losses.BceWithLogitsSumBackward<T>(z, t, g, dz, true, dt);
            Identical<T>(edz, dz, label + " dz"); Identical<T>(edt, dt, label + " dt");
            var fresh = new T[n];
            Losses.BceWithLogitsBackward<T>(z, t, dl, fresh, default);
            var stale = Enumerable.Repeat(T.NaN, n).ToArray();
            Losses.BceWithLogitsSumBackward<T>(z, t, g, stale, false, default);
            Close<T>(ToDouble<T>(fresh), stale, default, 0, label + " dz overwritten");

            int saved = Workers.MaxThreads;
            try
            {
                Workers.MaxThreads = 1;
                T one = Losses.BceWithLogitsSum<T>(z, t);
                var d1 = new T[n]; Losses.BceWithLogitsSumBackward<T>(z, t, g, d1, false, default);
                Workers.MaxThreads = 2;
                T two = Losses.BceWithLogitsSum<T>(z, t);
                var d2 = new T[n]; Losses.BceWithLogitsSumBackward<T>(z, t, g, d2, false, default);
                Identical<T>([one], [two], label + " sum, 1 vs 2 threads");
                Identical<T>(d1, d2, label + " dz, 1 vs 2 threads");
            }
            finally { Workers.MaxThreads = saved; }
        }
    }

    static IEnumerable<int> SumLengths() => KernelCheck.Lengths().Concat([16384, 16385, 200_704]);

    /// <summary>
    /// The decided answers at infinite logits: the limit of the loss, +∞ when the target puts weight on the wrong
    /// side, 0 when it puts none there (0·log 0 = 0, not 0·∞ = NaN); NaN in either input gives NaN.
    /// </summary>
    [Test]
    public void Bce_with_logits_at_infinite_logits_and_nan()
    {
        double inf = double.PositiveInfinity;
        (double z, double t, double loss)[] cases =
        [
            (inf, 1, 0), (inf, 0, inf), (inf, 0.5, inf), (-inf, 0, 0), (-inf, 1, inf), (-inf, 0.25, inf),
            (double.NaN, 0, double.NaN), (double.NaN, 1, double.NaN), (1, double.NaN, double.NaN),
                (inf, double.NaN, double.NaN),
        ];
        // 20 copies, so each case is met by the Vector512 body, the Vector256 body and the scalar tail.
        int n = cases.Length * 20;
        var z = new T[n]; var t = new T[n]; var e = new double[n];
        for (int i = 0; i < n; i++)
        {
            var c = cases[i % cases.Length];
            z[i] = P(c.z); t[i] = P(c.t); e[i] = c.loss;
            Assert.That(Reference.BceWithLogits(c.z, c.t), Is.EqualTo(c.loss), $"reference at z={c.z}, t={c.t}");
        }
        var d = new T[n];
        Losses.BceWithLogits<T>(z, t, d);
        Close<T>(e, d, default, 0, "bce at ±∞", zeroSign: true);
    }

    /// <summary>
    /// Logits of ±100 and ±1e4 with targets across [0, 1]: finite and within a few units of |loss|. The old
    /// max(z, 0) − t·z form lost about |z|·u to cancellation when t was near 1 (|z| = 1e4, t = 0.99: 1e4 − 9900).
    /// </summary>
    [Test]
    public void Bce_with_logits_is_finite_and_accurate_for_large_logits()
    {
        double[] zs = [100, -100, 1e4, -1e4], ts = [0, 0.01, 0.25, 0.5, 0.75, 0.99, 0.999, 1];
        var z = new List<T>(); var t = new List<T>();
        foreach (var zv in zs) foreach (var tv in ts) { z.Add(P(zv)); t.Add(P(tv)); }
        var d = new T[z.Count];
        Losses.BceWithLogits<T>(z.ToArray(), t.ToArray(), d);
        var e = new double[z.Count];
        for (int i = 0; i < e.Length; i++)
        {
            e[i] = Reference.BceWithLogits(double.CreateTruncating(z[i]), double.CreateTruncating(t[i]));
            Assert.That(T.IsFinite(d[i]), $"bce(z={z[i]}, t={t[i]}) = {d[i]} is not finite");
        }
        Close<T>(e, d, Scale(e), TranscendentalTolerance, "bce large logits");
    }

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Bce_with_logits_backward(int n)
    {
        var z = Uniform<T>(n, 40 + n, -8, 8);
        for (int i = 2; i < n; i += 7) z[i] = P(i % 2 == 0 ? 1e4 : -100);
        var t = Uniform<T>(n, 50 + n, 0, 1);
        var dl = Uniform<T>(n, 60 + n, -2, 2);
        CheckBceBackward(z, t, dl, "bce backward");

        var zs = (T[])z.Clone(); Plant(zs, seed: n);
        var dls = (T[])dl.Clone(); Plant(dls, seed: 700 + n, [double.NaN]);
        CheckBceBackward(zs, t, dls, "bce backward specials");
    }

    static void CheckBceBackward(T[] z, T[] t, T[] dl, string label)
    {
        int n = z.Length;
        var dz0 = Uniform<T>(n, 80 + n, -1, 1); var dt0 = Uniform<T>(n, 90 + n, -1, 1);
        double[] zd = ToDouble<T>(z), td = ToDouble<T>(t), gd = ToDouble<T>(dl), dz0d = ToDouble<T>(dz0),
            dt0d = ToDouble<T>(dt0);
        double[] ez = new double[n], sz = new double[n], et = new double[n], st = new double[n];
        for (int i = 0; i < n; i++)
        {
            double gz = gd[i] * Reference.BceWithLogitsGradZ(zd[i], td[i]),
                gt = gd[i] * Reference.BceWithLogitsGradT(zd[i]);
            ez[i] = dz0d[i] + gz; sz[i] = Math.Abs(dz0d[i]) + Math.Abs(gd[i]);   // σ(z) − t is accurate to units of 1
            et[i] = dt0d[i] + gt; st[i] = Math.Abs(dt0d[i]) + Math.Abs(gt);
        }
        var dz = Guarded<T>(n, dz0); var dt = Guarded<T>(n, dt0);
        Losses.BceWithLogitsBackward<T>(z, t, dl, dz, dt);
        Close<T>(ez, dz.AsSpan(0, n), sz, TranscendentalTolerance, label + " dz");
        Close<T>(et, dt.AsSpan(0, n), st, Tolerance<T>(), label + " dt");
        GuardIntact(dz, n, label + " dz"); GuardIntact(dt, n, label + " dt");

        // Either gradient alone (empty = not wanted) gives the same bits.
        var dzOnly = (T[])dz0.Clone(); var dtOnly = (T[])dt0.Clone();
        Losses.BceWithLogitsBackward<T>(z, t, dl, dzOnly, Span<T>.Empty);
        Losses.BceWithLogitsBackward<T>(z, t, dl, Span<T>.Empty, dtOnly);
        Identical<T>(dz.AsSpan(0, n), dzOnly, label + " dz alone");
        Identical<T>(dt.AsSpan(0, n), dtOnly, label + " dt alone");

        // dz accumulated into dl itself (in place).
        var into = (T[])dl.Clone();
        var expectInto = new double[n];
        for (int i = 0; i < n; i++) expectInto[i] = gd[i] + gd[i] * Reference.BceWithLogitsGradZ(zd[i], td[i]);
        Losses.BceWithLogitsBackward<T>(z, t, into, into, Span<T>.Empty);
        Close<T>(expectInto, into, Array.ConvertAll(gd, g => 2 * Math.Abs(g)), TranscendentalTolerance,
            label + " dz in place (dz = dl)");
    }

    [Test]
    public void Bce_with_logits_throws_for_too_short_destination()
    {
        var ex = Assert.Throws<ArgumentException>(() => Losses.BceWithLogits<T>(new T[9], new T[9], new T[8]));
        Assert.That(ex!.ParamName, Is.EqualTo("destination"));
        Assert.Throws<ArgumentException>(() => Losses.BceWithLogits<T>(new T[9], new T[8], new T[9]));
        ex = Assert.Throws<ArgumentException>(() => Losses.Softplus<T>(new T[9], new T[8]));
        Assert.That(ex!.ParamName, Is.EqualTo("destination"));
        ex = Assert.Throws<ArgumentException>(() => Losses.BceWithLogitsBackward<T>(new T[9], new T[9], new T[9],
            new T[8], Span<T>.Empty));
        Assert.That(ex!.ParamName, Is.EqualTo("dz"));
        ex = Assert.Throws<ArgumentException>(() => Losses.BceWithLogitsBackward<T>(new T[9], new T[9], new T[9],
            Span<T>.Empty, new T[8]));
        Assert.That(ex!.ParamName, Is.EqualTo("dt"));
        Assert.Throws<ArgumentException>(() => Losses.BceWithLogitsBackward<T>(new T[9], new T[9], new T[8], new T[9],
            new T[9]));
    }

    // ---- softmax cross-entropy ----

    /// <summary>(rows, classes) around the model's (B, 10), with soft and one-hot targets and logits far out.</summary>
    [TestCase(1, 1)]
    [TestCase(1, 10)]
    [TestCase(3, 10)]
    [TestCase(7, 13)]
    [TestCase(17, 2)]
    [TestCase(0, 10)]
    public void Softmax_cross_entropy(int rows, int classes)
    {
        int n = rows * classes;
        var z = Uniform<T>(n, 300 + n, -8, 8);
        // Far-out logits in some rows: the max shift must keep them finite.
        for (int i = 3; i < n; i += 11) z[i] = P(i % 2 == 0 ? 1e4 : -1e4);
        var soft = Uniform<T>(n, 310 + n, 0, 1);
        var oneHot = new T[n];
        for (int r = 0; r < rows; r++) oneHot[r * classes + (r * 7) % classes] = T.One;
        foreach (var (t, kind) in new[] { (soft, "soft"), (oneHot, "one-hot") })
        {
            string label = $"softmax ce ({rows}, {classes}) {kind}";
            double[] zd = ToDouble<T>(z), td = ToDouble<T>(t);
            var e = new double[rows]; var scale = new double[rows];
            for (int r = 0; r < rows; r++)
            {
                var zr = zd.AsSpan(r * classes, classes); var tr = td.AsSpan(r * classes, classes);
                e[r] = Reference.SoftmaxCrossEntropy(zr, tr);
                // Each term t·(lse − z) is good to units of |lse| + |z|, and lse to units of the row's largest |z|.
                double big = 0;
                foreach (var v in zr) big = Math.Max(big, Math.Abs(v));
                for (int c = 0; c < classes; c++) scale[r] += tr[c] * (big + Math.Abs(zr[c]) + 1);
                scale[r] += 1;
            }
            var d = Guarded<T>(rows);
            Losses.SoftmaxCrossEntropy<T>(z, t, rows, classes, d);
            Close<T>(e, d.AsSpan(0, rows), scale, SumTolerance<T>(2 * classes), label);
            GuardIntact(d, rows, label);

            var dl = Uniform<T>(rows, 320 + n, -2, 2);
            var dz0 = Uniform<T>(n, 330 + n, -1, 1); var dt0 = Uniform<T>(n, 340 + n, -1, 1);
            double[] gd = ToDouble<T>(dl), dz0d = ToDouble<T>(dz0), dt0d = ToDouble<T>(dt0);
            double[] ez = new double[n], sz = new double[n], et = new double[n], st = new double[n];
            for (int i = 0; i < n; i++)
            {
                int r = i / classes, c = i % classes;
                var zr = zd.AsSpan(r * classes, classes); var tr = td.AsSpan(r * classes, classes);
                double gz = gd[r] * Reference.SoftmaxCrossEntropyGradZ(zr, tr, c);
                double gt = gd[r] * Reference.SoftmaxCrossEntropyGradT(zr, c);
                ez[i] = dz0d[i] + gz; sz[i] = Math.Abs(dz0d[i]) + Math.Abs(gd[r]) * (classes + 1);
                et[i] = dt0d[i] + gt; st[i] = Math.Abs(dt0d[i]) + Math.Abs(gt) + Math.Abs(gd[r]);
            }
            var dz = Guarded<T>(n, dz0); var dt = Guarded<T>(n, dt0);
            Losses.SoftmaxCrossEntropyBackward<T>(z, t, dl, rows, classes, dz, dt);
            Close<T>(ez, dz.AsSpan(0, n), sz, SumTolerance<T>(2 * classes), label + " dz");
            Close<T>(et, dt.AsSpan(0, n), st, SumTolerance<T>(2 * classes), label + " dt");
            GuardIntact(dz, n, label + " dz"); GuardIntact(dt, n, label + " dt");

            var dzOnly = (T[])dz0.Clone(); var dtOnly = (T[])dt0.Clone();
            Losses.SoftmaxCrossEntropyBackward<T>(z, t, dl, rows, classes, dzOnly, Span<T>.Empty);
            Losses.SoftmaxCrossEntropyBackward<T>(z, t, dl, rows, classes, Span<T>.Empty, dtOnly);
            Identical<T>(dz.AsSpan(0, n), dzOnly, label + " dz alone");
            Identical<T>(dt.AsSpan(0, n), dtOnly, label + " dt alone");
        }
    }

    [Test]
    public void Softmax_cross_entropy_of_a_confident_right_answer_is_zero_and_of_uniform_logits_is_log_c()
    {
        // Row 0: the label's logit 1e4 above the rest (−log softmax = 0 in any precision); row 1: all logits equal.
        T[] z = [P(1e4), P(0), P(0), P(0), P(3), P(3), P(3), P(3)];
        T[] t = [T.One, T.Zero, T.Zero, T.Zero, T.Zero, T.Zero, T.One, T.Zero];
        var d = new T[2];
        Losses.SoftmaxCrossEntropy<T>(z, t, 2, 4, d);
        Assert.That(double.CreateTruncating(d[0]), Is.EqualTo(0.0));
        Assert.That(double.CreateTruncating(d[1]), Is.EqualTo(Math.Log(4)).Within(4 * Unit<T>()));
    }

    [Test]
    public void Softmax_cross_entropy_throws_for_bad_shapes()
    {
        Assert.Throws<ArgumentException>(() => Losses.SoftmaxCrossEntropy<T>(new T[10], new T[10], 2, 5, new T[1]));
        Assert.Throws<ArgumentException>(() => Losses.SoftmaxCrossEntropy<T>(new T[10], new T[9], 2, 5, new T[2]));
        Assert.Throws<ArgumentException>(() => Losses.SoftmaxCrossEntropy<T>(new T[0], new T[0], 0, 0, new T[0]));
        var ex = Assert.Throws<ArgumentException>(() => Losses.SoftmaxCrossEntropyBackward<T>(new T[10], new T[10],
            new T[2], 2, 5, new T[9], Span<T>.Empty));
        Assert.That(ex!.ParamName, Is.EqualTo("dz"));
        ex = Assert.Throws<ArgumentException>(() => Losses.SoftmaxCrossEntropyBackward<T>(new T[10], new T[10],
            new T[2], 2, 5, Span<T>.Empty, new T[9]));
        Assert.That(ex!.ParamName, Is.EqualTo("dt"));
    }

    // ---- Gaussian KL ----

    /// <summary>
    /// Rows of z = n (the latent width sweeps every tail) and n rows of z = 16 (the model's latent size).
    /// </summary>
    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Gaussian_kl(int n)
    {
        CheckKl(3, n, seed: n, specials: false);
        CheckKl(n, 16, seed: 100 + n, specials: false);
        CheckKl(3, n, seed: n, specials: true);
    }

    static void CheckKl(int rows, int z, int seed, bool specials)
    {
        int len = rows * z;
        var mu = Uniform<T>(len, seed, -2, 2);
        var lv = Uniform<T>(len, seed + 1, -3, 2);
        if (specials)
        {
            Plant(mu, seed + 2, [double.NaN, double.NegativeInfinity]);
            Plant(lv, seed + 3, [double.PositiveInfinity, double.NegativeInfinity, -0.0]);
        }
        double[] mud = ToDouble<T>(mu), lvd = ToDouble<T>(lv);
        var e = new double[rows];
        Reference.GaussianKl(mud, lvd, rows, z, e);
        var scale = new double[rows];
        for (int r = 0; r < rows; r++)
            for (int j = r * z; j < (r + 1) * z; j++)
                scale[r] += 0.5 * (Math.Exp(lvd[j]) + mud[j] * mud[j] + 1 + Math.Abs(lvd[j]));
        var d = Guarded<T>(rows);
        Losses.GaussianKl<T>(mu, lv, rows, z, d);
        string label = $"kl ({rows}, {z}){(specials ? " specials" : "")}";
        Close<T>(e, d.AsSpan(0, rows), scale, SumTolerance<T>(z + 4), label);
        GuardIntact(d, rows, label);

        // backward: dmu += dkl·mu, dlv += dkl·½(exp(lv) − 1)
        var dkl = Uniform<T>(rows, seed + 4, -2, 2);
        var dmu0 = Uniform<T>(len, seed + 5, -1, 1); var dlv0 = Uniform<T>(len, seed + 6, -1, 1);
        double[] gd = ToDouble<T>(dkl), dmu0d = ToDouble<T>(dmu0), dlv0d = ToDouble<T>(dlv0);
        double[] emu = new double[len], smu = new double[len], elv = new double[len], slv = new double[len];
        for (int j = 0; j < len; j++)
        {
            double g = gd[j / z];
            emu[j] = dmu0d[j] + g * Reference.GaussianKlGradMu(mud[j]);
            smu[j] = Math.Abs(dmu0d[j]) + Math.Abs(g * mud[j]);
            elv[j] = dlv0d[j] + g * Reference.GaussianKlGradLogvar(lvd[j]);
            slv[j] = Math.Abs(dlv0d[j]) + Math.Abs(g) * 0.5 * (Math.Exp(lvd[j]) + 1);
        }
        var dmu = Guarded<T>(len, dmu0); var dlv = Guarded<T>(len, dlv0);
        Losses.GaussianKlBackward<T>(mu, lv, dkl, rows, z, dmu, dlv);
        Close<T>(emu, dmu.AsSpan(0, len), smu, Tolerance<T>(), label + " dmu");
        Close<T>(elv, dlv.AsSpan(0, len), slv, Tolerance<T>(), label + " dlogvar");
        GuardIntact(dmu, len, label + " dmu"); GuardIntact(dlv, len, label + " dlogvar");

        var dlvOnly = (T[])dlv0.Clone();
        Losses.GaussianKlBackward<T>(mu, lv, dkl, rows, z, Span<T>.Empty, dlvOnly);
        Identical<T>(dlv.AsSpan(0, len), dlvOnly, label + " dlogvar alone");
    }

    [Test]
    public void Gaussian_kl_is_infinite_for_infinite_inputs()
    {
        double inf = double.PositiveInfinity;
        // one row per case, z = 2, the second element ordinary
        (double mu, double lv, double kl)[] cases = [(0, inf, inf), (0, -inf, inf), (inf, 0, inf), (-inf, inf, inf),
            (double.NaN, inf, double.NaN), (0, double.NaN, double.NaN)];
        var mu = new T[2 * cases.Length]; var lv = new T[2 * cases.Length]; var e = new double[cases.Length];
        for (int r = 0; r < cases.Length; r++)
        {
            mu[2 * r] = P(cases[r].mu);
            lv[2 * r] = P(cases[r].lv);
            mu[2 * r + 1] = P(0.5);
            e[r] = cases[r].kl;
        }
        var d = new T[cases.Length];
        Losses.GaussianKl<T>(mu, lv, cases.Length, 2, d);
        Close<T>(e, d, default, 0, "kl at ±∞");
        var reference = new double[cases.Length];
        Reference.GaussianKl(ToDouble<T>(mu), ToDouble<T>(lv), cases.Length, 2, reference);
        Close<double>(e, reference, default, 0, "reference kl at ±∞");
    }

    [Test]
    public void Gaussian_kl_throws_for_bad_shapes_and_short_destinations()
    {
        var ex = Assert.Throws<ArgumentException>(() => Losses.GaussianKl<T>(new T[6], new T[6], 3, 2, new T[2]));
        Assert.That(ex!.ParamName, Is.EqualTo("destination"));
        Assert.Throws<ArgumentException>(() => Losses.GaussianKl<T>(new T[6], new T[5], 3, 2, new T[3]));
        Assert.Throws<ArgumentException>(() => Losses.GaussianKl<T>(new T[6], new T[6], 3, 3, new T[3]));
        ex = Assert.Throws<ArgumentException>(() => Losses.GaussianKlBackward<T>(new T[6], new T[6], new T[3], 3, 2,
            new T[5], Span<T>.Empty));
        Assert.That(ex!.ParamName, Is.EqualTo("dmu"));
        ex = Assert.Throws<ArgumentException>(() => Losses.GaussianKlBackward<T>(new T[6], new T[6], new T[3], 3, 2,
            Span<T>.Empty, new T[5]));
        Assert.That(ex!.ParamName, Is.EqualTo("dlogvar"));
        Assert.Throws<ArgumentException>(() => Losses.GaussianKlBackward<T>(new T[6], new T[6], new T[2], 3, 2,
            new T[6], new T[6]));
    }
}
