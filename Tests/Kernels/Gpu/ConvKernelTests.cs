using InfoVae.Kernels;
using InfoVae.Kernels.Gpu;
using InfoVae.Kernels.Reference;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Kernels.Gpu.GpuTestAccelerator;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>
/// Im2Col and Col2Im (Kernels/Gpu/Conv.cs) on ILGPU's CPU accelerator against Reference.Im2Col/Col2Im in double,
/// at small awkward geometries: odd sizes, stride above the kernel (pixels no patch covers), padding wider than
/// the kernel's reach, 1×1 kernels, a transposed conv's geometry and the model's first layer at batch 1.
/// </summary>
public class ConvKernelTests
{
    // (N, H, W, C, KH, KW, stride, pad) for conv geometries.
    static readonly int[][] ConvCases =
    [
        [2, 5, 6, 3, 3, 3, 2, 1],
        [1, 7, 7, 2, 4, 4, 2, 1],
        [3, 2, 3, 4, 1, 1, 1, 0],
        [1, 8, 7, 2, 2, 2, 3, 0],
        [1, 3, 4, 1, 3, 3, 1, 2],
        [2, 6, 5, 3, 2, 3, 1, 1],
        [1, 28, 28, 1, 4, 4, 2, 1],
    ];

    public static IEnumerable<TestCaseData> Geometries()
    {
        foreach (var c in ConvCases)
            yield return new TestCaseData(ConvGeometry.Conv(c[0], c[1], c[2], c[3], c[4], c[5], c[6],
                c[7])).SetArgDisplayNames("conv " + string.Join(",", c));
        // Transposed convs: the image is the output (2, 7, 7, 3) of a 4×4 input, k3 s2 p1; and 3×5 → k4 s2 p1, output
        // pad 1.
        yield return new TestCaseData(ConvGeometry.Transposed(2, 4, 4, 3, 3, 3, 2, 1,
            0)).SetArgDisplayNames("convT 4x4 k3 s2 p1");
        yield return new TestCaseData(ConvGeometry.Transposed(1, 3, 5, 2, 4, 4, 2, 1,
            1)).SetArgDisplayNames("convT 3x5 k4 s2 p1 op1");
    }

    [TestCaseSource(nameof(Geometries))]
    public void Im2col_matches_the_reference(ConvGeometry g)
    {
        var image = F(Rand.Uniform(g.ImageLength, 31));
        var expected = new double[g.ColsLength];
        Reference.Im2Col(image, g, expected);
        using var gi = Dev(image);
        using var gc = Dev(Rand.Uniform(g.ColsLength, 32));   // garbage to overwrite, zeros included
        K.Im2Col(gi.View, g, gc.View);
        Assert.That(Array.ConvertAll(Host(gc), v => (double)v), Is.EqualTo(expected), "im2col is a copy: exact");
    }

    [TestCaseSource(nameof(Geometries))]
    public void Col2im_accumulates_the_reference_adjoint(ConvGeometry g)
    {
        var cols = F(Rand.Uniform(g.ColsLength, 33));
        var image0 = F(Rand.Uniform(g.ImageLength, 34));
        var expected = (double[])image0.Clone();
        Reference.Col2Im(cols, g, expected);
        using var gc = Dev(cols);
        using var gi = Dev(image0);
        K.Col2Im(gc.View, g, gi.View);
        var first = Host(gi);
        Close.Assert(expected, first, 1e-6, 1e-6, "col2im");

        // A gather with a fixed order: the same bits on a second run from the same start.
        using var again = Dev(image0);
        K.Col2Im(gc.View, g, again.View);
        Assert.That(Host(again), Is.EqualTo(first), "col2im run twice");
    }

    [Test]
    public void Im2col_of_a_2x2_image_with_padding_by_hand()
    {
        // 1 image 2×2×1 = [1 2; 3 4], kernel 2×2, stride 1, pad 1: a 3×3 grid of patches (kh, kw) over the padded 4×4.
        var g = ConvGeometry.Conv(1, 2, 2, 1, 2, 2, 1, 1);
        using var gi = Dev(new float[] { 1, 2, 3, 4 });
        using var gc = Zeros(g.ColsLength);
        K.Im2Col(gi.View, g, gc.View);
        Assert.That(Host(gc), Is.EqualTo(new float[]
        {
            0, 0, 0, 1,   0, 0, 1, 2,   0, 0, 2, 0,
            0, 1, 0, 3,   1, 2, 3, 4,   2, 0, 4, 0,
            0, 3, 0, 0,   3, 4, 0, 0,   4, 0, 0, 0,
        }));
    }

    [Test]
    public void Col2im_of_ones_counts_the_patches_covering_each_pixel()
    {
        // 3×3 image, kernel 3×3, stride 1, pad 1: corners are covered by 4 patches, edges by 6, the centre by 9.
        var g = ConvGeometry.Conv(1, 3, 3, 1, 3, 3, 1, 1);
        using var gc = Dev(Enumerable.Repeat(1f, g.ColsLength).ToArray());
        using var gi = Zeros(g.ImageLength);
        K.Col2Im(gc.View, g, gi.View);
        Assert.That(Host(gi), Is.EqualTo(new float[] { 4, 6, 4, 6, 9, 6, 4, 6, 4 }));
    }
}
