using System.Numerics;
using System.Runtime.Intrinsics;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// destination[i] = Σ_r sources[r][i], added in r order in double and rounded once: the sum of data-parallel replicas'
/// gradients, with the bits of an MPI rank-order sum (Engine's ICommunicator.SumInRankOrder) whatever the thread count.
/// </summary>
public static unsafe class OrderedSum
{
    /// <summary>
    /// Elements per parallel piece: a piece's order of operations is fixed, so threads only share it out.
    /// </summary>
    const int Chunk = 1 << 16;

    /// <summary>
    /// Sums <paramref name="length"/> elements of each source (pointers to T) into destination, which may be one of
    /// them. The caller keeps every buffer fixed for the call.
    /// </summary>
    public static void Sum<T>(ReadOnlySpan<nint> sources, int length, T* destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (sources.Length is < 1 or > Body<T>.MaxSources)
            throw new ArgumentException($"1 to {Body<T>.MaxSources} sources, not {sources.Length}", nameof(sources));
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var body = new Body<T> { Count = sources.Length, Length = length, Destination = destination };
        for (int r = 0; r < sources.Length; r++) body.Sources[r] = sources[r];
        Workers.For((length + Chunk - 1) / Chunk, ref body);
    }

    struct Body<T> : IParallelBody where T : unmanaged, IFloatingPointIeee754<T>
    {
        public const int MaxSources = 8;
        public Sources8 Sources;
        public int Count, Length;
        public T* Destination;

        public readonly void Run(int index)
        {
            int start = index * Chunk, end = Math.Min(Length, start + Chunk), i = start;
            if (typeof(T) == typeof(float) && Vector512.IsHardwareAccelerated)
            {
                var dst = (float*)Destination;
                for (; i <= end - Vector512<float>.Count; i += Vector512<float>.Count)
                {
                    var (lo, hi) = Vector512.Widen(Vector512.Load((float*)Sources[0] + i));
                    for (int r = 1; r < Count; r++)
                    {
                        var (l, h) = Vector512.Widen(Vector512.Load((float*)Sources[r] + i));
                        lo += l; hi += h;
                    }
                    Vector512.Narrow(lo, hi).Store(dst + i);
                }
            }
            for (; i < end; i++)
            {
                double s = 0;
                for (int r = 0; r < Count; r++) s += double.CreateTruncating(((T*)Sources[r])[i]);
                Destination[i] = T.CreateTruncating(s);
            }
        }
    }

    [System.Runtime.CompilerServices.InlineArray(Body<float>.MaxSources)]
    struct Sources8
    {
        nint first;
    }
}
