using InfoVae.Kernels;
using InfoVae.Kernels.Gpu;
using static InfoVae.Tests.Kernels.Gpu.GpuTestAccelerator;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>
/// ILGPU's 1-D launches (Index1D) and the kernels' flat indices are ints: a launch over 2³¹ elements or more, or an
/// MMD with more tile partials than an int counts, is refused before anything is launched or allocated.
/// </summary>
public class SizeCheckKernelTests
{
    [Test]
    public void Mmd_partial_count_past_2_to_the_31_is_refused()
    {
        // Tile 4: ⌈200000/4⌉² · 3 = 7.5e9 partials (an int would wrap to a negative count).
        var e = Assert.Throws<TensorTooLargeException>(() => K.MmdPartialCount(200_000, 200_000))!;
        Assert.That(e.Message, Is.EqualTo("the MMD of 200000 and 200000 samples (its tile partial sums) would hold "
            + "7,500,000,000 elements; one buffer holds at most 2,147,483,647 (2³¹ − 1)"));
        Assert.That(K.MmdPartialCount(7, 10), Is.EqualTo(2 * 2 + 3 * 3 + 2 * 3));
    }

    [Test]
    public void Launches_whose_thread_count_overflows_are_refused_before_they_run()
    {
        using var xb = Zeros(4); using var yb = Zeros(4);
        var (x, y) = (xb.View, yb.View);
        const int big = 70_000;                     // big² = 4.9e9
        Assert.Throws<TensorTooLargeException>(() => K.CopyRows(x, 0, y, 0, big, big, accumulate: false));
        Assert.Throws<TensorTooLargeException>(() => K.Transpose(x, big, big, y, accumulate: false));
        Assert.Throws<TensorTooLargeException>(() => K.SumAxis(x, big, 1, big, y, 1f, accumulate: false));
        Assert.Throws<TensorTooLargeException>(() => K.BroadcastAxis(x, 2_000, 2_000, 2_000, y, 1f));
        Assert.Throws<TensorTooLargeException>(() => K.SquaredDistance(x, big, y, big, 1, y));
        Assert.Throws<TensorTooLargeException>(() => K.GaussianKlBackward(x, x, y, big, big, y, y));
        Assert.Throws<TensorTooLargeException>(() => _ = GpuKernels.BatchNormScratchLength(int.MaxValue, big));
        Assert.Throws<TensorTooLargeException>(
            () => _ = Broadcast4.Create([65_536, 65_536], [65_536, 1], [1, 65_536]).Length);
        Accelerator.DefaultStream.Synchronize();
    }
}
