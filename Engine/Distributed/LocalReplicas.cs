using System.Diagnostics;
using System.Numerics;
using System.Runtime.ExceptionServices;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Engine.Distributed;

/// <summary>
/// Data parallelism inside one process (PyTorch's DataParallel on cores): N replicas of a training step, each on
/// a thread of its own with its own tape, each computing its share of the batch, meeting in the collectives of
/// <see cref="ICommunicator"/> (this[rank]) as MPI ranks do. A step's kernels then fork and join once per step
/// instead of once per op, which is what two cores lose most to on the MLP's small GEMMs.
/// </summary>
/// <remarks>
/// Two ways to run, with the same bits (a replica's arithmetic does not depend on when it runs, and the collectives
/// add in rank order): side by side, one core each with its kernels serial, when the threads allow it
/// (N ≤ <see cref="Workers.MaxThreads"/> &lt; 2N); otherwise by turns, one replica at a time with its kernels on
/// every thread, a replica that waits in a collective handing the turn on (one thread, or many cores); then every
/// replica's thread is pinned to the CPU the caller was on (<see cref="CpuPinning"/>), so that a hand-over is a
/// context switch rather than a wake-up on another core. So a run's numbers depend on N, never on --threads.
/// Replica 0 runs on the caller; the others on threads kept for the group.
/// A replica that throws aborts the others (their collectives throw) and <see cref="Run"/> rethrows its exception.
/// </remarks>
public sealed unsafe class LocalReplicas : IDisposable
{
    /// <summary>
    /// How long a replica side by side spins in a collective before it sleeps: longer than the two replicas' usual
    /// skew (a few hundred microseconds), since a sleeping thread takes 0.3-0.8 ms to wake on this kind of VM.
    /// </summary>
    static readonly long SpinTicks = Stopwatch.Frequency / 1_000;

    /// <summary>
    /// How long, side by side, a replica's thread spins for the next step, and the caller for the replicas to finish,
    /// before sleeping: longer than the gap between two training steps (the next batch's noise and indices, well under
    /// a millisecond), since waking a sleeping thread costs 0.3-0.8 ms on this kind of VM. Side by side, the group's
    /// threads are the only busy ones, so the spin takes a core from no one.
    /// </summary>
    static readonly long IdleSpinTicks = Stopwatch.Frequency / 250;

    readonly Member[] members;
    readonly SemaphoreSlim[] start;
    readonly bool[] alive;   // replica r's thread runs (or waits for a step); guarded by start[r]'s lock
    readonly ManualResetEventSlim finished = new(false);
    readonly object gate = new();   // a Monitor: by turns it is the turn, and Wait hands it on
    readonly ExceptionDispatchInfo?[] failures;
    readonly nint[] posted;
    readonly int[] postedLength;
    readonly byte[] callerCpus = new byte[CpuPinning.MaskBytes];
    Action<int>? job;
    int turnCpu = -1;   // by turns: the CPU every replica's thread is pinned to for this Run (−1: none)
    int pending, arrived;
    long generation;
    volatile bool aborted, disposed;
    bool byTurns;

    /// <summary>
    /// A replica's thread ends after this long without a step (so a group nobody uses any more goes away with its
    /// threads), and the next <see cref="Run"/> starts a new one.
    /// </summary>
    static readonly TimeSpan IdleLife = TimeSpan.FromSeconds(2);

