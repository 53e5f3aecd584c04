using System.Numerics;

namespace InfoVae.Engine.Cpu;

/// <summary>CPU storage: a managed array that the pool hands out again and again.</summary>
public sealed class CpuStorage<T>(T[] data, IBackend<T> backend) : Storage<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The managed array; its length is the storage's length.</summary>
    public T[] Data { get; } = data;
    /// <inheritdoc/>
    public override int Length => Data.Length;
    /// <inheritdoc/>
    public override IBackend<T> Backend { get; } = backend;
}

/// <summary>
/// Buffers kept by exact length: a training step asks for the same sizes every time, so after the first step
/// every request is a hit and no fresh page is touched (a first touch costs 7-13 µs per 4 KiB page here).
/// </summary>
public sealed class BufferPool<T>(IBackend<T> backend) where T : unmanaged, IFloatingPointIeee754<T>
{
    readonly Dictionary<int, Stack<CpuStorage<T>>> free = [];
    readonly Lock gate = new();

    /// <summary>Buffers handed out so far.</summary>
    public long Rented { get; private set; }
    /// <summary>Buffers newly made so far: a warm training step adds none.</summary>
    public long Created { get; private set; }

    /// <summary>
    /// A buffer of exactly <paramref name="length"/> elements, reused when one is free; contents undefined.
    /// </summary>
    public CpuStorage<T> Rent(int length)
    {
        lock (gate)
        {
            Rented++;
            if (free.TryGetValue(length, out var s) && s.Count > 0) return s.Pop();
            Created++;
        }
        return new CpuStorage<T>(new T[length], backend);
    }

    /// <summary>Puts a buffer back for the next rent of its length.</summary>
    public void Return(CpuStorage<T> storage)
    {
        lock (gate)
        {
            if (!free.TryGetValue(storage.Length, out var s)) free[storage.Length] = s = new Stack<CpuStorage<T>>();
            s.Push(storage);
        }
    }
}
