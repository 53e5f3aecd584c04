using System.Diagnostics;
using System.Runtime.InteropServices;
using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Gpu;
using InfoVae.Kernels;
using InfoVae.Kernels.Cpu;
using InfoVae.Model;
using Architecture = InfoVae.Model.Architecture;

namespace InfoVae.Bench;

/// <summary>
/// `dotnet run -c Release --project Bench -- --conv-profile [batch] [options]` (or `--train-profile`): where
/// <see cref="ConvBench"/>'s step (or a whole training step of the model, M4's MLP or with `--arch conv` the conv
/// net) spends its time on our side. The step runs on a
/// <see cref="TimingBackend"/> wrapped around INFOVAE_BENCH_DEVICE's backend, which times every primitive call
/// (waiting for the GPU after each, so GPU numbers include a launch and a sync per call); then, for the conv step,
/// the TorchSharp step is timed for the same batch. No BenchmarkDotNet. Options:
///   --threads N        Workers.MaxThreads (default 2);
///   --clock wall|cpu   wall: a Stopwatch (default); cpu: this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), which a
///                      loaded machine hardly disturbs: with --threads 1 it is the work of each call, whoever else
///                      runs (with 2 threads it misses the helper's share);
///   --steps N          timed steps (default 10); --no-peer leaves TorchSharp out; --arch mlp|conv (train profile).
/// </summary>
static class ConvProfile
{
    sealed record Options(int Batch, int Threads, bool Cpu, int Steps, bool Peer, Architecture Arch);

