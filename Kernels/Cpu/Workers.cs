using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace InfoVae.Kernels.Cpu;

/// <summary>One piece of a parallel loop. A struct, so a loop over it allocates nothing.</summary>
public interface IParallelBody
{
    /// <summary>Does the work of one index; may run on any thread, in any order.</summary>
    void Run(int index);
}

/// <summary>
/// Fork-join over indices 0..count-1 on up to <see cref="MaxThreads"/> threads. Each index must write only its
/// own outputs (and partial results must be combined by the caller in index order), so results never depend on
/// the thread count: that is what keeps runs bit-identical with one thread or two.
/// </summary>
/// <remarks>
/// A small persistent pool instead of Parallel.For, which costs 25-35 us per call on this 2-vCPU machine (GEMM
/// calls it once or twice per K slice). The caller works too, and indices are handed out one at a time to whoever
/// asks, so the caller never waits for a helper that has not started (on a busy machine the OS may not run it for
/// milliseconds): it only waits for helpers that took an index. Runs serially on the caller when called from
/// inside a body (nested) or while another thread's loop holds the pool. After a loop, helpers spin for
/// <see cref="SpinTicks"/> before they sleep, so back-to-back loops skip the wake-up. Allocates nothing per call
/// once the helpers exist.
/// </remarks>
public static unsafe class Workers
{
    static int maxThreads = Environment.ProcessorCount;

    /// <summary>Threads a parallel kernel may use (default: all cores). 1 runs everything on the caller.</summary>
    public static int MaxThreads
    {
        get => maxThreads;
        set => maxThreads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value),
            "at least 1 thread");
    }

    [ThreadStatic] static bool insideLoop, serialHere;

    /// <summary>
    /// True: loops started on this thread run serially on it. For a thread that owns a core of its own alongside
    /// others that do (in-process replicas side by side), where sharing the pool would only make them wait for each
    /// other. Results do not change: they never depend on the thread count.
    /// </summary>
    public static bool SerialOnThisThread
    {
        get => serialHere;
        set => serialHere = value;
    }
    static int poolBusy;   // 1 while one loop owns the pool

    /// <summary>Runs body.Run(i) for i in [0, count), spread over the pool, and returns when all are done.</summary>
    public static void For<TBody>(int count, ref TBody body) where TBody : struct, IParallelBody
    {
        if (count <= 0) return;
        int threads = Math.Min(maxThreads, count);
        if (threads == 1 || insideLoop || serialHere || Interlocked.CompareExchange(ref poolBusy, 1, 0) != 0)
        {
            for (int i = 0; i < count; i++) body.Run(i);
            return;
        }
        try
        {
            var copy = body;   // a local lives on the caller's stack, so the GC never moves it while helpers read it
            Pool.Run(&Invoke<TBody>, Unsafe.AsPointer(ref copy), count, threads - 1);
        }
        finally { Volatile.Write(ref poolBusy, 0); }
    }

    static void Invoke<TBody>(void* body, int index)
        where TBody : struct, IParallelBody => Unsafe.AsRef<TBody>(body).Run(index);

    /// <summary>
    /// About 50 us: longer than the gap between GEMM's phases, short enough not to steal much from the SMT sibling.
    /// </summary>
    static readonly long SpinTicks = Stopwatch.Frequency / 20_000;

    /// <summary>The current loop, published through one state word, and the helper threads.</summary>
    static class Pool
    {
        // state = generation << 32 | Closed | helpers inside the loop. Helpers join with a compare-exchange on an
        // open state, and the caller closes it once no helper is inside: after that no helper can join, so the
        // job fields (written before the state is published) stay valid for as long as anyone reads them.
        const long Closed = 1L << 31;
        static long state = Closed;
        static delegate*<void*, int, void> job;
        static void* jobBody;
        static int jobCount, jobHelpers, nextIndex;
        static ExceptionDispatchInfo? failure;
        static Helper[] helpers = [];

        public static void Run(delegate*<void*, int, void> fn, void* body, int count, int helperCount)
        {
            if (helpers.Length < helperCount) Grow(helperCount);
            job = fn; jobBody = body; jobCount = count; jobHelpers = helperCount; nextIndex = 0; failure = null;
            long generation = (Volatile.Read(ref state) >> 32) + 1;
            Interlocked.Exchange(ref state, generation << 32);   // publish: open, nobody inside
            for (int h = 0; h < helperCount; h++) helpers[h].Wake();
            insideLoop = true;
            Work();
            insideLoop = false;
            var spin = new SpinWait();
            while (true)
            {
                long s = Volatile.Read(ref state);
                if ((s & (Closed - 1)) == 0 && Interlocked.CompareExchange(ref state, s | Closed, s) == s) break;
                spin.SpinOnce(sleep1Threshold: -1);   // a helper is still inside an index
            }
            job = null; jobBody = null;
            failure?.Throw();
        }

        /// <summary>
        /// Claims indices until none are left; a failure skips the rest and is rethrown by the caller.
        /// </summary>
        static void Work()
        {
            int i;
            while ((i = Interlocked.Increment(ref nextIndex) - 1) < jobCount)
            {
                try { job(jobBody, i); }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
                    Volatile.Write(ref nextIndex, jobCount);
                }
            }
        }

        /// <summary>
        /// Joins the open loop of a generation not yet seen, if it still has a helper seat; returns that generation.
        /// </summary>
        static long TryJoin(long seen)
        {
            while (true)
            {
                long s = Volatile.Read(ref state);
                long generation = s >> 32;
                if (generation == seen || (s & Closed) != 0) return generation;
                if ((int)(s & (Closed - 1)) >= jobHelpers) return generation;   // MaxThreads below the pool size
                if (Interlocked.CompareExchange(ref state, s + 1, s) != s) continue;
                Work();
                Interlocked.Decrement(ref state);
                return generation;
            }
        }

        static bool NewLoop(long seen)
        {
            long s = Volatile.Read(ref state);
            return s >> 32 != seen && (s & Closed) == 0;
        }

        static void Grow(int helperCount)
        {
            var grown = new Helper[helperCount];
            Array.Copy(helpers, grown, helpers.Length);
            for (int h = helpers.Length; h < helperCount; h++) grown[h] = new Helper(h);
            helpers = grown;
        }

        sealed class Helper
        {
            int sleeping;   // 1 while this helper is (about to be) blocked on wake
            readonly SemaphoreSlim wake = new(0);

            public Helper(int id) => new Thread(Loop) { IsBackground = true, Name = $"Workers.{id}" }.Start();

            public void Wake()
            {
                if (Interlocked.Exchange(ref sleeping, 0) == 1) wake.Release();
            }

            void Loop()
            {
                insideLoop = true;   // a body that calls For again runs it serially
                long seen = Volatile.Read(ref state) >> 32;
                while (true)
                {
                    long deadline = Stopwatch.GetTimestamp() + SpinTicks;
                    while (!NewLoop(seen) && Stopwatch.GetTimestamp() < deadline) Thread.SpinWait(8);
                    if (!NewLoop(seen))
                    {
                        // full fence, then re-check: Run publishes, then Wake sees 1, or we see the loop
                        Interlocked.Exchange(ref sleeping, 1);
                        if (!NewLoop(seen)) { wake.Wait(); continue; }
                        // Wake took the flag: consume its Release
                        if (Interlocked.Exchange(ref sleeping, 0) == 0) wake.Wait();
                    }
                    seen = TryJoin(seen);
                }
            }
        }
    }
}
