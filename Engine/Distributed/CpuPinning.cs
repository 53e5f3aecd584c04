using System.Runtime.InteropServices;

namespace InfoVae.Engine.Distributed;

/// <summary>
/// Pins the calling thread to one CPU, and back to the CPUs it had (Linux; elsewhere, or where the kernel refuses,
/// nothing happens and the caller is told). For replicas that take turns: each hand-over wakes a sleeping thread,
/// and a thread woken onto an idle vCPU of a VM starts 0.3-0.8 ms later (the vCPU itself has to be woken), while on
/// the waker's own CPU, which the waker is about to leave, it is a context switch of microseconds.
/// </summary>
static unsafe partial class CpuPinning
{
    /// <summary>The bytes of a Linux cpu_set_t: 1,024 CPUs (a machine with more refuses; nothing is pinned).</summary>
    public const int MaskBytes = 128;

    /// <summary>The CPU the calling thread runs on now, or −1 where that is unknown.</summary>
    public static int Current() => OperatingSystem.IsLinux() ? sched_getcpu() : -1;

    /// <summary>
    /// Saves the calling thread's CPUs in <paramref name="saved"/> (<see cref="MaskBytes"/>) and pins it to
    /// <paramref name="cpu"/>; false when it could not (then nothing changed).
    /// </summary>
    public static bool Pin(int cpu, Span<byte> saved)
    {
        if (cpu < 0 || cpu >= MaskBytes * 8 || !OperatingSystem.IsLinux()) return false;
        Span<byte> one = stackalloc byte[MaskBytes];
        one.Clear();
        one[cpu / 8] = (byte)(1 << (cpu % 8));
        fixed (byte* s = saved) fixed (byte* o = one)
            return sched_getaffinity(0, MaskBytes, s) == 0 && sched_setaffinity(0, MaskBytes, o) == 0;
    }

    /// <summary>Gives the calling thread back the CPUs that <see cref="Pin"/> saved.</summary>
    public static void Restore(ReadOnlySpan<byte> saved)
    {
        fixed (byte* s = saved) sched_setaffinity(0, MaskBytes, s);
    }

    [LibraryImport("libc")] private static partial int sched_getcpu();
    [LibraryImport("libc")] private static partial int sched_getaffinity(int pid, nuint size, byte* mask);
    [LibraryImport("libc")] private static partial int sched_setaffinity(int pid, nuint size, byte* mask);
}
