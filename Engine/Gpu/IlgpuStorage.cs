using ILGPU;
using ILGPU.Runtime;

namespace InfoVae.Engine.Gpu;

/// <summary>Device storage: one accelerator buffer that the pool hands out again and again.</summary>
public sealed class IlgpuStorage : Storage<float>
{
    internal IlgpuStorage(MemoryBuffer1D<float, Stride1D.Dense> buffer, int length, IBackend<float> backend)
    {
        Buffer = buffer; Length = length; Backend = backend;
    }

    /// <summary>At least one element long, so that a zero-length tensor still has a buffer.</summary>
    public MemoryBuffer1D<float, Stride1D.Dense> Buffer { get; }
    /// <inheritdoc/>
    public override int Length { get; }
    /// <inheritdoc/>
    public override IBackend<float> Backend { get; }
}

/// <summary>
/// Device buffers kept by exact length, as the CPU pool does: allocating on a GPU is synchronous and slow, and a
/// training step asks for the same sizes every time, so after the first step every request is a hit.
/// A buffer returned while kernels that use it are still queued is safe to hand out again: every launch goes to
/// the one stream, so the next user's kernels run after them.
/// </summary>
public sealed class DeviceBufferPool(Accelerator accelerator, IBackend<float> backend) : IDisposable
{
    readonly Dictionary<int, Stack<IlgpuStorage>> free = [];
    readonly List<IlgpuStorage> all = [];
    readonly Lock gate = new();

    /// <summary>Buffers handed out so far.</summary>
    public long Rented { get; private set; }
    /// <summary>Buffers newly allocated so far: a warm training step adds none.</summary>
    public long Created { get; private set; }

    /// <summary>
    /// A device buffer of exactly <paramref name="length"/> floats, reused when one is free; contents undefined.
    /// </summary>
    public IlgpuStorage Rent(int length)
    {
        lock (gate)
        {
            Rented++;
            if (free.TryGetValue(length, out var s) && s.Count > 0) return s.Pop();
            Created++;
            var storage = new IlgpuStorage(accelerator.Allocate1D<float>(Math.Max(length, 1)), length, backend);
            all.Add(storage);
            return storage;
        }
    }

    /// <summary>Puts a buffer back for the next rent of its length.</summary>
    public void Return(IlgpuStorage storage)
    {
        lock (gate)
        {
            if (!free.TryGetValue(storage.Length, out var s)) free[storage.Length] = s = new Stack<IlgpuStorage>();
            s.Push(storage);
        }
    }

    /// <summary>Frees every buffer the pool made, rented or not.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            foreach (var s in all) s.Buffer.Dispose();
            all.Clear(); free.Clear();
        }
    }
}
