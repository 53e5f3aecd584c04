using System.Numerics;

namespace InfoVae.Engine;

/// <summary>A block of T owned by one backend; tensors are windows (offset, shape) onto it.</summary>
public abstract class Storage<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Elements in the block.</summary>
    public abstract int Length { get; }
    /// <summary>The backend that owns the block and runs ops on it.</summary>
    public abstract IBackend<T> Backend { get; }
}
