using System.Diagnostics;
using InfoVae.Engine;
using InfoVae.Engine.Gpu;
using InfoVae.Kernels;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Bench;

/// <summary>
/// `dotnet run -c Release --project Bench -- --conv-profile [batch]`: where <see cref="ConvBench"/>'s step spends
/// its time on our side. The step runs on a <see cref="TimingBackend"/> wrapped around INFOVAE_BENCH_DEVICE's
/// backend, which times every primitive call (waiting for the GPU after each, so GPU numbers include a launch and a
/// sync per call); then the TorchSharp step is timed with a Stopwatch for the same batch. No BenchmarkDotNet.
/// </summary>
static class ConvProfile
{
    public static void Run(int batch)
    {
        const int warm = 5, steps = 10;
        var timing = new TimingBackend(BenchDevice.Backend);
        var bench = new ConvBench { Batch = batch, BackendOverride = timing };
        bench.Setup();
        var (output, dw0) = bench.Agreement();
        Console.WriteLine($"ours vs TorchSharp after one step: output max |diff| / max |y| = {output:G2}, conv1 weight gradient {dw0:G2}");
        for (int i = 0; i < warm; i++) { bench.Ours(); bench.TorchSharp(); }
        // Managed bytes per step without the timing wrapper (its closures allocate): the plain backend, warm.
        var plain = new ConvBench { Batch = batch };
        plain.Setup();
        for (int i = 0; i < warm; i++) plain.Ours();
        long thread0 = GC.GetAllocatedBytesForCurrentThread(), total0 = GC.GetTotalAllocatedBytes(true);
        for (int i = 0; i < steps; i++) plain.Ours();
        long allocThread = (GC.GetAllocatedBytesForCurrentThread() - thread0) / steps, allocTotal = (GC.GetTotalAllocatedBytes(true) - total0) / steps;
        plain.Cleanup();
        timing.Clear();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < steps; i++) bench.Ours();
        double ours = sw.Elapsed.TotalMilliseconds / steps;
        sw.Restart();
        for (int i = 0; i < steps; i++) bench.TorchSharp();
        double torch = sw.Elapsed.TotalMilliseconds / steps;
        var torchLayers = Enumerable.Range(0, ConvBench.Layers.Length).Select(l => bench.TorchLayer(l, 3)).ToArray();
        var torchLast = Enumerable.Range(0, ConvBench.Layers.Length).Select(l => bench.TorchLayer(l, 3, channelsLast: true)).ToArray();
        bench.Cleanup();

        Console.WriteLine($"conv stack forward + backward, batch {batch}, ours on {BenchDevice.Name}: {ours:F1} ms/step " +
                          $"({ConvBench.Flop(batch) / ours / 1e6:F1} GFLOP/s); TorchSharp {torch:F1} ms/step; ratio {ours / torch:F2}");
        Console.WriteLine($"ours allocates {allocThread} B/step on this thread, {allocTotal} B/step in the process");
        Console.WriteLine($"{"call",-72} {"calls",6} {"ms/step",9} {"share",6}");
        double timed = 0;
        foreach (var (key, (calls, ticks)) in timing.Totals.OrderByDescending(e => e.Value.Ticks))
        {
            double ms = ticks * 1000.0 / Stopwatch.Frequency / steps;
            timed += ms;
            Console.WriteLine($"{key,-72} {calls / steps,6} {ms,9:F2} {ms / ours,6:P0}");
        }
        Console.WriteLine($"{"(between the calls: tape, op bookkeeping)",-72} {"",6} {ours - timed,9:F2} {(ours - timed) / ours,6:P0}");
        foreach (var (kind, ms) in timing.Totals.GroupBy(e => e.Key.Split(' ')[0])
                     .Select(g => (g.Key, g.Sum(e => e.Value.Ticks) * 1000.0 / Stopwatch.Frequency / steps)).OrderByDescending(e => e.Item2))
            Console.WriteLine($"  {kind,-20} {ms,9:F2} ms/step {ms / ours,6:P0}");
        Console.WriteLine("TorchSharp, each conv layer alone (no batch norm), ms: forward / forward + backward, NCHW | channels_last strides");
        for (int l = 0; l < torchLayers.Length; l++)
        {
            var L = ConvBench.Layers[l];
            Console.WriteLine($"  {(L.T ? "conv_transpose2d" : "conv2d"),-16} {L.Cin,3}→{L.Cout,-3} k{L.K} {L.In,2}×{L.In,-2}  {torchLayers[l].Forward,8:F2} / {torchLayers[l].Both,8:F2} | {torchLast[l].Forward,8:F2} / {torchLast[l].Both,8:F2}");
        }
    }
}

