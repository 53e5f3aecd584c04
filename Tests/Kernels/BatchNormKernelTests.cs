using System.Numerics;
using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Reference;
using static InfoVae.Tests.Kernels.KernelCheck;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// BatchNorm.Stats, Apply, Backward and UpdateRunning against the double references, the fused leaky ReLU against
/// the two ops it replaces, over (R, C) shapes with C off
/// the vector widths (1, 3, 17, 33) and on them (64), with NaN/±∞ planted, in place, guards past the end, 1 vs 2
/// threads, and length errors.
/// </summary>
[TestFixture(typeof(float))]
[TestFixture(typeof(double))]
public class BatchNormKernelTests<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    const double Eps = 1e-5;

    static IEnumerable<TestCaseData> Shapes()
    {
        foreach (int c in new[] { 1, 3, 17, 33, 64 })
            foreach (int rows in new[] { 1, 2, 7, 100, 3001 })
                yield return new TestCaseData(rows, c).SetArgDisplayNames($"R{rows} C{c}");
    }

    /// <summary>
    /// Column sums are in double: the float result is off by its final rounding, the double one by a sum's error.
    /// </summary>
    static double SumTol(int rows) => typeof(T) == typeof(float) ? FloatTolerance : SumTolerance<double>(rows);

    [TestCaseSource(nameof(Shapes))]
    public void Stats_match_the_reference(int rows, int c)
    {
        foreach (bool specials in new[] { false, true })
        {
            string label = $"stats ({rows}, {c}){(specials ? " specials" : "")}";
            var x = Uniform<T>(rows * c, rows * 31 + c, -3, 5);
            if (specials) Plant(x, rows + c, [double.NaN, double.PositiveInfinity, -0.0]);
            var xd = ToDouble<T>(x);
            double[] em = new double[c], ev = new double[c];
            Reference.BatchNormStats(xd, rows, c, em, ev);
            // The mean's scale is mean(|x|); the variance's, the variance itself (two passes in double).
            var absMean = new double[c];
            for (int r = 0; r < rows; r++) for (int j = 0; j < c; j++) absMean[j] += Math.Abs(xd[r * c + j]) / rows;
            var mean = Guarded<T>(c); var variance = Guarded<T>(c);
            BatchNorm.Stats<T>(x, rows, c, mean.AsSpan(0, c), variance.AsSpan(0, c));
            Close<T>(em, mean.AsSpan(0, c), absMean, SumTol(rows), label + " mean");
            Close<T>(ev, variance.AsSpan(0, c), Array.ConvertAll(ev, Math.Abs), SumTol(rows) + Tolerance<T>(),
                label + " variance");
            GuardIntact(mean, c, label); GuardIntact(variance, c, label);
        }
    }

    [TestCaseSource(nameof(Shapes))]
    public void Apply_matches_the_reference_and_runs_in_place(int rows, int c)
    {
        foreach (bool specials in new[] { false, true })
        {
            string label = $"apply ({rows}, {c}){(specials ? " specials" : "")}";
            var (x, mean, variance, gamma, beta) = Inputs(rows, c, 7);
            if (specials) Plant(x, rows * c, [double.NaN, double.PositiveInfinity, double.NegativeInfinity]);
            var xd = ToDouble<T>(x); var md = ToDouble<T>(mean); var vd = ToDouble<T>(variance);
            var gd = ToDouble<T>(gamma); var bd = ToDouble<T>(beta);
            var expected = new double[rows * c];
            Reference.BatchNormApply(xd, rows, c, md, vd, Eps, gd, bd, expected);
            var scale = new double[rows * c];
            for (int i = 0; i < scale.Length; i++)
            {
                int j = i % c;
                scale[i] = Math.Abs((xd[i] - md[j]) * gd[j] / Math.Sqrt(vd[j] + Eps)) + Math.Abs(bd[j]);
            }
            var y = Guarded<T>(rows * c);
            BatchNorm.Apply<T>(x, rows, c, mean, variance, Eps, gamma, beta, y.AsSpan(0, rows * c));
            Close<T>(expected, y.AsSpan(0, rows * c), scale, Tolerance<T>(), label);
            GuardIntact(y, rows * c, label);
            var inPlace = (T[])x.Clone();
            BatchNorm.Apply<T>(inPlace, rows, c, mean, variance, Eps, gamma, beta, inPlace);
            Identical<T>(y.AsSpan(0, rows * c), inPlace, label + " in place");
        }
    }

    [TestCaseSource(nameof(Shapes))]
    public void Backward_matches_the_reference(int rows, int c)
    {
        foreach (bool specials in new[] { false, true })
        {
            string label = $"backward ({rows}, {c}){(specials ? " specials" : "")}";
            var (x, mean, variance, gamma, _) = Inputs(rows, c, 11);
            var dy = Uniform<T>(rows * c, rows + 5 * c, -1, 1);
            if (specials) Plant(dy, rows * c + 1, [double.NaN, double.PositiveInfinity]);
            var dx0 = Uniform<T>(rows * c, 3, -1, 1); var dg0 = Uniform<T>(c, 4, -1, 1);
            var db0 = Uniform<T>(c, 5, -1, 1);
            double[] xd = ToDouble<T>(x), md = ToDouble<T>(mean), vd = ToDouble<T>(variance), gd = ToDouble<T>(gamma),
                dyd = ToDouble<T>(dy);
            double[] edx = ToDouble<T>(dx0), edg = ToDouble<T>(dg0), edb = ToDouble<T>(db0);
            Reference.BatchNormBackward(xd, rows, c, md, vd, Eps, gd, dyd, edx, edg, edb);
            // Scales: the magnitudes of what each output adds up.
            double[] sdx = Array.ConvertAll(ToDouble<T>(dx0), Math.Abs),
                sdg = Array.ConvertAll(ToDouble<T>(dg0), Math.Abs), sdb = Array.ConvertAll(ToDouble<T>(db0), Math.Abs);
            double[] sumDy = new double[c], sumDyX = new double[c];
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < c; j++)
                {
                    double inv = 1 / Math.Sqrt(vd[j] + Eps), g = dyd[r * c + j], xh = (xd[r * c + j] - md[j]) * inv;
                    sdb[j] += Math.Abs(g); sdg[j] += Math.Abs(g * xh);
                    sumDy[j] += g; sumDyX[j] += g * xh;
                }
            for (int r = 0; r < rows; r++)
                for (int j = 0; j < c; j++)
                {
                    double inv = 1 / Math.Sqrt(vd[j] + Eps), a = gd[j] * inv, xh = (xd[r * c + j] - md[j]) * inv;
                    sdx[r * c + j] += Math.Abs(a * dyd[r * c + j]) + Math.Abs(a * xh * sumDyX[j] / rows)
                        + Math.Abs(a * sumDy[j] / rows);
                }
            var dx = Guarded<T>(rows * c, dx0); var dg = Guarded<T>(c, dg0); var db = Guarded<T>(c, db0);
            BatchNorm.Backward<T>(x, rows, c, mean, variance, Eps, gamma, dy, dx.AsSpan(0, rows * c), dg.AsSpan(0, c),
                db.AsSpan(0, c));
            Close<T>(edb, db.AsSpan(0, c), sdb, SumTol(rows) + Tolerance<T>(), label + " dBeta");
            Close<T>(edg, dg.AsSpan(0, c), sdg, SumTol(rows) + Tolerance<T>(), label + " dGamma");
            Close<T>(edx, dx.AsSpan(0, rows * c), sdx, SumTol(rows) + Tolerance<T>(), label + " dx");
            GuardIntact(dx, rows * c, label); GuardIntact(dg, c, label); GuardIntact(db, c, label);

            // Empty spans skip outputs; the ones given are unchanged by the others' absence.
            var dxOnly = (T[])dx0.Clone();
            BatchNorm.Backward<T>(x, rows, c, mean, variance, Eps, gamma, dy, dxOnly, default, default);
            Identical<T>(dx.AsSpan(0, rows * c), dxOnly, label + " dx alone");
            var dgOnly = (T[])dg0.Clone();
            BatchNorm.Backward<T>(x, rows, c, mean, variance, Eps, gamma, dy, default, dgOnly, default);
            Identical<T>(dg.AsSpan(0, c), dgOnly, label + " dGamma alone");
        }
    }

    /// <summary>
    /// The fused leaky ReLU gives the bits of batch norm and leaky ReLU run one after the other (Apply, then
    /// LeakyReluOp; LeakyReluGradOp into a zeroed buffer, then Backward), at slopes 0.2 and 0 (ReLU), with NaN and ±∞
    /// planted in x and dy; and overwriting dx (stale NaN in it) gives the values that adding to zeros gives.
    /// </summary>
    [TestCaseSource(nameof(Shapes))]
    public void Fused_leaky_relu_gives_the_bits_of_the_two_ops(int rows, int c)
    {
        foreach (double slopeD in new[] { 0.2, 0.0 })
        {
            string label = $"fused leaky ReLU ({rows}, {c}) slope {slopeD}";
            T slope = T.CreateTruncating(slopeD);
            var (x, mean, variance, gamma, beta) = Inputs(rows, c, 17);
            var dy = Uniform<T>(rows * c, rows + 7 * c, -1, 1);
            Plant(x, rows * c + 2, [double.NaN, double.PositiveInfinity, double.NegativeInfinity]);
            Plant(dy, rows * c + 3, [double.NaN, double.NegativeInfinity]);
            int n = rows * c;

            var z = new T[n];
            BatchNorm.Apply<T>(x, rows, c, mean, variance, Eps, gamma, beta, z);
            var expectedY = new T[n];
            Simd.Map<T, LeakyReluOp<T>>(z, slope, expectedY);
            var y = Guarded<T>(n);
            BatchNorm.ApplyLeakyRelu<T>(x, rows, c, mean, variance, Eps, gamma, beta, slope, y.AsSpan(0, n));
            Identical<T>(expectedY, y.AsSpan(0, n), label + " forward");
            GuardIntact(y, n, label);

            var dz = new T[n];
            Simd.Accumulate<T, LeakyReluGradOp<T>>(z, z, dy, slope, dz);
            var dx0 = Uniform<T>(n, 3, -1, 1); var dg0 = Uniform<T>(c, 4, -1, 1); var db0 = Uniform<T>(c, 5, -1, 1);
            T[] edx = (T[])dx0.Clone(), edg = (T[])dg0.Clone(), edb = (T[])db0.Clone();
            BatchNorm.Backward<T>(x, rows, c, mean, variance, Eps, gamma, dz, edx, edg, edb);
            T[] dx = (T[])dx0.Clone(), dg = (T[])dg0.Clone(), db = (T[])db0.Clone();
            BatchNorm.BackwardLeakyRelu<T>(x, y.AsSpan(0, n), rows, c, mean, variance, Eps, gamma, slope, dy, dx, dg,
                db);
            Identical<T>(edx, dx, label + " dx"); Identical<T>(edg, dg, label + " dGamma");
            Identical<T>(edb, db, label + " dBeta");

            var zeros = new T[n];
            BatchNorm.BackwardLeakyRelu<T>(x, y.AsSpan(0, n), rows, c, mean, variance, Eps, gamma, slope, dy, zeros,
                default, default);
            var stale = Uniform<T>(n, 6, -1, 1);
            Plant(stale, 7, [double.NaN, double.PositiveInfinity]);
            BatchNorm.BackwardLeakyRelu<T>(x, y.AsSpan(0, n), rows, c, mean, variance, Eps, gamma, slope, dy, stale,
                default, default, accumulateDx: false);
            // The same values; only a zero's sign may differ (adding −0 to a +0 buffer gives +0, writing it keeps −0).
            Close<T>(ToDouble<T>(zeros), stale, default, 0, label + " dx overwritten");
            var plainStale = Uniform<T>(n, 8, -1, 1);
            Plant(plainStale, 9, [double.NaN]);
            var plainZeros = new T[n];
            BatchNorm.Backward<T>(x, rows, c, mean, variance, Eps, gamma, dy, plainZeros, default, default);
            BatchNorm.Backward<T>(x, rows, c, mean, variance, Eps, gamma, dy, plainStale, default, default,
                accumulateDx: false);
            Close<T>(ToDouble<T>(plainZeros), plainStale, default, 0, label + " plain dx overwritten");
        }
    }

    [Test]
    public void Fused_leaky_relu_refuses_a_negative_or_infinite_slope()
    {
        var (x, mean, variance, gamma, beta) = Inputs(4, 3, 1);
        foreach (double bad in new[] { -0.1, double.PositiveInfinity, double.NaN })
        {
            T slope = T.CreateTruncating(bad);
            Assert.Throws<ArgumentException>(()
                => BatchNorm.ApplyLeakyRelu<T>(x, 4, 3, mean, variance, Eps, gamma, beta, slope, new T[12]));
            Assert.Throws<ArgumentException>(()
                => BatchNorm.BackwardLeakyRelu<T>(x, x, 4, 3, mean, variance, Eps, gamma, slope, x, new T[12], default,
                default));
        }
        Assert.That(Assert.Throws<ArgumentException>(() =>
            BatchNorm.BackwardLeakyRelu<T>(x, new T[11], 4, 3, mean, variance, Eps, gamma, T.One, x, new T[12], default,
                default))!.ParamName, Is.EqualTo("y"));
    }

    [Test]
    public void Update_running_matches_the_reference()
    {
        int c = 19;
        var mean = Uniform<T>(c, 1, -2, 2); var variance = Uniform<T>(c, 2, 0, 3);
        var rm = Uniform<T>(c, 3, -1, 1); var rv = Uniform<T>(c, 4, 0.5, 2);
        double[] erm = ToDouble<T>(rm), erv = ToDouble<T>(rv);
        Reference.BatchNormUpdateRunning(ToDouble<T>(mean), ToDouble<T>(variance), 50, 0.1, erm, erv);
        BatchNorm.UpdateRunning<T>(mean, variance, 50, 0.1, rm, rv);
        Close<T>(erm, rm, Array.ConvertAll(erm, Math.Abs), Tolerance<T>(), "running mean");
        Close<T>(erv, rv, Array.ConvertAll(erv, Math.Abs), Tolerance<T>(), "running variance");
        Assert.Throws<ArgumentException>(() => BatchNorm.UpdateRunning<T>(mean, variance, 1, 0.1, rm, rv));
    }

    [Test]
    public void One_and_two_threads_give_identical_bits()
    {
        // Model-sized: the first encoder layer's (N·14·14, 32) with N = 64, and a ragged shape; both take the parallel
        // path.
        foreach (var (rows, c) in new[] { (64 * 196, 32), (4099, 33) })
        {
            var (x, _, _, gamma, beta) = Inputs(rows, c, 13);
            var dy = Uniform<T>(rows * c, 14, -1, 1);
            (T[] Mean, T[] Var, T[] Y, T[] Dx, T[] Dg, T[] Db, T[] Ly, T[] Ldx) Run(int threads)
            {
                int saved = Workers.MaxThreads;
                try
                {
                    Workers.MaxThreads = threads;
                    T[] m = new T[c], v = new T[c], y = new T[rows * c], dx = new T[rows * c], dg = new T[c],
                        db = new T[c];
                    T[] ly = new T[rows * c], ldx = new T[rows * c];
                    BatchNorm.Stats<T>(x, rows, c, m, v);
                    BatchNorm.Apply<T>(x, rows, c, m, v, Eps, gamma, beta, y);
                    BatchNorm.Backward<T>(x, rows, c, m, v, Eps, gamma, dy, dx, dg, db);
                    BatchNorm.ApplyLeakyRelu<T>(x, rows, c, m, v, Eps, gamma, beta, T.CreateTruncating(0.2), ly);
                    BatchNorm.BackwardLeakyRelu<T>(x, ly, rows, c, m, v, Eps, gamma, T.CreateTruncating(0.2), dy, ldx,
                        default, default, accumulateDx: false);
                    return (m, v, y, dx, dg, db, ly, ldx);
                }
                finally { Workers.MaxThreads = saved; }
            }
            var one = Run(1); var two = Run(2);
            string label = $"({rows}, {c}) 1 vs 2 threads";
            Identical<T>(one.Mean, two.Mean, label + " mean"); Identical<T>(one.Var, two.Var, label + " var");
            Identical<T>(one.Y, two.Y, label + " y"); Identical<T>(one.Dx, two.Dx, label + " dx");
            Identical<T>(one.Dg, two.Dg, label + " dGamma"); Identical<T>(one.Db, two.Db, label + " dBeta");
            Identical<T>(one.Ly, two.Ly, label + " fused y"); Identical<T>(one.Ldx, two.Ldx, label + " fused dx");
        }
    }

    [Test]
    public void Wrong_lengths_throw()
    {
        T[] x = new T[12], c3 = new T[3], c2 = new T[2];
        Assert.Throws<ArgumentException>(() => BatchNorm.Stats<T>(new T[11], 4, 3, c3, c3));
        Assert.That(Assert.Throws<ArgumentException>(() => BatchNorm.Stats<T>(x, 4, 3, c2, c3))!.ParamName,
            Is.EqualTo("destination"));
        Assert.Throws<ArgumentException>(() => BatchNorm.Apply<T>(x, 4, 3, c3, c3, Eps, c2, c3, new T[12]));
        Assert.That(Assert.Throws<ArgumentException>(() => BatchNorm.Apply<T>(x, 4, 3, c3, c3, Eps, c3, c3,
            new T[11]))!.ParamName, Is.EqualTo("destination"));
        Assert.Throws<ArgumentException>(() => BatchNorm.Backward<T>(x, 4, 3, c3, c3, Eps, c3, new T[11], new T[12], c3,
            c3));
        Assert.That(Assert.Throws<ArgumentException>(() => BatchNorm.Backward<T>(x, 4, 3, c3, c3, Eps, c3, x, new T[11],
            c3, c3))!.ParamName, Is.EqualTo("destination"));
        Assert.Throws<ArgumentException>(() => BatchNorm.Stats<T>([], 0, 3, c3, c3));
    }

    static (T[] X, T[] Mean, T[] Var, T[] Gamma, T[] Beta) Inputs(int rows, int c, int seed)
    {
        var x = Uniform<T>(rows * c, seed, -3, 5);
        T[] mean = new T[c], variance = new T[c];
        BatchNorm.Stats<T>(x, rows, c, mean, variance);
        return (x, mean, variance, Uniform<T>(c, seed + 1, -2, 2), Uniform<T>(c, seed + 2, -1, 1));
    }
}
