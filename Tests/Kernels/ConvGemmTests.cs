using System.Numerics;
using InfoVae.Kernels;
using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Reference;
using static InfoVae.Tests.Kernels.KernelCheck;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// ConvGemm's three fused products against im2col, a double GEMM and col2im from Kernels/Reference: awkward
/// geometries (C = 1, 3, 17, 32; strides 1-3; pads 0-2; non-square), M and K on and off the 12-row micro-panels
/// and 32-column (16 for double) panels, so the weight gradient takes both its in-place and its swapped product;
/// batches large enough for several chunks and weight-gradient parts; NaN and ±∞ planted; stale NaN in an
/// overwritten destination; guards past the end; 1 vs 2 threads; length errors.
/// </summary>
[TestFixture(typeof(float))]
[TestFixture(typeof(double))]
public class ConvGemmTests<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>(geometry, M = the weight's other side).</summary>
    static IEnumerable<(ConvGeometry G, int M)> Geometries()
    {
        yield return (ConvGeometry.Conv(2, 7, 5, 3, 3, 3, 1, 1), 5);
        yield return (ConvGeometry.Conv(3, 9, 11, 17, 3, 2, 2, 0), 13);
        yield return (ConvGeometry.Conv(1, 6, 6, 1, 4, 4, 2, 1), 33);
        yield return (ConvGeometry.Conv(2, 8, 7, 32, 2, 5, 3, 2), 4);
        // PL = 32: the weight gradient reads cols in place
        yield return (ConvGeometry.Conv(2, 5, 6, 32, 1, 1, 1, 0), 8);
        // Several chunks (448 KiB of cols each) and so several weight-gradient parts: the model's second layer at
        // batch 9 (4 images a chunk in float), and a first layer at batch 80 (C = 1, PL = 16: the swapped product).
        yield return (ConvGeometry.Conv(9, 14, 14, 32, 4, 4, 2, 1), 64);
        yield return (ConvGeometry.Conv(80, 28, 28, 1, 4, 4, 2, 1), 32);
        yield return (ConvGeometry.Conv(40, 9, 11, 17, 3, 3, 2, 1), 12);
    }

    static IEnumerable<TestCaseData> Cases() => Geometries().Select(e => new TestCaseData(e.G, e.M).SetArgDisplayNames(
        $"C{e.G.C} {e.G.N}x{e.G.H}x{e.G.W} k{e.G.KH}x{e.G.KW} s{e.G.Stride} p{e.G.Pad} M{e.M}"));

    /// <summary>c (rows, n) = a (rows, k) · op(b) in double with op(b) = bᵀ for b (n, k) (transB) or b (k, n); also
    /// Σ|terms|.</summary>
    static (double[] C, double[] Abs) Product(double[] a, int rows, int k, double[] b, int n, bool transB)
    {
        var c = new double[rows * n]; var abs = new double[rows * n];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
            {
                double s = 0, q = 0;
                for (int p = 0; p < k; p++)
                {
                    double t = a[r * k + p] * (transB ? b[j * k + p] : b[p * n + j]);
                    s += t; q += Math.Abs(t);
                }
                c[r * n + j] = s; abs[r * n + j] = q;
            }
        return (c, abs);
    }

    static double[] Cols(T[] image, ConvGeometry g)
    {
        var cols = new double[g.ColsLength];
        Reference.Im2Col(ToDouble<T>(image), g, cols);
        return cols;
    }

    static double[] Transpose(double[] x, int rows, int cols)
    {
        var t = new double[x.Length];
        for (int r = 0; r < rows; r++) for (int c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c];
        return t;
    }

    [TestCaseSource(nameof(Cases))]
    public void Forward_matches_the_reference(ConvGeometry g, int m)
    {
        foreach (bool specials in new[] { false, true })
            foreach (double beta in new[] { 0.0, 1.0, -0.5 })
            {
                string label = $"forward {g} M {m} beta {beta}{(specials ? " specials" : "")}";
                var image = Uniform<T>(g.ImageLength, g.ImageLength + m, -1, 1);
                var w = Uniform<T>(m * g.PatchLength, m + 7, -1, 1);
                if (specials) { Plant(image, m); Plant(w, m + 1, [double.NaN]); }
                var y0 = Uniform<T>(g.Rows * m, 3, -1, 1);
                if (beta == 0) Plant(y0, 4, [double.NaN, double.PositiveInfinity]);   // overwritten: must not leak
                var (e, abs) = Product(Cols(image, g), g.Rows, g.PatchLength, ToDouble<T>(w), m, transB: true);
                var y0d = ToDouble<T>(y0);
                if (beta != 0)
                    for (int i = 0; i < e.Length; i++) { e[i] += beta * y0d[i]; abs[i] += Math.Abs(beta * y0d[i]); }
                var y = Guarded<T>(g.Rows * m, y0);
                ConvGemm.Forward<T>(image, g, w, m, T.CreateTruncating(beta), y.AsSpan(0, g.Rows * m));
                Close<T>(e, y.AsSpan(0, g.Rows * m), abs, SumTolerance<T>(g.PatchLength + 2), label);
                GuardIntact(y, g.Rows * m, label);
            }
    }

    [TestCaseSource(nameof(Cases))]
    public void Backward_data_matches_the_reference(ConvGeometry g, int k)
    {
        foreach (bool specials in new[] { false, true })
            foreach (bool accumulate in new[] { false, true })
            {
                string label = $"backward data {g} K {k} {(accumulate ? "accumulate" : "overwrite")}"
                               + (specials ? " specials" : "");
                var a = Uniform<T>(g.Rows * k, g.Rows + k, -1, 1);
                var w = Uniform<T>(k * g.PatchLength, k + 9, -1, 1);
                if (specials) { Plant(a, k); Plant(w, k + 2, [double.NaN]); }
                var image0 = Uniform<T>(g.ImageLength, 5, -1, 1);
                if (!accumulate) Plant(image0, 6, [double.NaN, double.NegativeInfinity]);
                var (dcols, abs) = Product(ToDouble<T>(a), g.Rows, k, ToDouble<T>(w), g.PatchLength, transB: false);
                var e = accumulate ? ToDouble<T>(image0) : new double[g.ImageLength];
                var scale = accumulate ? Array.ConvertAll(ToDouble<T>(image0), Math.Abs) : new double[g.ImageLength];
                Reference.Col2Im(dcols, g, e);
                Reference.Col2Im(abs, g, scale);
                int taps = (g.KH + g.Stride - 1) / g.Stride * ((g.KW + g.Stride - 1) / g.Stride);
                var image = Guarded<T>(g.ImageLength, image0);
                ConvGemm.BackwardData<T>(a, k, w, g, accumulate, image.AsSpan(0, g.ImageLength));
                Close<T>(e, image.AsSpan(0, g.ImageLength), scale, SumTolerance<T>(k + taps + 1), label);
                GuardIntact(image, g.ImageLength, label);
            }
    }

    [TestCaseSource(nameof(Cases))]
    public void Weight_gradient_matches_the_reference(ConvGeometry g, int m)
    {
        foreach (bool specials in new[] { false, true })
            foreach (bool accumulate in new[] { false, true })
            {
                string label = $"weight gradient {g} M {m} {(accumulate ? "accumulate" : "overwrite")}"
                               + (specials ? " specials" : "");
                var image = Uniform<T>(g.ImageLength, g.ImageLength + 3 * m, -1, 1);
                var dy = Uniform<T>(g.Rows * m, m + 11, -1, 1);
                if (specials) { Plant(image, m + 3); Plant(dy, m + 4, [double.NaN]); }
                var dw0 = Uniform<T>(m * g.PatchLength, 7, -1, 1);
                if (!accumulate) Plant(dw0, 8, [double.NaN, double.PositiveInfinity]);
                // dw (M, PL) = dyᵀ (M, Rows) · cols (Rows, PL)
                var (e, abs) = Product(Transpose(ToDouble<T>(dy), g.Rows, m), m, g.Rows, Cols(image, g), g.PatchLength,
                    transB: false);
                var dw0d = ToDouble<T>(dw0);
                if (accumulate) for (int i = 0; i < e.Length; i++) { e[i] += dw0d[i]; abs[i] += Math.Abs(dw0d[i]); }
                var dw = Guarded<T>(m * g.PatchLength, dw0);
                ConvGemm.WeightGrad<T>(image, g, dy, m, accumulate, dw.AsSpan(0, m * g.PatchLength));
                Close<T>(e, dw.AsSpan(0, m * g.PatchLength), abs, SumTolerance<T>(g.Rows + 8), label);
                GuardIntact(dw, m * g.PatchLength, label);
            }
    }

    [Test]
    public void One_and_two_threads_give_identical_bits()
    {
        foreach (var (g, m) in Geometries().Skip(5))
        {
            var image = Uniform<T>(g.ImageLength, 1, -1, 1); var w = Uniform<T>(m * g.PatchLength, 2, -1, 1);
            var dy = Uniform<T>(g.Rows * m, 3, -1, 1); var back0 = Uniform<T>(g.ImageLength, 4, -1, 1);
            (T[] Y, T[] Back, T[] Dw) Run(int threads)
            {
                int saved = Workers.MaxThreads;
                try
                {
                    Workers.MaxThreads = threads;
                    T[] y = new T[g.Rows * m], back = (T[])back0.Clone(), dw = new T[m * g.PatchLength];
                    ConvGemm.Forward<T>(image, g, w, m, T.Zero, y);
                    ConvGemm.BackwardData<T>(dy, m, w, g, true, back);
                    ConvGemm.WeightGrad<T>(image, g, dy, m, false, dw);
                    return (y, back, dw);
                }
                finally { Workers.MaxThreads = saved; }
            }
            var one = Run(1); var two = Run(2);
            Identical<T>(one.Y, two.Y, $"forward {g}");
            Identical<T>(one.Back, two.Back, $"backward data {g}");
            Identical<T>(one.Dw, two.Dw, $"weight gradient {g}");
        }
    }

    [Test]
    public void Wrong_lengths_throw()
    {
        var g = ConvGeometry.Conv(2, 5, 4, 3, 3, 3, 2, 1);
        int m = 4, pl = g.PatchLength;
        Assert.That(Assert.Throws<ArgumentException>(()
            => ConvGemm.Forward<T>(new T[g.ImageLength - 1], g, new T[m * pl], m, T.Zero,
            new T[g.Rows * m]))!.ParamName, Is.EqualTo("image"));
        Assert.That(Assert.Throws<ArgumentException>(()
            => ConvGemm.Forward<T>(new T[g.ImageLength], g, new T[m * pl + 1], m, T.Zero,
            new T[g.Rows * m]))!.ParamName, Is.EqualTo("w"));
        Assert.That(Assert.Throws<ArgumentException>(()
            => ConvGemm.Forward<T>(new T[g.ImageLength], g, new T[m * pl], m, T.Zero,
            new T[g.Rows * m - 1]))!.ParamName, Is.EqualTo("y"));
        Assert.That(Assert.Throws<ArgumentException>(()
            => ConvGemm.BackwardData<T>(new T[g.Rows * m - 1], m, new T[m * pl], g, true,
            new T[g.ImageLength]))!.ParamName, Is.EqualTo("a"));
        Assert.That(Assert.Throws<ArgumentException>(()
            => ConvGemm.BackwardData<T>(new T[g.Rows * m], m, new T[m * pl], g, true,
            new T[g.ImageLength + 1]))!.ParamName, Is.EqualTo("image"));
        Assert.That(Assert.Throws<ArgumentException>(()
            => ConvGemm.WeightGrad<T>(new T[g.ImageLength], g, new T[g.Rows * m + 1], m, true,
            new T[m * pl]))!.ParamName, Is.EqualTo("dy"));
        Assert.That(Assert.Throws<ArgumentException>(()
            => ConvGemm.WeightGrad<T>(new T[g.ImageLength], g, new T[g.Rows * m], m, true,
            new T[m * pl - 1]))!.ParamName, Is.EqualTo("dw"));
    }
}
