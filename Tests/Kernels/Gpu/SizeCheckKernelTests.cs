using InfoVae.Kernels;
using InfoVae.Kernels.Gpu;
using static InfoVae.Tests.Kernels.Gpu.GpuTestAccelerator;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>
/// ILGPU's 1-D launches (Index1D) and the kernels' flat indices are ints: a launch over 2³¹ elements or more is
/// refused before anything is launched or allocated; the MMD's tile partials are capped per grid instead.
/// </summary>
public class SizeCheckKernelTests
{
    [Test]
    public void Mmd_partials_stay_bounded_however_many_samples()
    {
        // Tile 4: ⌈200000/4⌉² · 3 = 7.5e9 tile pairs, far past an int; the groups stride over their grid's pairs,
        // so the partial sums are at most three grids' worth of groups, whatever n is.
        Assert.That(K.MmdPartialCount(200_000, 200_000), Is.EqualTo(3 * GpuKernels.MmdMaxGroupsPerGrid));
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
        Assert.Throws<TensorTooLargeException>(() => K.SumAxis(x, big, 1, big, y, 1f, accumulate: false, y));
        Assert.Throws<TensorTooLargeException>(() => K.BroadcastAxis(x, 2_000, 2_000, 2_000, y, 1f));
        Assert.Throws<TensorTooLargeException>(() => K.SquaredDistance(x, big, y, big, 1, y));
        Assert.Throws<TensorTooLargeException>(() => K.GaussianKlBackward(x, x, y, big, big, y, y));
        Assert.Throws<TensorTooLargeException>(() => _ = GpuKernels.BatchNormScratchLength(int.MaxValue, big));
        Assert.Throws<TensorTooLargeException>(
            () => _ = Broadcast4.Create([65_536, 65_536], [65_536, 1], [1, 65_536]).Length);
        Accelerator.DefaultStream.Synchronize();
    }
}
