using System.Numerics;
using InfoVae.Kernels;
using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Reference;
using static InfoVae.Tests.Kernels.KernelCheck;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// Im2Col.Copy and Col2Im.Accumulate against the double references at awkward geometries (C = 1, 3, 17, 33;
/// strides 1-3; pads 0-2; non-square kernels and images), with NaN, ±∞ and −0 planted, a guard past the end of
/// every destination, the adjoint identity, 1 vs 2 threads, and length errors.
/// </summary>
[TestFixture(typeof(float))]
[TestFixture(typeof(double))]
public class ConvKernelTests<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    static IEnumerable<ConvGeometry> Geometries()
    {
        // (KH, KW, S, P): square and not, kernel larger than the stride (overlap) and smaller (gaps), pad up to 2.
        (int, int, int, int)[] kernels = [(1, 1, 1, 0), (3, 3, 1, 1), (4, 4, 2, 1), (3, 2, 2, 0), (2, 5, 3, 2),
            (5, 3, 3, 1), (3, 3, 2, 2)];
        (int, int, int)[] images = [(2, 7, 5), (1, 9, 11), (3, 4, 6)];
        foreach (int c in new[] { 1, 3, 17, 33 })
            foreach (var (n, h, w) in images)
                foreach (var (kh, kw, s, p) in kernels)
                    if (h + 2 * p >= kh && w + 2 * p >= kw)
                        yield return ConvGeometry.Conv(n, h, w, c, kh, kw, s, p);
    }

    static IEnumerable<TestCaseData> Cases() => Geometries().Select(g => new TestCaseData(g).SetArgDisplayNames(
        $"C{g.C} {g.N}x{g.H}x{g.W} k{g.KH}x{g.KW} s{g.Stride} p{g.Pad}"));

    [TestCaseSource(nameof(Cases))]
    public void Im2col_matches_the_reference(ConvGeometry g)
    {
        foreach (bool specials in new[] { false, true })
        {
            string label = $"im2col {g}{(specials ? " specials" : "")}";
            int seed = g.ImageLength + g.KH * 7 + g.Stride;
            var image = Uniform<T>(g.ImageLength, seed, -2, 2);
            if (specials) Plant(image, seed);
            var expected = new double[g.ColsLength];
            Reference.Im2Col(ToDouble<T>(image), g, expected);
            // stale values must all be overwritten
            var cols = Guarded<T>(g.ColsLength, Uniform<T>(g.ColsLength, seed + 1, -9, 9));
            Im2Col.Copy<T>(image, g, cols.AsSpan(0, g.ColsLength));
            // a copy: exact, −0 kept
            Close<T>(expected, cols.AsSpan(0, g.ColsLength), default, 0, label, zeroSign: true);
            GuardIntact(cols, g.ColsLength, label);
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Col2im_matches_the_reference(ConvGeometry g)
    {
        foreach (bool specials in new[] { false, true })
        {
            string label = $"col2im {g}{(specials ? " specials" : "")}";
            int seed = g.ColsLength + g.KW * 5 + g.Pad;
            var cols = Uniform<T>(g.ColsLength, seed, -2, 2);
            if (specials) Plant(cols, seed);
            var image0 = Uniform<T>(g.ImageLength, seed + 1, -1, 1);
            var colsD = ToDouble<T>(cols);
            var expected = ToDouble<T>(image0);
            Reference.Col2Im(colsD, g, expected);
            // Scale: Σ|terms| + |initial|; at most ⌈KH/S⌉·⌈KW/S⌉ terms plus the initial value are added.
            var scale = Array.ConvertAll(ToDouble<T>(image0), Math.Abs);
            Reference.Col2Im(Array.ConvertAll(colsD, Math.Abs), g, scale);
            int taps = (g.KH + g.Stride - 1) / g.Stride * ((g.KW + g.Stride - 1) / g.Stride);
            var image = Guarded<T>(g.ImageLength, image0);
            Col2Im.Accumulate<T>(cols, g, image.AsSpan(0, g.ImageLength));
            Close<T>(expected, image.AsSpan(0, g.ImageLength), scale, SumTolerance<T>(taps + 1), label);
            GuardIntact(image, g.ImageLength, label);
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void Col2im_is_the_adjoint_of_im2col(ConvGeometry g)
    {
        // <im2col(x), c> = <x, col2im(c)>, both sides summed in double from the kernels' T outputs.
        var x = Uniform<T>(g.ImageLength, 3, -1, 1); var c = Uniform<T>(g.ColsLength, 4, -1, 1);
        var cols = new T[g.ColsLength]; var back = new T[g.ImageLength];
        Im2Col.Copy<T>(x, g, cols);
        Col2Im.Accumulate<T>(c, g, back);
        double lhs = 0, rhs = 0, mag = 0;
        for (int i = 0; i < cols.Length; i++)
        {
            lhs += double.CreateTruncating(cols[i]) * double.CreateTruncating(c[i]);
            mag += Math.Abs(double.CreateTruncating(cols[i]) * double.CreateTruncating(c[i]));
        }
        for (int i = 0; i < x.Length; i++) rhs += double.CreateTruncating(x[i]) * double.CreateTruncating(back[i]);
        int taps = (g.KH + g.Stride - 1) / g.Stride * ((g.KW + g.Stride - 1) / g.Stride);
        Assert.That(rhs, Is.EqualTo(lhs).Within(SumTolerance<T>(taps) * mag + 1e-12),
            $"<im2col(x), c> vs <x, col2im(c)> for {g}");
    }

    [Test]
    public void Model_sized_calls_match_the_reference()
    {
        // Big enough for the parallel paths and for col2im's prefetching (cols ≥ 8 MiB): the model's second encoder
        // layer (and its decoder twin) with a batch of 96.
        var g = ConvGeometry.Conv(96, 14, 14, 32, 4, 4, 2, 1);
        var image = Uniform<T>(g.ImageLength, 5, -1, 1);
        var expected = new double[g.ColsLength];
        Reference.Im2Col(ToDouble<T>(image), g, expected);
        var cols = new T[g.ColsLength];
        Im2Col.Copy<T>(image, g, cols);
        Close<T>(expected, cols, default, 0, $"im2col {g}");
        var c = Uniform<T>(g.ColsLength, 6, -1, 1);
        var back = ToDouble<T>(image);
        Reference.Col2Im(ToDouble<T>(c), g, back);
        var scale = Array.ConvertAll(ToDouble<T>(image), Math.Abs);
        Reference.Col2Im(Array.ConvertAll(ToDouble<T>(c), Math.Abs), g, scale);
        Col2Im.Accumulate<T>(c, g, image);
        Close<T>(back, image, scale, SumTolerance<T>(5), $"col2im {g}");
    }

    [Test]
    public void Col2im_sums_in_the_documented_order()
    {
        // Stride 1, 3×3 kernel: the centre pixel of a 3×3 image gathers 9 taps; values chosen so the float sum depends
        // on the order (1e8 absorbs 1, then −1e8 cancels it): (((0 + 1e8) + 1) + … ) vs any other order.
        var g = ConvGeometry.Conv(1, 3, 3, 1, 3, 3, 1, 1);
        var cols = new T[g.ColsLength];
        // The centre (1, 1) is tap (kh, kw) of the patch at (oh, ow) = (2 − kh, 2 − kw): row (2 − kh)·3 + (2 − kw),
        // column kh·3 + kw.
        double[] taps = [1e8, 1, 1, 1, -1e8, 1, 1, 1, 1];   // in kh-then-kw order
        for (int k = 0; k < 9; k++)
        {
            int kh = k / 3, kw = k % 3;
            cols[((2 - kh) * 3 + (2 - kw)) * 9 + k] = T.CreateTruncating(taps[k]);
        }
        var image = new T[9];
        Col2Im.Accumulate<T>(cols, g, image);
        T expected = T.Zero;
        foreach (var t in taps) expected += T.CreateTruncating(t);
        Assert.That(image[4], Is.EqualTo(expected), "the centre pixel");
    }

    [Test]
    public void One_and_two_threads_give_identical_bits()
    {
        // Large enough for the parallel paths: the model's second encoder layer with a batch of 16.
        foreach (var g in new[] { ConvGeometry.Conv(16, 14, 14, 32, 4, 4, 2, 1),
            ConvGeometry.Conv(64, 28, 28, 1, 4, 4, 2, 1), ConvGeometry.Conv(5, 13, 11, 33, 3, 2, 3, 2) })
        {
            var image = Uniform<T>(g.ImageLength, 1, -1, 1); var c = Uniform<T>(g.ColsLength, 2, -1, 1);
            var image0 = Uniform<T>(g.ImageLength, 3, -1, 1);
            (T[] Cols, T[] Image) Run(int threads)
            {
                int saved = Workers.MaxThreads;
                try
                {
                    Workers.MaxThreads = threads;
                    var cols = new T[g.ColsLength]; var back = (T[])image0.Clone();
                    Im2Col.Copy<T>(image, g, cols);
                    Col2Im.Accumulate<T>(c, g, back);
                    return (cols, back);
                }
                finally { Workers.MaxThreads = saved; }
            }
            var one = Run(1); var two = Run(2);
            Identical<T>(one.Cols, two.Cols, $"im2col {g}");
            Identical<T>(one.Image, two.Image, $"col2im {g}");
        }
    }

    [Test]
    public void Wrong_lengths_throw()
    {
        var g = ConvGeometry.Conv(2, 5, 4, 3, 3, 3, 2, 1);
        Assert.That(Assert.Throws<ArgumentException>(() => Im2Col.Copy<T>(new T[g.ImageLength - 1], g,
            new T[g.ColsLength]))!.ParamName, Is.EqualTo("image"));
        Assert.That(Assert.Throws<ArgumentException>(() => Im2Col.Copy<T>(new T[g.ImageLength], g,
            new T[g.ColsLength - 1]))!.ParamName, Is.EqualTo("cols"));
        Assert.That(Assert.Throws<ArgumentException>(() => Col2Im.Accumulate<T>(new T[g.ColsLength + 1], g,
            new T[g.ImageLength]))!.ParamName, Is.EqualTo("cols"));
        Assert.That(Assert.Throws<ArgumentException>(() => Col2Im.Accumulate<T>(new T[g.ColsLength], g,
            new T[g.ImageLength + 1]))!.ParamName, Is.EqualTo("image"));
        Assert.Throws<ArgumentException>(() => Im2Col.Copy<T>(new T[g.ImageLength], g with { OH = 4 },
            new T[g.ColsLength]));
    }
}