    /// <summary>N ≥ 1 replicas; replicas 1..N−1 get threads of their own when they first run.</summary>
    public LocalReplicas(int count)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        Count = count;
        members = new Member[count];
        start = new SemaphoreSlim[count];
        alive = new bool[count];
        failures = new ExceptionDispatchInfo?[count];
        posted = new nint[count];
        postedLength = new int[count];
        for (int r = 0; r < count; r++)
        {
            members[r] = new Member(this, r);
            start[r] = new SemaphoreSlim(0);
        }
    }

    /// <summary>The number of replicas, N.</summary>
    public int Count { get; }

    /// <summary>Replica <paramref name="rank"/>'s view of the group: what its net's collectives go through.</summary>
    public ICommunicator this[int rank] => members[rank];

    /// <summary>
    /// Whether <paramref name="count"/> replicas run side by side on <paramref name="threads"/> threads, one core each
    /// (count ≤ threads &lt; 2·count), rather than by turns with every thread on each one's kernels.
    /// </summary>
    public static bool SideBySide(int count, int threads) => count <= threads && threads < 2 * count;

    /// <summary>
    /// Runs body(r) for every replica r, each on its own thread (0 on the caller's), and returns when all are done;
    /// rethrows the exception of the lowest replica that failed. Keep the delegate: a call allocates nothing.
    /// </summary>
    public void Run(Action<int> body)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        byTurns = !SideBySide(Count, Workers.MaxThreads);
        job = body; aborted = false; arrived = 0;
        Array.Clear(failures);
        pending = Count - 1;
        finished.Reset();
        turnCpu = byTurns && Count > 1 ? CpuPinning.Current() : -1;
        bool pinned = CpuPinning.Pin(turnCpu, callerCpus);
        try
        {
            for (int r = 1; r < Count; r++)
                lock (start[r])
                {
                    if (!alive[r])
                    {
                        alive[r] = true;
                        int rank = r;
                        new Thread(() => Loop(rank), 16 << 20) { IsBackground = true, Name = $"Replica.{r}" }.Start();
                    }
                    start[r].Release();
                }
            RunOne(0);
            long until = Deadline();
            while (!byTurns && Volatile.Read(ref pending) > 0 && Stopwatch.GetTimestamp() < until)
                Thread.SpinWait(16);
            if (Count > 1) finished.Wait();
        }
        finally
        {
            if (pinned) CpuPinning.Restore(callerCpus);
        }
        job = null;
        foreach (var f in failures)
            if (f != null && f.SourceException is not ReplicaAbortedException) f.Throw();
        foreach (var f in failures) f?.Throw();
    }

    void Loop(int rank)
    {
        var ownCpus = new byte[CpuPinning.MaskBytes];
        int pinnedTo = -1;
        while (true)
        {
            long until = Deadline();
            while (!byTurns && start[rank].CurrentCount == 0 && Stopwatch.GetTimestamp() < until) Thread.SpinWait(16);
            if (!start[rank].Wait(IdleLife))
                lock (start[rank])
                {
                    if (start[rank].CurrentCount > 0) continue;   // a step came as the wait ended
                    alive[rank] = false;
                    return;
                }
            if (disposed) return;
            if (turnCpu != pinnedTo)
            {
                if (pinnedTo >= 0) CpuPinning.Restore(ownCpus);
                pinnedTo = CpuPinning.Pin(turnCpu, ownCpus) ? turnCpu : -1;
            }
            RunOne(rank);
            if (Interlocked.Decrement(ref pending) == 0) finished.Set();
        }
    }

    void RunOne(int rank)
    {
        bool serial = Workers.SerialOnThisThread;
        if (byTurns) Monitor.Enter(gate);
        else Workers.SerialOnThisThread = true;
        try { job!(rank); }
        catch (Exception e)
        {
            failures[rank] = ExceptionDispatchInfo.Capture(e);
            Abort();
        }
        finally
        {
            if (byTurns) Monitor.Exit(gate);
            Workers.SerialOnThisThread = serial;
        }
    }

    static long Deadline() => Stopwatch.GetTimestamp() + IdleSpinTicks;

    /// <summary>Wakes every replica that waits in a collective with a <see cref="ReplicaAbortedException"/>.</summary>
    void Abort()
    {
        aborted = true;
        lock (gate) Monitor.PulseAll(gate);
    }

    /// <summary>
    /// Returns once every replica has called it (by turns: the caller holds the turn and hands it on).
    /// </summary>
    void Meet()
    {
        long seen = Volatile.Read(ref generation);
        if (byTurns)
        {
            if (++arrived == Count) { arrived = 0; generation++; Monitor.PulseAll(gate); }
            else while (generation == seen && !aborted) Monitor.Wait(gate);
        }
        else if (Interlocked.Increment(ref arrived) == Count)
        {
            arrived = 0;
            Interlocked.Increment(ref generation);
            lock (gate) Monitor.PulseAll(gate);
        }
        else
        {
            long deadline = Stopwatch.GetTimestamp() + SpinTicks;
            while (Volatile.Read(ref generation) == seen && !aborted && Stopwatch.GetTimestamp() < deadline)
                Thread.SpinWait(16);
            lock (gate)
                while (Volatile.Read(ref generation) == seen && !aborted) Monitor.Wait(gate);
        }
        if (aborted) throw new ReplicaAbortedException();
    }

    /// <summary>Stops the replicas' threads (a replica mid-<see cref="Run"/> finishes first).</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        for (int r = 1; r < Count; r++)
            lock (start[r])
                if (alive[r]) start[r].Release();
    }

    sealed class Member(LocalReplicas group, int rank) : ICommunicator
    {
        readonly nint[] sources = new nint[group.Count];
        byte[] sums = [];

        public int Rank => rank;
        public int Size => group.Count;

        /// <summary>Leaves this replica's buffer where the others can read it, until the second meeting.</summary>
        void Post(void* data, int length)
        {
            group.posted[rank] = (nint)data;
            group.postedLength[rank] = length;
            group.Meet();
        }

        public void SumInRankOrder<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
        {
            if (sums.Length < values.Length * sizeof(T)) sums = new byte[values.Length * sizeof(T)];
            fixed (T* mine = values) fixed (byte* sum = sums)
            {
                Post(mine, values.Length);
                for (int r = 0; r < Size; r++)
                {
                    if (group.postedLength[r] != values.Length)
                        throw new ArgumentException($"replica {r} sums {group.postedLength[r]} values, not "
                            + $"{values.Length}");
                    sources[r] = group.posted[r];
                }
                OrderedSum.Sum<T>(sources, values.Length, (T*)sum);
                group.Meet();   // every replica has read every buffer: now each may overwrite its own
                new ReadOnlySpan<T>(sum, values.Length).CopyTo(values);
            }
        }

        public void Allgather<T>(ReadOnlySpan<T> local, Span<T> all, ReadOnlySpan<int> counts) where T : unmanaged
        {
            fixed (T* mine = local)
            {
                Post(mine, local.Length);
                int at = 0;
                for (int r = 0; r < Size; r++)
                {
                    if (group.postedLength[r] != counts[r])
                        throw new ArgumentException($"replica {r} holds {group.postedLength[r]} values, not "
                            + $"{counts[r]}");
                    new ReadOnlySpan<T>((T*)group.posted[r], counts[r]).CopyTo(all[at..]);
                    at += counts[r];
                }
                group.Meet();
            }
        }

        public void Broadcast<T>(Span<T> data, int root) where T : unmanaged
        {
            fixed (T* mine = data)
            {
                Post(mine, data.Length);
                if (group.postedLength[root] != data.Length)
                    throw new ArgumentException($"the root broadcasts {group.postedLength[root]} values, not "
                        + $"{data.Length}");
                if (rank != root) new ReadOnlySpan<T>((T*)group.posted[root], data.Length).CopyTo(data);
                group.Meet();
            }
        }

        public void Barrier() => group.Meet();
        public void Abort() => group.Abort();
    }
}

/// <summary>
/// Thrown in a replica's collective when another replica of its group failed (that one's error is the news).
/// </summary>
public sealed class ReplicaAbortedException() : Exception("another replica of this step failed");
