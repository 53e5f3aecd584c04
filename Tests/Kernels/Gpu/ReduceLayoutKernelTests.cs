using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Gpu;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Kernels.Gpu.GpuTestAccelerator;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>Axis sums and their broadcast backward (against Kernels/Cpu/Reduce in double), fills, strided row copies and the transpose.</summary>
public class ReduceLayoutKernelTests
{
    const double Atol = 1e-5, Rtol = 1e-5;

    // (outer, axis, inner): whole-tensor sums (1, N, 1), row sums (inner 1), column sums and middle axes.
    [TestCase(1, 1, 1)] [TestCase(1, 31, 1)] [TestCase(1, 1000, 1)] [TestCase(33, 5, 1)] [TestCase(1, 33, 5)]
    [TestCase(2, 3, 5)] [TestCase(17, 1, 3)] [TestCase(3, 17, 1)]
    public void Sum_axis_matches_the_cpu_reduce(int outer, int axis, int inner)
    {
        var x = F(Rand.Uniform(outer * axis * inner, 21));
        var y0 = F(Rand.Uniform(outer * inner, 22));
        foreach (var (grid, label) in new[] { (K, "tile 4"), (Tile2, "tile 2") })
            foreach (bool accumulate in new[] { false, true })
            {
                var expected = (double[])y0.Clone();
                Reduce.SumAxis<double>(x, outer, axis, inner, 0.5, accumulate, expected);
                using var gx = Dev(x); using var gy = Dev(y0);
                grid.SumAxis(gx.View, outer, axis, inner, gy.View, 0.5f, accumulate);
                Close.Assert(expected, Host(gy), Atol, Rtol, $"sum {label} accumulate={accumulate}");
            }
    }

    [Test]
    public void Row_sums_use_the_group_tree_and_are_the_same_bits_every_run()
    {
        var x = F(Rand.Uniform(3 * 257, 23));
        using var gx = Dev(x); using var y1 = Zeros(3); using var y2 = Zeros(3);
        K.SumAxis(gx.View, 3, 257, 1, y1.View, 1f, false);
        K.SumAxis(gx.View, 3, 257, 1, y2.View, 1f, false);
        Assert.That(Host(y2), Is.EqualTo(Host(y1)));
    }

    [TestCase(1, 1, 1)] [TestCase(33, 5, 1)] [TestCase(1, 33, 5)] [TestCase(2, 3, 5)]
    public void Broadcast_axis_matches_the_cpu_reduce(int outer, int axis, int inner)
    {
        var dy = F(Rand.Uniform(outer * inner, 24));
        var dx0 = F(Rand.Uniform(outer * axis * inner, 25));
        var expected = (double[])dx0.Clone();
        Reduce.BroadcastAxis<double>(dy, outer, axis, inner, 0.25, expected);
        using var gdy = Dev(dy); using var gdx = Dev(dx0);
        K.BroadcastAxis(gdy.View, outer, axis, inner, gdx.View, 0.25f);
        Close.Assert(expected, Host(gdx), Atol, Rtol, "broadcast");
    }

    [Test]
    public void Fill_writes_every_element_of_the_window_only()
    {
        using var y = Dev(new float[7]);
        K.Fill(y.View.SubView(2, 4), 3.5f);
        Assert.That(Host(y), Is.EqualTo(new[] { 0f, 0f, 3.5f, 3.5f, 3.5f, 3.5f, 0f }));
    }

    // (rows, cols, source row stride, destination row stride): packed, slices of wider rows, a stride-0 (broadcast) source.
    [TestCase(1, 1, 1, 1)] [TestCase(17, 3, 3, 3)] [TestCase(5, 3, 7, 4)] [TestCase(33, 5, 0, 9)] [TestCase(4, 2, 5, 2)]
    public void Copy_rows_between_strided_views(int rows, int cols, int srcStride, int dstStride)
    {
        int srcOff = 2, dstOff = 1;
        var src = Rand.UniformF(srcOff + Math.Max(srcStride * (rows - 1), 0) + cols, 26);
        var dst0 = Rand.UniformF(dstOff + dstStride * (rows - 1) + cols + 3, 27);
        foreach (bool accumulate in new[] { false, true })
        {
            var expected = (float[])dst0.Clone();
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++)
                {
                    float v = src[srcOff + r * srcStride + c];
                    ref float d = ref expected[dstOff + r * dstStride + c];
                    d = accumulate ? d + v : v;
                }
            using var gs = Dev(src); using var gd = Dev(dst0);
            K.CopyRows(gs.View.SubView(srcOff, src.Length - srcOff), srcStride, gd.View.SubView(dstOff, dst0.Length - dstOff), dstStride, rows, cols, accumulate);
            Assert.That(Host(gd), Is.EqualTo(expected), $"accumulate={accumulate}");
        }
    }

    [TestCase(1, 1)] [TestCase(17, 3)] [TestCase(33, 5)] [TestCase(1, 31)]
    public void Transpose_matches_index_swap(int rows, int cols)
    {
        var x = Rand.UniformF(rows * cols, 28);
        var y0 = Rand.UniformF(rows * cols, 29);
        foreach (bool accumulate in new[] { false, true })
        {
            var expected = (float[])y0.Clone();
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    expected[j * rows + i] = accumulate ? expected[j * rows + i] + x[i * cols + j] : x[i * cols + j];
            using var gx = Dev(x); using var gy = Dev(y0);
            K.Transpose(gx.View, rows, cols, gy.View, accumulate);
            Assert.That(Host(gy), Is.EqualTo(expected), $"accumulate={accumulate}");
        }
    }
}
