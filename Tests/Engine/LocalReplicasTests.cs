using InfoVae.Engine.Distributed;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Tests.Engine;

/// <summary>
/// In-process replicas (<see cref="LocalReplicas"/>): every collective gives every replica what MPI would, side by
/// side (one thread per replica) and by turns (one thread; and more threads than replicas), with uneven shares; a
/// replica that fails ends the step on every replica with its own exception, and the group runs again afterwards.
/// </summary>
public class LocalReplicasTests
{
    int saved;

    [SetUp] public void Save() => saved = Workers.MaxThreads;
    [TearDown] public void Restore() => Workers.MaxThreads = saved;

    static IEnumerable<TestCaseData> Cases()
    {
        foreach (int n in new[] { 2, 3 })
            foreach (int threads in new[] { 1, n, 2 * n })
                yield return new TestCaseData(n, threads).SetName($"{n} replicas on {threads} thread(s)"
                    + (LocalReplicas.SideBySide(n, threads) ? ", side by side" : ", by turns"));
    }

    [TestCaseSource(nameof(Cases))]
    public void Every_collective_gives_every_replica_the_same_answer_as_mpi_would(int n, int threads)
    {
        Workers.MaxThreads = threads;
        using var group = new LocalReplicas(n);
        var gathered = new float[n][]; var sums = new double[n][]; var broadcast = new int[n][];
        var seenBefore = new int[n]; int passed = 0;
        var threadIds = new int[n];
        for (int round = 0; round < 3; round++)   // the same group, step after step
            group.Run(r =>
            {
                var comm = group[r];
                Assert.That((comm.Rank, comm.Size), Is.EqualTo((r, n)));
                threadIds[r] = Environment.CurrentManagedThreadId;
                // uneven counts: replica r holds r + 1 values
                var counts = Enumerable.Range(0, n).Select(q => q + 1).ToArray();
                var local = Enumerable.Range(0, r + 1).Select(i => 10f * r + i).ToArray();
                gathered[r] = new float[counts.Sum()];
                comm.Allgather<float>(local, gathered[r], counts);
                // 1 + 2^-40 + ... added in rank order in double, then rounded: not what float arithmetic gives
                sums[r] = [r == 0 ? 1 : Math.Pow(2, -40), r, -r];
                comm.SumInRankOrder<double>(sums[r]);
                broadcast[r] = r == 1 ? [7, 8, 9] : [0, 0, 0];
                comm.Broadcast<int>(broadcast[r], root: 1);
                Interlocked.Increment(ref passed);
                comm.Barrier();
                seenBefore[r] = Volatile.Read(ref passed);   // after the barrier every replica has passed
            });
        var expectGathered = Enumerable.Range(0, n).SelectMany(q => Enumerable.Range(0, q + 1).Select(i => 10f * q + i))
            .ToArray();
        double tiny = 1 + (n - 1) * Math.Pow(2, -40), sumOfRanks = n * (n - 1) / 2;
        for (int r = 0; r < n; r++)
        {
            Assert.That(gathered[r], Is.EqualTo(expectGathered), $"replica {r}'s allgather");
            Assert.That(sums[r], Is.EqualTo(new[] { tiny, sumOfRanks, -sumOfRanks }), $"replica {r}'s sum");
            Assert.That(broadcast[r], Is.EqualTo(new[] { 7, 8, 9 }), $"replica {r}'s broadcast");
            Assert.That(seenBefore[r], Is.EqualTo(3 * n), $"replica {r} left the barrier before everyone came");
        }
        Assert.That(threadIds.Distinct().Count(), Is.EqualTo(n), "each replica on a thread of its own");
        Assert.That(threadIds[0], Is.EqualTo(Environment.CurrentManagedThreadId), "replica 0 on the caller");
    }

    [TestCaseSource(nameof(Cases))]
    public void A_replica_that_fails_ends_the_step_on_all_with_its_own_exception(int n, int threads)
    {
        Workers.MaxThreads = threads;
        using var group = new LocalReplicas(n);
        var e = Assert.Throws<InvalidOperationException>(() => group.Run(r =>
        {
            var comm = group[r];
            comm.Barrier();
            if (r == n - 1) throw new InvalidOperationException("replica failed");
            comm.Barrier();        // the others wait here for the one that failed
            comm.Barrier();
        }))!;
        Assert.That(e.Message, Is.EqualTo("replica failed"), "the failure itself, not the others' abort");

        int ran = 0;
        group.Run(r => { group[r].Barrier(); Interlocked.Increment(ref ran); });
        Assert.That(ran, Is.EqualTo(n), "the group runs again after a failure");
    }

    [Test]
    public void A_group_left_idle_gets_its_threads_back_and_runs_again()
    {
        Workers.MaxThreads = 2;
        using var group = new LocalReplicas(2);
        var threads = new Thread[2];
        group.Run(r => { group[r].Barrier(); threads[r] = Thread.CurrentThread; });
        var first = threads[1];
        Thread.Sleep(2_600);   // longer than a replica thread waits for a step
        Assert.That(first.IsAlive, Is.False, "replica 1's idle thread ended");
        group.Run(r => { group[r].Barrier(); threads[r] = Thread.CurrentThread; });
        Assert.That(threads[1], Is.Not.SameAs(first), "a new thread ran replica 1's step");
    }

    /// <summary>
    /// By turns every replica's thread runs on the one CPU the caller was on (a hand-over is then a context switch,
    /// not a wake-up on an idle core: 21 % of a one-thread MLP step before), and the caller gets its CPUs back after
    /// the step; side by side (and again after by turns) every thread has all its CPUs.
    /// </summary>
    [Test]
    public void By_turns_the_replicas_share_the_callers_cpu_and_give_it_back()
    {
        if (!OperatingSystem.IsLinux()) Assert.Ignore("CPU affinity is Linux's sched_setaffinity");
        var all = AllowedCpus();
        Assume.That(all, Has.Length.GreaterThan(1), "one CPU: pinned and unpinned look the same");
        using var group = new LocalReplicas(2);
        var seen = new int[2][];
        foreach (var (threads, byTurns) in new[] { (1, true), (2, false), (1, true), (2, false) })
        {
            Workers.MaxThreads = threads;
            group.Run(r => { group[r].Barrier(); seen[r] = AllowedCpus(); group[r].Barrier(); });
            for (int r = 0; r < 2; r++)
                if (byTurns) Assert.That(seen[r], Is.EqualTo(seen[0]).And.Length.EqualTo(1), $"replica {r} by turns");
                else Assert.That(seen[r], Is.EqualTo(all), $"replica {r} side by side");
            Assert.That(AllowedCpus(), Is.EqualTo(all), "the caller's CPUs after the step");
        }
    }

    /// <summary>The CPUs the calling thread may run on (sched_getaffinity).</summary>
    static unsafe int[] AllowedCpus()
    {
        var mask = stackalloc byte[128];
        Assert.That(sched_getaffinity(0, 128, mask), Is.Zero, "sched_getaffinity");
        return [.. Enumerable.Range(0, 1024).Where(c => (mask[c / 8] >> (c % 8) & 1) != 0)];
    }

    [System.Runtime.InteropServices.DllImport("libc")]
    static extern unsafe int sched_getaffinity(int pid, nuint size, byte* mask);
}
