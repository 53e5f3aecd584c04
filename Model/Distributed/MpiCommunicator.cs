using System.Diagnostics;
using System.IO.Hashing;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text;
using InfoVae.Engine.Distributed;

namespace InfoVae.Model.Distributed;

/// <summary>
/// <see cref="ICommunicator"/> over MPI_COMM_WORLD (Open MPI through <see cref="MpiNative"/>). Every collective is
/// started non-blocking and then polled, so that a wait can notice what a blocking MPI call never would: a rank of
/// this node that died (its process id is gone), a failure notice from a rank that has printed why it stopped
/// (<see cref="Abort"/>), the launcher's SIGTERM, or a silence past <see cref="Timeout"/>. Errors are returned, not
/// fatal (MPI_ERRORS_RETURN). Sums run in rank order on the host (<see cref="SumInRankOrder{T}"/>): a reduce-scatter
/// by MPI_Alltoall, each rank adding up its chunk, then an MPI_Allgatherv of the chunks: the bytes of a ring
/// allreduce, 2(N − 1)/N of the vector per rank, and the same bits on every rank and in every run.
/// </summary>
public sealed unsafe partial class MpiCommunicator : ICommunicator, IDisposable
{
    const int NoticeTag = 7;
    /// <summary>Up to this many elements over all ranks a sum is one allgather; above, alltoall + allgather.</summary>
    const int GatherSumLimit = 1 << 16;

    public int Rank { get; }
    public int Size { get; }
    /// <summary>Ranks on this node (the same host, boot and process-id namespace), this one included.</summary>
    public int LocalSize { get; }
    /// <summary>CPU threads for this rank without --threads: its cores divided by the ranks that share them.</summary>
    public int DefaultThreads { get; }
    /// <summary>Asked while waiting: true once this process got SIGINT or SIGTERM.</summary>
    public Func<bool>? Interrupted { get; set; }
    /// <summary>How long a collective may wait before the others count as lost (INFOVAE_MPI_TIMEOUT, s).</summary>
    public TimeSpan Timeout { get; set; }

    readonly nint control;              // a duplicate of MPI_COMM_WORLD that carries failure notices
    readonly int* notice;               // native memory: the Irecv's buffer must not move
    nint noticeRequest;
    readonly Peer[] peers;
    readonly int[] byteCounts, byteOffsets, elementCounts;
    byte[] bufA = [], bufB = [], bufC = [];
    bool finalized;

    [StructLayout(LayoutKind.Sequential)]
    readonly record struct Peer(ulong Node, int Pid, int Cpus, ulong Mask);

    MpiCommunicator(int rank, int size, nint control)
    {
        Rank = rank; Size = size; this.control = control;
        byteCounts = new int[size]; byteOffsets = new int[size]; elementCounts = new int[size];
        var limit = Environment.GetEnvironmentVariable("INFOVAE_MPI_TIMEOUT");
        Timeout = TimeSpan.FromSeconds(double.TryParse(limit, out var s) && s > 0 ? s : 600);
        notice = (int*)NativeMemory.Alloc(sizeof(int));
        nint request;
        Check(MpiNative.Irecv(notice, sizeof(int), MpiNative.Byte, MpiNative.AnySource, NoticeTag, control, &request),
            "MPI_Irecv");
        noticeRequest = request;
        peers = new Peer[size];
        var me = new Peer(NodeKey(), Environment.ProcessId, Environment.ProcessorCount, AffinityMask());
        Allgather<Peer>([me], peers, Enumerable.Repeat(1, size).ToArray());
        LocalSize = peers.Count(p => p.Node == me.Node);
        int sharing = peers.Count(p => p.Node == me.Node && (p.Mask & me.Mask) != 0);
        DefaultThreads = Math.Max(1, me.Cpus / Math.Max(1, sharing));
    }

