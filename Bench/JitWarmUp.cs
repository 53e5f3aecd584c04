using System.Diagnostics;
using System.Runtime;

namespace InfoVae.Bench;

/// <summary>
/// Warm-up for the probes that time or count a step by hand (--conv-profile, --train-profile, --alloc):
/// BenchmarkDotNet warms until the times settle, a fixed count of steps does not. The runtime first compiles a method
/// quickly (tier 0) and recompiles it fully optimised in the background only after it has been called 30 times and no
/// new method has been compiled for 100 ms; after 20 steps the loss kernels still ran tier-0 code (the MLP step
/// measured 13-14 ms of one thread's time instead of 10, its BCE 1.2-1.7 ms instead of 0.23), and the background
/// compiler's own allocations showed up as bytes per step.
/// </summary>
static class JitWarmUp
{
    /// <summary>Runs <paramref name="step"/> in rounds of at least 0.25 s, each followed by a pause for the background
    /// compiler, until a round compiles no new method (at most 20 rounds).</summary>
    public static void Run(Action step)
    {
        for (int round = 0; round < 20; round++)
        {
            long before = JitInfo.GetCompiledMethodCount();
            var clock = Stopwatch.StartNew();
            do step(); while (clock.ElapsedMilliseconds < 250);
            Thread.Sleep(200);
            if (round > 0 && JitInfo.GetCompiledMethodCount() == before) return;
        }
    }
}