    static Options Parse(string[] args)
    {
        int batch = 256, threads = 2, steps = 10;
        bool cpu = false, peer = true;
        var arch = Architecture.Mlp;
        for (int i = 1; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--threads": threads = int.Parse(args[++i]); break;
                case "--clock": cpu = args[++i] == "cpu"; break;
                case "--steps": steps = int.Parse(args[++i]); break;
                case "--no-peer": peer = false; break;
                case "--arch": arch = args[++i] == "conv" ? Architecture.Conv : Architecture.Mlp; break;
                default: batch = int.Parse(args[i]); break;
            }
        }
        return new Options(batch, threads, cpu, steps, peer, arch);
    }

    public static void Run(string[] args)
    {
        var o = Parse(args);
        if (args[0] == "--train-profile") Train(o); else Conv(o);
    }

    static void Conv(Options o)
    {
        int batch = o.Batch, steps = o.Steps;
        var timing = new TimingBackend(BenchDevice.Backend, o.Cpu);
        var bench = new ConvBench { Batch = batch, BackendOverride = timing };
        bench.Setup();
        Workers.MaxThreads = o.Threads;
        var (output, dw0) = bench.Agreement();
        Console.WriteLine($"ours vs TorchSharp after one step: output max |diff| / max |y| = {output:G2}, conv1 "
            + $"weight gradient {dw0:G2}");
        JitWarmUp.Run(bench.Ours);
        if (o.Peer) for (int i = 0; i < 5; i++) bench.TorchSharp();
        // Managed bytes per step without the timing wrapper (its closures allocate): the plain backend, warm.
        var plain = new ConvBench { Batch = batch };
        plain.Setup();
        Workers.MaxThreads = o.Threads;
        JitWarmUp.Run(plain.Ours);
        var (allocThread, allocTotal) = Allocated(plain.Ours, steps);
        double plainMs = Measure(plain.Ours, steps, o.Cpu);
        plain.Cleanup();
        timing.Clear();
        double ours = Measure(bench.Ours, steps, o.Cpu);
        double torch = o.Peer ? Measure(bench.TorchSharp, steps, o.Cpu) : double.NaN;
        var torchLayers = o.Peer
            ? Enumerable.Range(0, ConvBench.Layers.Length).Select(l => bench.TorchLayer(l, 3)).ToArray() : [];
        var torchLast = o.Peer
            ? Enumerable.Range(0, ConvBench.Layers.Length).Select(l => bench.TorchLayer(l, 3, channelsLast: true))
                .ToArray()
            : [];
        bench.Cleanup();

        string clock = o.Cpu ? "thread CPU time" : "wall time";
        Console.WriteLine(
            $"conv stack forward + backward, batch {batch}, ours on {BenchDevice.Name}, {o.Threads} thread(s), "
            + $"{clock}: {plainMs:F1} ms/step ({ConvBench.Flop(batch) / plainMs / 1e6:F1} GFLOP/s) without the timing "
            + $"wrapper, {ours:F1} with it; TorchSharp {torch:F1} ms/step; ratio {plainMs / torch:F2}");
        Console.WriteLine($"ours allocates {allocThread} B/step on this thread, {allocTotal} B/step in the process");
        Print(timing, steps, ours);
        if (!o.Peer) return;
        Console.WriteLine("TorchSharp, each conv layer alone (no batch norm), ms: forward / forward + backward, "
                          + "NCHW | channels_last strides");
        for (int l = 0; l < torchLayers.Length; l++)
        {
            var L = ConvBench.Layers[l];
            var (f, b, lf, lb) = (torchLayers[l].Forward, torchLayers[l].Both, torchLast[l].Forward, torchLast[l].Both);
            Console.WriteLine(
                $"  {(L.T ? "conv_transpose2d" : "conv2d"),-16} {L.Cin,3}→{L.Cout,-3} k{L.K} {L.In,2}×{L.In,-2}  "
                + $"{f,8:F2} / {b,8:F2} | {lf,8:F2} / {lb,8:F2}");
        }
    }

    /// <summary>A training step (forward, loss, backward, Adam) of the InfoVAE on real batches: M4's for the
    /// MLP.</summary>
    static void Train(Options o)
    {
        int batch = o.Batch, steps = o.Steps;
        Workers.MaxThreads = o.Threads;
        var images = ModelData.Data.Train.Take(20 * batch);
        var timing = new TimingBackend(BenchDevice.Backend, o.Cpu);
        var config = new TrainConfig { Batch = batch, Epochs = int.MaxValue, Arch = o.Arch };
        var timed = new Trainer(config, images, timing);
        var plain = new Trainer(config, images, BenchDevice.Backend);
        timed.InitializeWeights(); plain.InitializeWeights();
        JitWarmUp.Run(() => { timed.TrainStep(); plain.TrainStep(); });
        var (allocThread, allocTotal) = Allocated(() => plain.TrainStep(), steps);
        double plainMs = Measure(() => plain.TrainStep(), steps, o.Cpu);
        timing.Clear();
        double ours = Measure(() => timed.TrainStep(), steps, o.Cpu);
        double flop = o.Arch == Architecture.Mlp ? TrainStepBench.Flop(batch) : ConvBench.Flop(batch);
        Console.WriteLine(
            $"{o.Arch} training step, batch {batch}, ours on {BenchDevice.Name}, {o.Threads} thread(s), "
            + $"{(o.Cpu ? "thread CPU time" : "wall time")}: {plainMs:F2} ms/step ({flop / plainMs / 1e6:F1} GFLOP/s) "
            + $"without the timing wrapper, {ours:F2} with it");
        Console.WriteLine($"ours allocates {allocThread} B/step on this thread, {allocTotal} B/step in the process");
        Print(timing, steps, ours);
    }

    static (long Thread, long Total) Allocated(Action step, int steps)
    {
        long thread0 = GC.GetAllocatedBytesForCurrentThread(), total0 = GC.GetTotalAllocatedBytes(true);
        for (int i = 0; i < steps; i++) step();
        return ((GC.GetAllocatedBytesForCurrentThread() - thread0) / steps,
            (GC.GetTotalAllocatedBytes(true) - total0) / steps);
    }

    /// <summary>Mean ms per call of <paramref name="step"/>, wall or this thread's CPU time.</summary>
    static double Measure(Action step, int steps, bool cpu)
    {
        long t0 = Clock.Now(cpu);
        for (int i = 0; i < steps; i++) step();
        return Clock.Ms(Clock.Now(cpu) - t0, cpu) / steps;
    }

    static void Print(TimingBackend timing, int steps, double ours)
    {
        Console.WriteLine($"{"call",-72} {"calls",6} {"ms/step",9} {"share",6}");
        double timed = 0;
        foreach (var (key, (calls, ticks)) in timing.Totals.OrderByDescending(e => e.Value.Ticks))
        {
            double ms = Clock.Ms(ticks, timing.Cpu) / steps;
            timed += ms;
            Console.WriteLine($"{key,-72} {calls / steps,6} {ms,9:F2} {ms / ours,6:P0}");
        }
        Console.WriteLine($"{"(between the calls: tape, op bookkeeping)",-72} {"",6} {ours - timed,9:F2} "
            + $"{(ours - timed) / ours,6:P0}");
        foreach (var (kind, ms) in timing.Totals.GroupBy(e => e.Key.Split(' ')[0])
                     .Select(g => (g.Key, Clock.Ms(g.Sum(e => e.Value.Ticks), timing.Cpu) / steps))
                     .OrderByDescending(e => e.Item2))
            Console.WriteLine($"  {kind,-24} {ms,9:F2} ms/step {ms / ours,6:P0}");
    }
}

