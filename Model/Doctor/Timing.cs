using System.Diagnostics;
using InfoVae.Engine;
using InfoVae.Engine.Gpu;

namespace InfoVae.Model.Doctor;

/// <summary>The median time per call, the repetitions it is the median of, and the calls timed together in each.
/// </summary>
public sealed record Timing(double Ms, int Reps, int CallsPerRep);

/// <summary>
/// How long to time: warm-up calls first (the first call on a GPU compiles the kernel and the driver JITs it), then
/// repetitions until there are <see cref="MinReps"/> of them and <see cref="MinSeconds"/> have passed, or, for slow
/// cases, until there are 3 and <see cref="MaxSeconds"/> have passed. Each repetition times
/// <see cref="Timing.CallsPerRep"/> calls and one wait for the device, chosen so that a repetition lasts about
/// <see cref="BlockSeconds"/>: a lone small launch would time the launch and the wait, not the kernel.
/// </summary>
public sealed record TimingPlan(int Warmup, int MinReps, double MinSeconds, double MaxSeconds, double BlockSeconds,
    int MaxCallsPerRep)
{
    /// <summary>The doctor's per-op timing at full size.</summary>
    public static readonly TimingPlan Doctor = new(2, 10, 0.2, 2, 0.002, 1000);
    /// <summary>--quick: enough to exercise the timing path (the correctness call before it is the warm-up), not to
    /// measure.</summary>
    public static readonly TimingPlan Quick = new(0, 1, 0, 0, 0, 1);

    /// <summary>Waits until everything queued on the backend has run (the CPU backend runs synchronously).</summary>
    public static void Sync(IBackend<float> backend)
    {
        if (backend is IlgpuBackend g) g.Kernels.Stream.Synchronize();
    }

    public Timing Measure(Action call, IBackend<float> backend)
    {
        for (int i = 0; i < Warmup; i++) call();
        Sync(backend);
        var clock = Stopwatch.StartNew();
        int calls = 1;
        if (BlockSeconds > 0)
        {
            call(); Sync(backend);
            double one = Math.Max(clock.Elapsed.TotalSeconds, 1e-7);
            calls = (int)Math.Clamp(Math.Ceiling(BlockSeconds / one), 1, MaxCallsPerRep);
        }
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        bool Done() => times.Count >= MinReps && total.Elapsed.TotalSeconds >= MinSeconds
            || times.Count >= 3 && total.Elapsed.TotalSeconds >= MaxSeconds;
        while (!Done())
        {
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < calls; i++) call();
            Sync(backend);
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds / calls);
        }
        times.Sort();
        int n = times.Count;
        return new Timing(n % 2 == 1 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2, n, calls);
    }
}