    /// <summary>Loads Open MPI and joins the job; a missing library is one line saying what to install.</summary>
    public static MpiCommunicator Start()
    {
        if (MpiNative.Load() is { } why)
            throw new UserError($"this process was started by mpirun or srun, but {why}; install Open MPI on every "
                + "node (Debian: apt-get install openmpi-bin libopenmpi-dev), or run infovae without mpirun")
            { PrintedBy = 0 };
        int provided, rank, size;
        nint control;
        Check(MpiNative.InitThread(null, null, MpiNative.ThreadFunneled, &provided), "MPI_Init_thread");
        Check(MpiNative.CommSetErrhandler(MpiNative.CommWorld, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler");
        Check(MpiNative.CommRank(MpiNative.CommWorld, &rank), "MPI_Comm_rank");
        Check(MpiNative.CommSize(MpiNative.CommWorld, &size), "MPI_Comm_size");
        Check(MpiNative.CommDup(MpiNative.CommWorld, &control), "MPI_Comm_dup");
        Check(MpiNative.CommSetErrhandler(control, MpiNative.ErrorsReturn), "MPI_Comm_set_errhandler");
        return new MpiCommunicator(rank, size, control);
    }

    public void SumInRankOrder<T>(Span<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = values.Length, ranks = Size;
        if (n == 0 || ranks == 1) return;
        if ((long)n * ranks <= GatherSumLimit)
        {
            var all = Scratch<T>(ref bufA, n * ranks);
            Array.Fill(elementCounts, n);
            Allgather<T>(values, all, elementCounts);
            AddRanks<T>(all, n, ranks, values);
            return;
        }
        int chunk = (n + ranks - 1) / ranks;
        var send = Scratch<T>(ref bufA, chunk * ranks);
        var received = Scratch<T>(ref bufB, chunk * ranks);
        var mine = Scratch<T>(ref bufC, chunk);
        values.CopyTo(send);
        send[n..].Clear();
        int bytes = checked(chunk * sizeof(T));
        fixed (T* ps = send) fixed (T* pr = received)
        {
            nint request;
            nint type = MpiNative.Byte;
            Check(MpiNative.Ialltoall(ps, bytes, type, pr, bytes, type, MpiNative.CommWorld, &request),
                "MPI_Ialltoall");
            Wait(&request, "MPI_Ialltoall");
        }
        AddRanks<T>(received, chunk, ranks, mine);       // received: (ranks, chunk), rank r's copy of this rank's chunk
        Array.Fill(elementCounts, chunk);
        Allgather<T>(mine, send, elementCounts);
        send[..n].CopyTo(values);
    }

    /// <summary>
    /// destination[i] = Σ_r parts[r·n + i], added in rank order in double and rounded once. Floats go eight at a time
    /// (widened to two Vector256 of double: the same additions, in the same order, as the scalar loop).
    /// </summary>
    static void AddRanks<T>(ReadOnlySpan<T> parts, int n, int ranks, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int i = 0;
        if (typeof(T) == typeof(float) && Vector256.IsHardwareAccelerated)
        {
            var p = MemoryMarshal.Cast<T, float>(parts);
            var d = MemoryMarshal.Cast<T, float>(destination);
            for (; i <= n - 8; i += 8)
            {
                var lo = Vector256<double>.Zero; var hi = Vector256<double>.Zero;
                for (int r = 0; r < ranks; r++)
                {
                    var (a, b) = Vector256.Widen(Vector256.Create(p.Slice(r * n + i, 8)));
                    lo += a; hi += b;
                }
                Vector256.Narrow(lo, hi).CopyTo(d.Slice(i, 8));
            }
        }
        for (; i < n; i++)
        {
            double s = 0;
            for (int r = 0; r < ranks; r++) s += double.CreateTruncating(parts[r * n + i]);
            destination[i] = T.CreateTruncating(s);
        }
    }

    public void Allgather<T>(ReadOnlySpan<T> local, Span<T> all, ReadOnlySpan<int> counts) where T : unmanaged
    {
        if (counts.Length != Size) throw new ArgumentException($"{counts.Length} counts for {Size} ranks");
        if (local.Length != counts[Rank])
            throw new ArgumentException($"rank {Rank} holds {local.Length} values, not {counts[Rank]}");
        long offset = 0;
        for (int r = 0; r < Size; r++)
        {
            byteCounts[r] = checked(counts[r] * sizeof(T));
            byteOffsets[r] = checked((int)offset);
            offset += byteCounts[r];
        }
        if (all.Length * (long)sizeof(T) < offset)
            throw new ArgumentException($"{all.Length} values cannot hold the {offset / sizeof(T)} gathered");
        fixed (T* pl = local) fixed (T* pa = all) fixed (int* pc = byteCounts) fixed (int* po = byteOffsets)
        {
            nint request;
            nint bytes = MpiNative.Byte;
            Check(MpiNative.Iallgatherv(pl, byteCounts[Rank], bytes, pa, pc, po, bytes, MpiNative.CommWorld, &request),
                "MPI_Iallgatherv");
            Wait(&request, "MPI_Iallgatherv");
        }
    }

    public void Broadcast<T>(Span<T> data, int root) where T : unmanaged
    {
        fixed (T* p = data)
        {
            nint request;
            int bytes = checked(data.Length * sizeof(T));
            Check(MpiNative.Ibcast(p, bytes, MpiNative.Byte, root, MpiNative.CommWorld, &request), "MPI_Ibcast");
            Wait(&request, "MPI_Ibcast");
        }
    }

    public void Barrier()
    {
        nint request;
        Check(MpiNative.Ibarrier(MpiNative.CommWorld, &request), "MPI_Ibarrier");
        Wait(&request, "MPI_Ibarrier");
    }

    public void Abort()
    {
        if (finalized || Size == 1) return;
        // Small messages go out eagerly: each send completes locally at once, and the others' waits poll for it.
        var sent = (int*)NativeMemory.Alloc(sizeof(int));
        *sent = Rank;
        var requests = (nint*)NativeMemory.AllocZeroed((nuint)(Size * sizeof(nint)));
        for (int r = 0; r < Size; r++)
            if (r != Rank) MpiNative.Isend(sent, sizeof(int), MpiNative.Byte, r, NoticeTag, control, &requests[r]);
        var until = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 2;
        for (bool done = false; !done && Stopwatch.GetTimestamp() < until; Thread.Sleep(1))
        {
            done = true;
            for (int r = 0; r < Size; r++)
            {
                if (requests[r] == 0) continue;
                int flag;
                if (MpiNative.Test(&requests[r], &flag, null) != MpiNative.Success || flag == 0) done = false;
            }
        }
        finalized = true;     // the process exits without MPI_Finalize: the others may never get there
    }

    /// <summary>Leaves the job cleanly (MPI_Finalize), after every rank's last collective.</summary>
    public void Dispose()
    {
        if (finalized) return;
        finalized = true;
        nint request = noticeRequest;
        if (MpiNative.Cancel(&request) == MpiNative.Success)
            for (int flag = 0; flag == 0 && MpiNative.Test(&request, &flag, null) == MpiNative.Success;) { }
        MpiNative.Finalize();
    }

    /// <summary>Leaves without MPI_Finalize, which would wait for ranks that are gone.</summary>
    public void Abandon() => finalized = true;

    /// <summary>Polls a started collective until it completes, or until a rank is seen lost or failed.</summary>
    void Wait(nint* request, string what)
    {
        long start = Stopwatch.GetTimestamp(), check = start + Stopwatch.Frequency / 20, interrupted = 0;
        while (true)
        {
            int flag;
            Check(MpiNative.Test(request, &flag, null), what);
            if (flag != 0) return;
            nint n = noticeRequest;
            Check(MpiNative.Test(&n, &flag, null), "MPI_Test");
            noticeRequest = n;
            if (flag != 0) throw new RankFailedException(*notice);
            long now = Stopwatch.GetTimestamp(), waited = now - start;
            if (interrupted == 0 && Interrupted?.Invoke() == true) { interrupted = now; check = now; }
            if (now >= check)
            {
                CheckPeers();
                check = now + Stopwatch.Frequency / 10;
                if (interrupted != 0 && now - interrupted > 10 * Stopwatch.Frequency)
                    throw new RankLostException("stopped by a signal while waiting for the other ranks, which did not "
                        + "come", lost: null, printer: 0);
                if (waited > Timeout.TotalSeconds * Stopwatch.Frequency)
                    throw new RankLostException($"no word from the other ranks for {Timeout.TotalSeconds:F0} s in "
                        + $"{what} (a rank on another node may have died or hung; INFOVAE_MPI_TIMEOUT sets the "
                        + "limit in seconds)", lost: null, printer: 0);
            }
            // Spin briefly (the common case: a rank a few microseconds behind), then yield the core, then sleep.
            if (waited < Stopwatch.Frequency / 1000) Thread.SpinWait(20);
            else if (waited < Stopwatch.Frequency / 50) Thread.Yield();
            else Thread.Sleep(1);
        }
    }

    /// <summary>Throws when a rank on this node has died: its process is gone or a zombie.</summary>
    void CheckPeers()
    {
        var me = peers[Rank];
        int lost = -1;
        for (int r = 0; r < Size; r++)
            if (r != Rank && peers[r].Node == me.Node && !Alive(peers[r].Pid)) { lost = r; break; }
        if (lost < 0) return;
        int printer = Enumerable.Range(0, Size)
            .First(r => r == Rank || peers[r].Node != me.Node || Alive(peers[r].Pid));
        throw new RankLostException($"rank {lost} (process {peers[lost].Pid}) has died", lost, printer);
    }

    static bool Alive(int pid)
    {
        if (kill(pid, 0) != 0 && Marshal.GetLastPInvokeError() == Esrch) return false;
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            int state = stat.LastIndexOf(')') + 2;    // pid (comm) state ...: comm may hold spaces and brackets
            return state >= 2 && state < stat.Length && stat[state] is not ('Z' or 'X');
        }
        catch (IOException) { return false; }
    }

    /// <summary>One value per node: host name, boot and process-id namespace (the space process ids live in).</summary>
    static ulong NodeKey()
    {
        static string Read(Func<string?> what)
        {
            try { return what() ?? ""; }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
        }
        string boot = Read(() => File.ReadAllText("/proc/sys/kernel/random/boot_id").Trim());
        string pidNamespace = Read(() => new FileInfo("/proc/self/ns/pid").LinkTarget);
        return XxHash64.HashToUInt64(Encoding.UTF8.GetBytes($"{Environment.MachineName}|{boot}|{pidNamespace}"));
    }

    static ulong AffinityMask()
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsWindows()) return ulong.MaxValue;
        try { return (ulong)Process.GetCurrentProcess().ProcessorAffinity; }
        catch (Exception e) when (e is PlatformNotSupportedException or InvalidOperationException)
        {
            return ulong.MaxValue;
        }
    }

    static Span<T> Scratch<T>(ref byte[] buffer, int count) where T : unmanaged
    {
        int bytes = checked(count * sizeof(T));
        if (buffer.Length < bytes) buffer = new byte[bytes];
        return MemoryMarshal.Cast<byte, T>(buffer.AsSpan(0, bytes));
    }

    static void Check(int code, string what)
    {
        if (code != MpiNative.Success) throw new UserError($"MPI: {what} failed: {MpiNative.Describe(code)}");
    }

    const int Esrch = 3;
    [LibraryImport("libc", SetLastError = true)] private static partial int kill(int pid, int signal);
}