/// <summary>Wall time (Stopwatch ticks) or this thread's CPU time (ns, clock_gettime(CLOCK_THREAD_CPUTIME_ID) on
/// Linux).</summary>
static class Clock
{
    [StructLayout(LayoutKind.Sequential)]
    struct TimeSpec { public long Seconds, Nanoseconds; }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    static extern int ClockGetTime(int clock, out TimeSpec time);

    const int ThreadCpuTime = 3;

    public static long Now(bool cpu)
    {
        if (!cpu) return Stopwatch.GetTimestamp();
        if (ClockGetTime(ThreadCpuTime, out var t) != 0)
            throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        return t.Seconds * 1_000_000_000 + t.Nanoseconds;
    }

    public static double Ms(long ticks, bool cpu) => cpu ? ticks / 1e6 : ticks * 1000.0 / Stopwatch.Frequency;
}

/// <summary>
/// An <see cref="IBackend{T}"/> that forwards every call to another one and adds up the time each kind of call
/// (name + shapes) takes, on the wall clock or as this thread's CPU time (<see cref="Clock"/>). Tensors made on it
/// hold the inner backend's storage; ops call back through it because a tensor's Backend is the one it was made on.
/// </summary>
sealed class TimingBackend(IBackend<float> inner, bool cpu = false) : IBackend<float>
{
    public readonly Dictionary<string, (long Calls, long Ticks)> Totals = [];
    public bool Cpu => cpu;

    public void Clear() => Totals.Clear();

    void Time(string key, Action call)
    {
        long t0 = Clock.Now(cpu);
        call();
        if (inner is IlgpuBackend gpu) gpu.Kernels.Stream.Synchronize();
        Add(key, Clock.Now(cpu) - t0);
    }

    void Add(string key, long dt) => Totals[key] = Totals.TryGetValue(key, out var e) ? (e.Calls + 1, e.Ticks + dt)
        : (1, dt);

    static string S(Tensor<float>? t) => t == null ? "-" : t.Shape.ToString();

