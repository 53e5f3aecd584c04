namespace InfoVae.Kernels.Cpu;

/// <summary>One piece of a parallel loop. A struct, so a loop over it allocates nothing.</summary>
public interface IParallelBody
{
    void Run(int index);
}

/// <summary>
/// Fork-join over indices 0..count-1 on up to <see cref="MaxThreads"/> threads. Each index must write only its
/// own outputs (and partial results must be combined by the caller in index order), so results never depend on
/// the thread count: that is what keeps runs bit-identical with one thread or two.
/// </summary>
public static class Workers
{
    static int maxThreads = Environment.ProcessorCount;

    /// <summary>Threads a parallel kernel may use (default: all cores). 1 runs everything on the caller.</summary>
    public static int MaxThreads
    {
        get => maxThreads;
        set => maxThreads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), "at least 1 thread");
    }

    public static void For<TBody>(int count, ref TBody body) where TBody : struct, IParallelBody
    {
        if (count <= 0) return;
        if (maxThreads == 1 || count == 1)
        {
            for (int i = 0; i < count; i++) body.Run(i);
            return;
        }
        var copy = body;
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = maxThreads }, i => copy.Run(i));
    }
}