/// <summary>
/// An <see cref="IBackend{T}"/> that forwards every call to another one and adds up the time each kind of call
/// (name + shapes) takes. Tensors made on it hold the inner backend's storage; ops call back through it because a
/// tensor's Backend is the one it was made on.
/// </summary>
sealed class TimingBackend(IBackend<float> inner) : IBackend<float>
{
    public readonly Dictionary<string, (long Calls, long Ticks)> Totals = [];

    public void Clear() => Totals.Clear();

    void Time(string key, Action call)
    {
        long t0 = Stopwatch.GetTimestamp();
        call();
        if (inner is IlgpuBackend gpu) gpu.Kernels.Stream.Synchronize();
        long dt = Stopwatch.GetTimestamp() - t0;
        Totals[key] = Totals.TryGetValue(key, out var e) ? (e.Calls + 1, e.Ticks + dt) : (1, dt);
    }

    static string S(Tensor<float>? t) => t == null ? "-" : t.Shape.ToString();

    public string Name => inner.Name;
    public Storage<float> Rent(int length) => inner.Rent(length);
    public void Return(Storage<float> storage) => inner.Return(storage);
    public void Upload(ReadOnlySpan<float> source, Tensor<float> destination) => inner.Upload(source, destination);
    public void Download(Tensor<float> source, Span<float> destination) => inner.Download(source, destination);
    public void Fill(Tensor<float> t, float value) => Time($"Fill {S(t)}", () => inner.Fill(t, value));
    public bool AllFinite(Tensor<float> t) => inner.AllFinite(t);
    public void CopyRows(Tensor<float> source, Tensor<float> destination, bool accumulate) =>
        Time($"CopyRows {S(destination)}", () => inner.CopyRows(source, destination, accumulate));
    public void Unary(UnaryOp op, Tensor<float> x, Tensor<float> y, float p) => Time($"Unary.{op} {S(x)}", () => inner.Unary(op, x, y, p));
    public void UnaryBackward(UnaryOp op, Tensor<float> x, Tensor<float> y, Tensor<float> dy, Tensor<float> dx, float p) =>
        Time($"UnaryBackward.{op} {S(x)}", () => inner.UnaryBackward(op, x, y, dy, dx, p));
    public void Binary(BinaryOp op, Tensor<float> a, Tensor<float> b, Tensor<float> c) => Time($"Binary.{op} {S(c)}", () => inner.Binary(op, a, b, c));
    public void BinaryBackward(BinaryOp op, Tensor<float> a, Tensor<float> b, Tensor<float> dy, Tensor<float>? da, Tensor<float>? db) =>
        Time($"BinaryBackward.{op} {S(dy)}", () => inner.BinaryBackward(op, a, b, dy, da, db));
    public void Matmul(Tensor<float> a, bool transA, Tensor<float> b, bool transB, Tensor<float> c, float alpha, float beta)
    {
        int m = c.Shape[0], n = c.Shape[1], k = transA ? a.Shape[0] : a.Shape[1];
        Time($"Matmul {m}x{n}x{k} {(transA ? "Aᵀ" : "A")}{(transB ? "Bᵀ" : "B")} {2.0 * m * n * k / 1e6:F0} MFLOP", () => inner.Matmul(a, transA, b, transB, c, alpha, beta));
    }
    public void Sum(Tensor<float> x, int axis, Tensor<float> y, float scale, bool accumulate) =>
        Time($"Sum {S(x)} axis {axis}", () => inner.Sum(x, axis, y, scale, accumulate));
    public void SumBackward(Tensor<float> dy, int axis, Tensor<float> dx, float scale) => Time($"SumBackward {S(dx)}", () => inner.SumBackward(dy, axis, dx, scale));
    public void Transpose(Tensor<float> x, Tensor<float> y, bool accumulate) => Time($"Transpose {S(x)}", () => inner.Transpose(x, y, accumulate));
    public void BceWithLogits(Tensor<float> logits, Tensor<float> target, Tensor<float> loss) => inner.BceWithLogits(logits, target, loss);
    public void BceWithLogitsBackward(Tensor<float> logits, Tensor<float> target, Tensor<float> dLoss, Tensor<float>? dLogits, Tensor<float>? dTarget) =>
        inner.BceWithLogitsBackward(logits, target, dLoss, dLogits, dTarget);
    public void SoftmaxCrossEntropy(Tensor<float> logits, Tensor<float> target, Tensor<float> loss) =>
        inner.SoftmaxCrossEntropy(logits, target, loss);
    public void SoftmaxCrossEntropyBackward(Tensor<float> logits, Tensor<float> target, Tensor<float> dLoss,
        Tensor<float>? dLogits, Tensor<float>? dTarget) =>
        inner.SoftmaxCrossEntropyBackward(logits, target, dLoss, dLogits, dTarget);
    public void GaussianKl(Tensor<float> mu, Tensor<float> logvar, Tensor<float> kl) => inner.GaussianKl(mu, logvar, kl);
    public void GaussianKlBackward(Tensor<float> mu, Tensor<float> logvar, Tensor<float> dKl, Tensor<float>? dMu, Tensor<float>? dLogvar) =>
        inner.GaussianKlBackward(mu, logvar, dKl, dMu, dLogvar);
    public void SquaredDistance(Tensor<float> a, Tensor<float> b, Tensor<float> d) => inner.SquaredDistance(a, b, d);
    public void SquaredDistanceBackward(Tensor<float> a, Tensor<float> b, Tensor<float> d, Tensor<float> dD, Tensor<float>? da, Tensor<float>? db) =>
        inner.SquaredDistanceBackward(a, b, d, dD, da, db);
    public void Mmd(Tensor<float> x, Tensor<float> y, MmdSpec spec, Tensor<float> result) => inner.Mmd(x, y, spec, result);
    public void MmdBackward(Tensor<float> x, Tensor<float> y, MmdSpec spec, Tensor<float> dResult, Tensor<float>? dx, Tensor<float>? dy) =>
        inner.MmdBackward(x, y, spec, dResult, dx, dy);
    public void Im2Col(Tensor<float> image, ConvGeometry g, Tensor<float> cols) => Time($"Im2Col {S(image)} → {S(cols)}", () => inner.Im2Col(image, g, cols));
    public void Col2Im(Tensor<float> cols, ConvGeometry g, Tensor<float> image) => Time($"Col2Im {S(cols)} → {S(image)}", () => inner.Col2Im(cols, g, image));
    public void BatchNormStats(Tensor<float> x, Tensor<float> mean, Tensor<float> var) => Time($"BatchNormStats {S(x)}", () => inner.BatchNormStats(x, mean, var));
    public void BatchNormApply(Tensor<float> x, Tensor<float> mean, Tensor<float> var, double eps, Tensor<float> gamma, Tensor<float> beta, Tensor<float> y) =>
        Time($"BatchNormApply {S(x)}", () => inner.BatchNormApply(x, mean, var, eps, gamma, beta, y));
    public void BatchNormBackward(Tensor<float> x, Tensor<float> mean, Tensor<float> var, double eps, Tensor<float> gamma, Tensor<float> dy,
        Tensor<float>? dx, Tensor<float>? dGamma, Tensor<float>? dBeta) =>
        Time($"BatchNormBackward {S(x)}", () => inner.BatchNormBackward(x, mean, var, eps, gamma, dy, dx, dGamma, dBeta));
    public void BatchNormUpdateRunning(Tensor<float> mean, Tensor<float> var, int rows, double momentum, Tensor<float> runningMean, Tensor<float> runningVar) =>
        Time($"BatchNormUpdateRunning {S(mean)}", () => inner.BatchNormUpdateRunning(mean, var, rows, momentum, runningMean, runningVar));
    public void Normal(Tensor<float> t, ulong key, ulong counter) => inner.Normal(t, key, counter);
    public void Uniform(Tensor<float> t, ulong key, ulong counter) => inner.Uniform(t, key, counter);
    public void Adam(Tensor<float> param, Tensor<float> grad, Tensor<float> m, Tensor<float> v, double lr, double beta1, double beta2, double eps, long step) =>
        inner.Adam(param, grad, m, v, lr, beta1, beta2, eps, step);
}