    public string Name => inner.Name;
    // On the CPU the storage names this wrapper as its backend, so parameter views made from it (Tensor.View) are
    // on the same backend as the tensors ops make; a GPU storage stays the GPU backend's.
    BufferPool<float>? cpuPool;
    BufferPool<float>? Pool => inner is CpuBackend<float> ? cpuPool ??= new BufferPool<float>(this) : null;
    public Storage<float> Rent(int length) => Pool is { } p ? p.Rent(length) : inner.Rent(length);
    public void Return(Storage<float> storage)
    {
        if (Pool is { } p) p.Return((CpuStorage<float>)storage); else inner.Return(storage);
    }
    public void Upload(ReadOnlySpan<float> source, Tensor<float> destination)
    {
        long t0 = Clock.Now(cpu);
        inner.Upload(source, destination);
        Add($"Upload {S(destination)}", Clock.Now(cpu) - t0);
    }
    public void Download(Tensor<float> source, Span<float> destination) => inner.Download(source, destination);
    public void Fill(Tensor<float> t, float value) => Time($"Fill {S(t)}", () => inner.Fill(t, value));
    public bool AllFinite(Tensor<float> t) => inner.AllFinite(t);
    public void CopyRows(Tensor<float> source, Tensor<float> destination, bool accumulate) =>
        Time($"CopyRows {S(destination)}", () => inner.CopyRows(source, destination, accumulate));
    public void Unary<TOp>(Tensor<float> x, Tensor<float> y, float p) where TOp : struct, IUnaryFunction =>
        Time($"Unary.{TOp.Name} {S(x)}", () => inner.Unary<TOp>(x, y, p));
    public void UnaryBackward<TOp>(Tensor<float> x, Tensor<float> y, Tensor<float> dy, Tensor<float> dx, float p,
        bool accumulate = true) where TOp : struct, IUnaryFunction =>
        Time($"UnaryBackward.{TOp.Name} {S(x)}", () => inner.UnaryBackward<TOp>(x, y, dy, dx, p, accumulate));
    public void Binary<TOp>(Tensor<float> a, Tensor<float> b, Tensor<float> c) where TOp : struct, IBinaryFunction =>
        Time($"Binary.{TOp.Name} {S(c)}", () => inner.Binary<TOp>(a, b, c));
    public void BinaryBackward<TOp>(Tensor<float> a, Tensor<float> b, Tensor<float> dy, Tensor<float>? da,
        Tensor<float>? db) where TOp : struct, IBinaryFunction =>
        Time($"BinaryBackward.{TOp.Name} {S(dy)}", () => inner.BinaryBackward<TOp>(a, b, dy, da, db));
    public void Matmul(Tensor<float> a, bool transA, Tensor<float> b, bool transB, Tensor<float> c, float alpha,
        float beta,
        Tensor<float>? bias = null, bool relu = false)
    {
        int m = c.Shape[0], n = c.Shape[1], k = transA ? a.Shape[0] : a.Shape[1];
        string epilogue = (bias != null ? "+bias" : "") + (relu ? "+relu" : "");
        string ops = (transA ? "Aᵀ" : "A") + (transB ? "Bᵀ" : "B");
        Time($"Matmul{epilogue} {m}x{n}x{k} {ops} {2.0 * m * n * k / 1e6:F0} MFLOP",
            () => inner.Matmul(a, transA, b, transB, c, alpha, beta, bias, relu));
    }
    public void Sum(Tensor<float> x, int axis, Tensor<float> y, float scale, bool accumulate) =>
        Time($"Sum {S(x)} axis {axis}", () => inner.Sum(x, axis, y, scale, accumulate));
    public void SumBackward(Tensor<float> dy, int axis, Tensor<float> dx, float scale)
        => Time($"SumBackward {S(dx)}", () => inner.SumBackward(dy, axis, dx, scale));
    public void Transpose(Tensor<float> x, Tensor<float> y, bool accumulate)
        => Time($"Transpose {S(x)}", () => inner.Transpose(x, y, accumulate));
    public void BceWithLogits(Tensor<float> logits, Tensor<float> target, Tensor<float> loss) =>
        Time($"BceWithLogits {S(logits)}", () => inner.BceWithLogits(logits, target, loss));
    public void BceWithLogitsBackward(Tensor<float> logits, Tensor<float> target, Tensor<float> dLoss,
        Tensor<float>? dLogits, Tensor<float>? dTarget) =>
        Time($"BceWithLogitsBackward {S(logits)}", ()
            => inner.BceWithLogitsBackward(logits, target, dLoss, dLogits, dTarget));
    public void BceWithLogitsSum(Tensor<float> logits, Tensor<float> target, Tensor<float> sum, float scale) =>
        Time($"BceWithLogitsSum {S(logits)}", () => inner.BceWithLogitsSum(logits, target, sum, scale));
    public void BceWithLogitsSumBackward(Tensor<float> logits, Tensor<float> target, Tensor<float> dSum, float scale,
        Tensor<float>? dLogits, bool accumulateLogits, Tensor<float>? dTarget) =>
        Time($"BceWithLogitsSumBackward {S(logits)}", ()
            => inner.BceWithLogitsSumBackward(logits, target, dSum, scale, dLogits, accumulateLogits, dTarget));
    public void GaussianKl(Tensor<float> mu, Tensor<float> logvar, Tensor<float> kl)
        => Time($"GaussianKl {S(mu)}", () => inner.GaussianKl(mu, logvar, kl));
    public void SoftmaxCrossEntropy(Tensor<float> logits, Tensor<float> target, Tensor<float> loss) =>
        Time($"SoftmaxCrossEntropy {S(logits)}", () => inner.SoftmaxCrossEntropy(logits, target, loss));
    public void SoftmaxCrossEntropyBackward(Tensor<float> logits, Tensor<float> target, Tensor<float> dLoss,
        Tensor<float>? dLogits, Tensor<float>? dTarget) =>
        Time($"SoftmaxCrossEntropyBackward {S(logits)}", ()
            => inner.SoftmaxCrossEntropyBackward(logits, target, dLoss, dLogits, dTarget));
    public void GaussianKlBackward(Tensor<float> mu, Tensor<float> logvar, Tensor<float> dKl, Tensor<float>? dMu,
        Tensor<float>? dLogvar) =>
        Time($"GaussianKlBackward {S(mu)}", () => inner.GaussianKlBackward(mu, logvar, dKl, dMu, dLogvar));
    public void SquaredDistance(Tensor<float> a, Tensor<float> b, Tensor<float> d) => inner.SquaredDistance(a, b, d);
    public void SquaredDistanceBackward(Tensor<float> a, Tensor<float> b, Tensor<float> d, Tensor<float> dD,
        Tensor<float>? da, Tensor<float>? db) =>
        inner.SquaredDistanceBackward(a, b, d, dD, da, db);
    public void Mmd(Tensor<float> x, Tensor<float> y, MmdSpec spec, Tensor<float> result)
        => Time($"Mmd {S(x)}", () => inner.Mmd(x, y, spec, result));
    public void MmdBackward(Tensor<float> x, Tensor<float> y, MmdSpec spec, Tensor<float> dResult, Tensor<float>? dx,
        Tensor<float>? dy) =>
        Time($"MmdBackward {S(x)}", () => inner.MmdBackward(x, y, spec, dResult, dx, dy));
    public void Im2Col(Tensor<float> image, ConvGeometry g, Tensor<float> cols)
        => Time($"Im2Col {S(image)} → {S(cols)}", () => inner.Im2Col(image, g, cols));
    public void Col2Im(Tensor<float> cols, ConvGeometry g, Tensor<float> image)
        => Time($"Col2Im {S(cols)} → {S(image)}", () => inner.Col2Im(cols, g, image));
    public void ConvForward(Tensor<float> image, ConvGeometry g, Tensor<float> w, Tensor<float> y, float beta) =>
        Time($"ConvForward {S(image)} → {S(y)} {2.0 * g.ColsLength * (w.Length / g.PatchLength) / 1e6:F0} MFLOP", ()
            => inner.ConvForward(image, g, w, y, beta));
    public void ConvBackwardData(Tensor<float> a, Tensor<float> w, ConvGeometry g, Tensor<float> image,
        bool accumulate) =>
        Time($"ConvBackwardData {S(a)} → {S(image)} {2.0 * g.ColsLength * (w.Length / g.PatchLength) / 1e6:F0} MFLOP",
            () => inner.ConvBackwardData(a, w, g, image, accumulate));
    public void ConvWeightGrad(Tensor<float> image, ConvGeometry g, Tensor<float> dy, Tensor<float> dw,
        bool accumulate) =>
        Time($"ConvWeightGrad {S(image)} → {S(dw)} {2.0 * g.ColsLength * (dw.Length / g.PatchLength) / 1e6:F0} MFLOP",
            () => inner.ConvWeightGrad(image, g, dy, dw, accumulate));
    public void BatchNormStats(Tensor<float> x, Tensor<float> mean, Tensor<float> var)
        => Time($"BatchNormStats {S(x)}", () => inner.BatchNormStats(x, mean, var));
    public void BatchNormApply(Tensor<float> x, Tensor<float> mean, Tensor<float> var, double eps, Tensor<float> gamma,
        Tensor<float> beta,
        Tensor<float> y, float? leakySlope = null) =>
        Time($"BatchNormApply{(leakySlope != null ? "+LeakyRelu" : "")} {S(x)}", ()
            => inner.BatchNormApply(x, mean, var, eps, gamma, beta, y, leakySlope));
    public void BatchNormBackward(Tensor<float> x, Tensor<float> mean, Tensor<float> var, double eps,
        Tensor<float> gamma, Tensor<float> dy,
        Tensor<float>? dx, Tensor<float>? dGamma, Tensor<float>? dBeta, bool accumulateDx = true,
            Tensor<float>? y = null, float? leakySlope = null) =>
        Time($"BatchNormBackward{(leakySlope != null ? "+LeakyRelu" : "")} {S(x)}",
            () => inner.BatchNormBackward(x, mean, var, eps, gamma, dy, dx, dGamma, dBeta, accumulateDx, y,
                leakySlope));
    public void BatchNormUpdateRunning(Tensor<float> mean, Tensor<float> var, int rows, double momentum,
        Tensor<float> runningMean, Tensor<float> runningVar) =>
        Time($"BatchNormUpdateRunning {S(mean)}", () => inner.BatchNormUpdateRunning(mean, var, rows, momentum,
            runningMean, runningVar));
    public void Normal(Tensor<float> t, ulong key, ulong counter) => inner.Normal(t, key, counter);
    public void Uniform(Tensor<float> t, ulong key, ulong counter) => inner.Uniform(t, key, counter);
    public void Adam(Tensor<float> param, Tensor<float> grad, Tensor<float> m, Tensor<float> v, double lr, double beta1,
        double beta2, double eps, long step) =>
        Time($"Adam {S(param)}", () => inner.Adam(param, grad, m, v, lr, beta1, beta2, eps, step));
}
