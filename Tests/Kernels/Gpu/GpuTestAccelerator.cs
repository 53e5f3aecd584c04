using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using InfoVae.Kernels.Gpu;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>
/// The ILGPU CPU accelerators for every GPU kernel test in this namespace (created once: a context and the kernels'
/// compilation are the expensive part).
/// - <see cref="K"/>: 16 threads per group (warp 4 × 4 warps, one multiprocessor) for the 4×4 tiles the kernels use
///   on the CPU accelerator; <see cref="Tile2"/> runs the tiled kernels with 2×2 groups as well.
/// - <see cref="Production"/>: a GPU's sizes, tile 16 (256-thread groups) and 256-thread tree reductions, on 4
///   multiprocessors with warps of 32. Groups of one launch then run at the same time on different threads, so a
///   race between groups can show, and edge tiles and multi-group reductions are reached at GPU shapes.
/// Buffers come from the first accelerator; a CPU accelerator's buffers are host memory, which the second one's
/// kernels read and write as well (its launches, like the first's, finish before they return).
/// </summary>
[SetUpFixture]
public sealed class GpuTestAccelerator
{
    static Context? context, productionContext;
    static Accelerator? accelerator, productionAccelerator;
    static GpuKernels? kernels, tile2, production;

    public static Accelerator Accelerator => accelerator
        ?? throw new InvalidOperationException("the GPU test accelerator is not set up");
    /// <summary>The kernels with the CPU accelerator's default tile (4).</summary>
    public static GpuKernels K => kernels!;
    public static GpuKernels Tile2 => tile2!;
    /// <summary>Tile 16, reductions over 256 threads, 4 multiprocessors × 256 threads (CPUDevice(32, 8, 4)).</summary>
    public static GpuKernels Production => production!;

    [OneTimeSetUp]
    public void Up()
    {
        context = Context.Create(b => b.CPU(new CPUDevice(4, 4, 1)).EnableAlgorithms());
        accelerator = context.CreateCPUAccelerator(0, CPUAcceleratorMode.Parallel);
        kernels = new GpuKernels(accelerator, accelerator.DefaultStream);
        tile2 = new GpuKernels(accelerator, accelerator.DefaultStream, tile: 2);
        productionContext = Context.Create(b => b.CPU(new CPUDevice(32, 8, 4)).EnableAlgorithms());
        productionAccelerator = productionContext.CreateCPUAccelerator(0, CPUAcceleratorMode.Parallel);
        production = new GpuKernels(productionAccelerator, productionAccelerator.DefaultStream, tile: 16);
    }

    [OneTimeTearDown]
    public void Down()
    {
        productionAccelerator?.Dispose();
        productionContext?.Dispose();
        accelerator?.Dispose();
        context?.Dispose();
    }

    /// <summary>The three configurations, labelled, for tests that run a kernel under each.</summary>
    public static (GpuKernels Kernels, string Label)[] Grids =>
        [(K, "tile 4"), (Tile2, "tile 2"), (Production, "tile 16 × 4 MPs")];

    public static MemoryBuffer1D<float, Stride1D.Dense> Dev(float[] host) => Accelerator.Allocate1D(host);

    public static MemoryBuffer1D<float, Stride1D.Dense> Dev(double[] host)
        => Accelerator.Allocate1D(Array.ConvertAll(host, v => (float)v));

    public static MemoryBuffer1D<float, Stride1D.Dense> Zeros(int n)
    {
        var b = Accelerator.Allocate1D<float>(Math.Max(n, 1));
        b.MemSetToZero();
        return b;
    }

    /// <summary>Waits for the stream, then copies the buffer back.</summary>
    public static float[] Host(MemoryBuffer1D<float, Stride1D.Dense> b)
    {
        Accelerator.DefaultStream.Synchronize();
        return b.GetAsArray1D();
    }

    public static double[] F(double[] v) => Array.ConvertAll(v, x => (double)(float)x);
}
