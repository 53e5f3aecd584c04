using System.Numerics;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// Standard normal draws (Philox4x32-10, <paramref name="key"/>, from counter block <paramref name="counter"/>); no
    /// gradient.
    /// </summary>
    public static Tensor<T> Normal<T>(Shape shape, ulong key, ulong counter, IBackend<T>? backend = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var be = backend ?? Cpu.CpuBackend<T>.Instance;
        var t = TapeOf<T>().Node("normal", shape, be);
        be.Normal(t, key, counter);
        return t;
    }

    /// <summary>Uniform draws in [0, 1); no gradient.</summary>
    public static Tensor<T> Uniform<T>(Shape shape, ulong key, ulong counter, IBackend<T>? backend = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var be = backend ?? Cpu.CpuBackend<T>.Instance;
        var t = TapeOf<T>().Node("uniform", shape, be);
        be.Uniform(t, key, counter);
        return t;
    }
}
