using System.Numerics;

namespace InfoVae.Engine;

/// <summary>A block of T owned by one backend; tensors are windows (offset, shape) onto it.</summary>
public abstract class Storage<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public abstract int Length { get; }
    public abstract IBackend<T> Backend { get; }
}
