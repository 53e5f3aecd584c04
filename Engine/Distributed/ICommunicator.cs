using System.Numerics;

namespace InfoVae.Engine.Distributed;

/// <summary>
/// The collectives of data-parallel training over N processes ("ranks") that each hold a replica of the model: the
/// seam between the trainer and whatever moves the bytes (MPI today; NCCL could take its place for GPUs). Every rank
/// calls the same collectives in the same order. Spans are host memory; an implementation may block until every
/// rank has called in, and throws when a rank is lost. <see cref="SingleProcess"/> is the N = 1 case.
/// </summary>
public interface ICommunicator
{
    /// <summary>This process's index, 0 ≤ Rank &lt; Size; rank 0 writes the run's files.</summary>
    int Rank { get; }
    /// <summary>The number of ranks, N ≥ 1.</summary>
    int Size { get; }

    /// <summary>
    /// values[i] ← Σ_r values_r[i], added in rank order (0, then 1, …) in double: every rank gets the same bits, and
    /// so does every run with the same N (an MPI_Allreduce may pick its summation order by message size and topology).
    /// </summary>
    void SumInRankOrder<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>all ← rank 0's local, then rank 1's, …; counts[r] is rank r's length (MPI_Allgatherv).</summary>
    void Allgather<T>(ReadOnlySpan<T> local, Span<T> all, ReadOnlySpan<int> counts) where T : unmanaged;

    /// <summary>data ← root's data on every rank.</summary>
    void Broadcast<T>(Span<T> data, int root) where T : unmanaged;

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();

    /// <summary>
    /// Tells the other ranks that this one has failed (and has said why) without waiting for them: whatever collective
    /// they wait in ends with an exception, and they stop without a word. The caller exits next.
    /// </summary>
    void Abort();
}

/// <summary>One process: every collective is the identity, and nothing is copied.</summary>
public sealed class SingleProcess : ICommunicator
{
    /// <summary>The one instance: a process that trains alone.</summary>
    public static SingleProcess Instance { get; } = new();
    SingleProcess() { }

    /// <inheritdoc/>
    public int Rank => 0;
    /// <inheritdoc/>
    public int Size => 1;
    /// <inheritdoc/>
    public void SumInRankOrder<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T> { }

    /// <inheritdoc/>
    public void Allgather<T>(ReadOnlySpan<T> local, Span<T> all, ReadOnlySpan<int> counts) where T : unmanaged
    {
        if (counts.Length != 1 || counts[0] != local.Length)
            throw new ArgumentException($"one rank holds {local.Length} values, not {counts[0]}");
        local.CopyTo(all);
    }

    /// <inheritdoc/>
    public void Broadcast<T>(Span<T> data, int root) where T : unmanaged
    {
        if (root != 0) throw new ArgumentOutOfRangeException(nameof(root), root, "a single process is rank 0");
    }

    /// <inheritdoc/>
    public void Barrier() { }
    /// <inheritdoc/>
    public void Abort() { }
}
