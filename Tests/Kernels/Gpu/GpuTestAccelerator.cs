using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using InfoVae.Kernels.Gpu;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>
/// One ILGPU CPU accelerator for every GPU kernel test in this namespace (created once: a context and the kernels'
/// compilation are the expensive part). 16 threads per group (warp 4 × 4 warps) fit the 4×4 tiles the kernels
/// use on the CPU accelerator; <see cref="Tile2"/> runs the tiled kernels with 2×2 groups as well.
/// </summary>
[SetUpFixture]
public sealed class GpuTestAccelerator
{
    static Context? context;
    static Accelerator? accelerator;
    static GpuKernels? kernels, tile2;

    public static Accelerator Accelerator => accelerator ?? throw new InvalidOperationException("the GPU test accelerator is not set up");
    /// <summary>The kernels with the CPU accelerator's default tile (4).</summary>
    public static GpuKernels K => kernels!;
    public static GpuKernels Tile2 => tile2!;

    [OneTimeSetUp]
    public void Up()
    {
        context = Context.Create(b => b.CPU(new CPUDevice(4, 4, 1)).EnableAlgorithms());
        accelerator = context.CreateCPUAccelerator(0, CPUAcceleratorMode.Parallel);
        kernels = new GpuKernels(accelerator, accelerator.DefaultStream);
        tile2 = new GpuKernels(accelerator, accelerator.DefaultStream, tile: 2);
    }

    [OneTimeTearDown]
    public void Down()
    {
        accelerator?.Dispose();
        context?.Dispose();
    }

    public static MemoryBuffer1D<float, Stride1D.Dense> Dev(float[] host) => Accelerator.Allocate1D(host);

    public static MemoryBuffer1D<float, Stride1D.Dense> Dev(double[] host) => Accelerator.Allocate1D(Array.ConvertAll(host, v => (float)v));

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
