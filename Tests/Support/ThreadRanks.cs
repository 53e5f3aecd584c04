using System.Numerics;
using InfoVae.Engine.Distributed;

namespace InfoVae.Tests.Support;

/// <summary>
/// N ranks as N threads of this process (each with its own tape): an in-process <see cref="ICommunicator"/> for the
/// tests of sync batch norm, the gathered MMD and the data-parallel trainer, without mpirun. Each collective leaves a
/// copy of every rank's data in a shared slot and meets at a barrier; sums run in rank order in double, as MPI's do.
/// </summary>
public sealed class ThreadRanks
{
    readonly Barrier barrier;
    readonly object?[] slots;
    public int Size { get; }

    ThreadRanks(int size) { Size = size; slots = new object?[size]; barrier = new Barrier(size); }

    /// <summary>
    /// Runs body(rank communicator) on <paramref name="size"/> threads at once; returns their results in rank order.
    /// </summary>
    public static TR[] Run<TR>(int size, Func<ICommunicator, TR> body)
    {
        var ranks = new ThreadRanks(size);
        var results = new TR[size];
        var errors = new Exception?[size];
        var threads = Enumerable.Range(0, size).Select(r => new Thread(() =>
        {
            try { results[r] = body(new Member(ranks, r)); }
            catch (Exception e) { errors[r] = e; ranks.barrier.RemoveParticipant(); }
        }, 16 << 20)).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        if (errors.FirstOrDefault(e => e != null) is { } first)
            throw new AggregateException($"a rank failed: {first.Message}", errors.Where(e => e != null)!);
        return results;
    }

    sealed class Member(ThreadRanks all, int rank) : ICommunicator
    {
        public int Rank => rank;
        public int Size => all.Size;

        T[][] Exchange<T>(T[] mine)
        {
            all.slots[rank] = mine;
            all.barrier.SignalAndWait();
            var got = all.slots.Select(s => (T[])s!).ToArray();
            all.barrier.SignalAndWait();      // nobody overwrites a slot before everyone has read it
            return got;
        }

        public void SumInRankOrder<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
        {
            var got = Exchange(values.ToArray());
            for (int i = 0; i < values.Length; i++)
            {
                double s = 0;
                for (int r = 0; r < Size; r++) s += double.CreateTruncating(got[r][i]);
                values[i] = T.CreateTruncating(s);
            }
        }

        public void Allgather<T>(ReadOnlySpan<T> local, Span<T> destination, ReadOnlySpan<int> counts)
            where T : unmanaged
        {
            Assert.That(local.Length, Is.EqualTo(counts[rank]), "this rank's count");
            var got = Exchange(local.ToArray());
            int at = 0;
            for (int r = 0; r < Size; r++)
            {
                Assert.That(got[r].Length, Is.EqualTo(counts[r]), $"rank {r}'s count");
                got[r].CopyTo(destination[at..]);
                at += got[r].Length;
            }
        }

        public void Broadcast<T>(Span<T> data, int root) where T : unmanaged =>
            Exchange(data.ToArray())[root].CopyTo(data);
        public void Barrier() => all.barrier.SignalAndWait();
        public void Abort() => throw new InvalidOperationException($"rank {rank} aborted");
    }
}
