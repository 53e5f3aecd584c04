using ILGPU;
using ILGPU.Runtime;

namespace InfoVae.Engine.Gpu;

/// <summary>
/// A data set resident in device memory (uploaded once, synchronously), with batches gathered there by row index:
/// a step uploads b ints through the page-locked staging and launches one gather kernel.
/// </summary>
sealed class DeviceRows : IRowGather<float>, IDisposable
{
    readonly IlgpuBackend backend;
    readonly MemoryBuffer1D<float, Stride1D.Dense> data;
    MemoryBuffer1D<int, Stride1D.Dense> indices;

    internal DeviceRows(IlgpuBackend backend, float[] host, int rowLength)
    {
        if (rowLength <= 0 || host.Length % rowLength != 0)
            throw new ArgumentException($"{host.Length} values are not whole rows of {rowLength}");
        this.backend = backend;
        Source = host;
        RowLength = rowLength;
        Rows = host.Length / rowLength;
        data = backend.Accelerator.Allocate1D<float>(Math.Max(host.Length, 1));
        // CopyFromCPU waits for the stream before it returns: once per data set.
        if (host.Length > 0) data.View.SubView(0, host.Length).CopyFromCPU(backend.Kernels.Stream, host);
        indices = backend.Accelerator.Allocate1D<int>(1);
    }

    internal float[] Source { get; }
    public int Rows { get; }
    public int RowLength { get; }

    public void Gather(ReadOnlySpan<int> rows, Tensor<float> destination)
    {
        int b = rows.Length;
        if (destination.Length != b * RowLength)
            throw new ArgumentException($"{b} rows of {RowLength} do not fill {destination}");
        foreach (int r in rows)   // a bad index would read outside the device buffer: a fault, or silent garbage
            if ((uint)r >= (uint)Rows)
                throw new ArgumentOutOfRangeException(nameof(rows), r, $"row index outside the {Rows} rows kept");
        if (b == 0) return;
        if (indices.Length < b)
        {
            backend.Synchronize();   // the old index buffer may still be read by a queued gather
            indices.Dispose();
            indices = backend.Accelerator.Allocate1D<int>(b);
        }
        var idx = indices.View.SubView(0, b);
        backend.UploadIndices(rows, idx);
        backend.Kernels.GatherRows(data.View, idx, IlgpuBackend.View(destination), RowLength);
    }

    public void Dispose()
    {
        data.Dispose();
        indices.Dispose();
    }
}
