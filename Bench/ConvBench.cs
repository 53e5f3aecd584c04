using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using InfoVae.Engine;
using InfoVae.Engine.Gpu;
using InfoVae.Kernels.Cpu;
using TorchSharp;
using static TorchSharp.torch;
using EngineOps = InfoVae.Engine.Ops;
using TorchTensor = TorchSharp.torch.Tensor;

namespace InfoVae.Bench;

/// <summary>
/// Issue #8: forward + backward of the conv InfoVAE's six conv layers at their real shapes, with batch norm
/// (training mode, running stats updated) and leaky ReLU (slope 0.2) after every layer but the last, 2 threads:
///   encoder  conv 1→32 k4 s2 p1 (28→14), conv 32→64 k4 s2 p1 (14→7), conv 64→128 k3 s2 p1 (7→4);
///   decoder  convT 128→64 k3 s2 p1 (4→7), convT 64→32 k4 s2 p1 (7→14), convT 32→1 k4 s2 p1 (14→28), with bias.
/// The encoder's output feeds the decoder directly (the model's linear layers in between are left out); the
/// backward starts from a fixed random gradient of the (B, 28, 28, 1) output; the input image needs no gradient.
/// Convs followed by batch norm have no bias (it would cancel). Ours: channels-last on INFOVAE_BENCH_DEVICE;
/// TorchSharp: torch.nn.functional.conv2d / conv_transpose2d / batch_norm / leaky_relu on contiguous NCHW, what a
/// PyTorch user runs (libtorch 2.10, oneDNN); TorchSharpChannelsLast runs the same with channels_last strides.
/// Napkin math (GEMM FLOP only; batch norm and leaky ReLU are memory-bound and uncounted), B = 256, forward
/// 2·rows·K·N per layer: conv1 51.4 M, conv2 822 M, conv3 604 M, convT1 604 M, convT2 822 M, convT3 51.4 M
/// = 2.95 GFLOP; backward twice that (dW and dx GEMMs) less conv1's dx: 5.86 GFLOP; in all 8.81 GFLOP per step,
/// 48 ms at 185 GFLOP/s.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(Columns))]
public class ConvBench
{
    [Params(256)] public int Batch;

    const float Slope = 0.2f;

    /// <summary>(transposed, Cin, Cout, kernel, stride, pad, input H = W), in forward order.</summary>
    internal static readonly (bool T, int Cin, int Cout, int K, int S, int P, int In)[] Layers =
    [
        (false, 1, 32, 4, 2, 1, 28), (false, 32, 64, 4, 2, 1, 14), (false, 64, 128, 3, 2, 1, 7),
        (true, 128, 64, 3, 2, 1, 4), (true, 64, 32, 4, 2, 1, 7), (true, 32, 1, 4, 2, 1, 14),
    ];

    static int Out((bool T, int Cin, int Cout, int K, int S, int P, int In) l) =>
        l.T ? (l.In - 1) * l.S - 2 * l.P + l.K : (l.In + 2 * l.P - l.K) / l.S + 1;

    /// <summary>Forward GEMM FLOP of layer l at batch b: 2 · (positions of the conv side) · K·K·Cin · Cout.</summary>
    static double ForwardFlop(int l, int b)
    {
        var L = Layers[l];
        int positions = L.T ? L.In * L.In : Out(L) * Out(L);   // a convT's GEMM runs over its input positions
        return 2.0 * b * positions * L.K * L.K * L.Cin * L.Cout;
    }

    /// <summary>
    /// Forward + backward: 3× each layer's forward GEMMs, less the first layer's dx GEMM (the image needs no gradient).
    /// </summary>
    internal static double Flop(int b) => Enumerable.Range(0, Layers.Length).Sum(l => (l == 0 ? 2 : 3)
        * ForwardFlop(l, b));

    /// <summary>
    /// Runs our side on this backend instead of INFOVAE_BENCH_DEVICE's (<see cref="ConvProfile"/>'s timing wrapper).
    /// </summary>
    internal IBackend<float>? BackendOverride { get; init; }

    IBackend<float> be = null!;
    Tensor<float> x = null!, seed = null!;
    Tensor<float>[] w = [], gamma = [], beta = [], runMean = [], runVar = [];
    Tensor<float> lastBias = null!;

    TorchTensor tx = null!, tseed = null!, tLastBias = null!;
    TorchTensor[] tw = [], tgamma = [], tbeta = [], tRunMean = [], tRunVar = [];
    TorchTensor[] tParams = [];
    TorchTensor txLast = null!;
    TorchTensor[] twLast = [], tParamsLast = [];

    [GlobalSetup]
    public void Setup()
    {
        torch.set_num_threads(2);
        Workers.MaxThreads = 2;
        be = BackendOverride ?? BenchDevice.Backend;
        var r = new Random(8);
        float[] Uniform(int n, double scale)
        {
            var a = new float[n]; for (int i = 0; i < n;
            i++) a[i] = (float)((r.NextDouble() * 2 - 1) * scale); return a;
        }
        float[] Fill(int n, float v) => Enumerable.Repeat(v, n).ToArray();
        int B = Batch, n = Layers.Length, bn = n - 1;

        // The same numbers on both sides: images in [0, 1), weights U(±1/√fan_in), gamma 1, beta 0, running 0 / 1.
        var image = Uniform(B * 28 * 28, 0.5).Select(v => v + 0.5f).ToArray();
        var seedData = Uniform(B * 28 * 28, 1);
        var ws = Layers.Select(l => Uniform(l.Cin * l.K * l.K * l.Cout, 1 / Math.Sqrt(l.Cin * l.K * l.K))).ToArray();
        var biasData = Uniform(1, 0.1);

        x = Tensor<float>.From(image, new Shape(B, 28, 28, 1), be);
        seed = Tensor<float>.From(seedData, new Shape(B, 28, 28, 1), be);
        // Ours: conv (Cout, K, K, Cin), convT (Cin, K, K, Cout), channels-last. The random numbers are laid out as
        // torch's (Cout, Cin, K, K) / (Cin, Cout, K, K) and permuted here, so both sides hold the same weights.
        w = Layers.Select((l, i)
            => Tensor<float>.From(ToChannelsLast(ws[i], l.T ? l.Cin : l.Cout, l.T ? l.Cout : l.Cin, l.K),
            l.T ? new Shape(l.Cin, l.K, l.K, l.Cout) : new Shape(l.Cout, l.K, l.K, l.Cin), be,
                requiresGrad: true)).ToArray();
        gamma = Layers.Take(bn).Select(l => Tensor<float>.From(Fill(l.Cout, 1), new Shape(l.Cout), be,
            requiresGrad: true)).ToArray();
        beta = Layers.Take(bn).Select(l => Tensor<float>.Zeros(new Shape(l.Cout), be, requiresGrad: true)).ToArray();
        runMean = Layers.Take(bn).Select(l => Tensor<float>.Zeros(new Shape(l.Cout), be)).ToArray();
        runVar = Layers.Take(bn).Select(l => Tensor<float>.From(Fill(l.Cout, 1), new Shape(l.Cout), be)).ToArray();
        lastBias = Tensor<float>.From(biasData, new Shape(1), be, requiresGrad: true);

        tx = torch.tensor(image, [B, 1, 28, 28]);
        tseed = torch.tensor(seedData, [B, 1, 28, 28]);
        tw = Layers.Select((l, i)
            => torch.tensor(ws[i],
            l.T ? [l.Cin, l.Cout, l.K, l.K] : [l.Cout, l.Cin, l.K, l.K]).requires_grad_()).ToArray();
        tgamma = Layers.Take(bn).Select(l => torch.ones(l.Cout).requires_grad_()).ToArray();
        tbeta = Layers.Take(bn).Select(l => torch.zeros(l.Cout).requires_grad_()).ToArray();
        tRunMean = Layers.Take(bn).Select(l => torch.zeros(l.Cout)).ToArray();
        tRunVar = Layers.Take(bn).Select(l => torch.ones(l.Cout)).ToArray();
        tLastBias = torch.tensor(biasData, [1]).requires_grad_();
        tParams = [.. tw, .. tgamma, .. tbeta, tLastBias];
        // The same input and weights with channels_last strides (their own leaves; batch norm and leaky ReLU keep the
        // format).
        txLast = ChannelsLast(tx);
        twLast = tw.Select(t => ChannelsLast(t.detach()).requires_grad_()).ToArray();
        tParamsLast = [.. twLast, .. tgamma, .. tbeta, tLastBias];
    }

    /// <summary>(A, B, K, K) → (A, K, K, B): torch's contiguous conv weight to its channels_last memory.</summary>
    static float[] ToChannelsLast(float[] src, int a, int b, int k)
    {
        var dst = new float[src.Length];
        for (int i = 0; i < a; i++)
            for (int j = 0; j < b; j++)
                for (int y = 0; y < k; y++)
                    for (int z = 0; z < k; z++)
                        dst[((i * k + y) * k + z) * b + j] = src[((i * b + j) * k + y) * k + z];
        return dst;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Tape<float>.Current.Reset();
        foreach (var t in new[] { tx, tseed, txLast }.Concat(tParams).Concat(twLast).Concat(tRunMean).Concat(tRunVar))
            t.Dispose();
    }

    [Benchmark(Baseline = true)]
    public void TorchSharp()
    {
        using var scope = NewDisposeScope();
        foreach (var p in tParams) p.grad = null;   // zero_grad(set_to_none: true)
        TorchForward(tx, tw).backward([tseed]);
    }

    /// <summary>
    /// The same step with activations and weights in channels_last memory (PyTorch's advice for CPU convs); the seed's
    /// C = 1 makes it either format.
    /// </summary>
    [Benchmark]
    public void TorchSharpChannelsLast()
    {
        using var scope = NewDisposeScope();
        foreach (var p in tParamsLast) p.grad = null;
        TorchForward(txLast, twLast).backward([tseed]);
    }

    TorchTensor TorchForward(TorchTensor x, TorchTensor[] tw)
    {
        var h = x;
        for (int l = 0; l < Layers.Length; l++)
        {
            var L = Layers[l];
            long[] s = [L.S, L.S], p = [L.P, L.P];
            bool last = l == Layers.Length - 1;
            h = L.T ? nn.functional.conv_transpose2d(h, tw[l], last ? tLastBias : null, strides: s, padding: p)
                    : nn.functional.conv2d(h, tw[l], null, strides: s, padding: p);
            if (!last)
                h = nn.functional.leaky_relu(nn.functional.batch_norm(h, tRunMean[l], tRunVar[l], tgamma[l], tbeta[l],
                    training: true), Slope);
        }
        return h;
    }

    [Benchmark]
    public void Ours()
    {
        foreach (var p in w) p.ZeroGrad();
        foreach (var p in gamma) p.ZeroGrad();
        foreach (var p in beta) p.ZeroGrad();
        lastBias.ZeroGrad();
        OursForward().Backward(seed);
        // the GPU queue is asynchronous
        if (BenchDevice.Backend is IlgpuBackend gpu) gpu.Kernels.Stream.Synchronize();
    }

    Tensor<float> OursForward()
    {
        Tape<float>.Current.Reset();
        var h = x;
        for (int l = 0; l < Layers.Length; l++)
        {
            var L = Layers[l];
            bool last = l == Layers.Length - 1;
            h = L.T ? EngineOps.ConvTranspose2d(h, w[l], last ? lastBias : null, L.S, L.P)
                    : EngineOps.Conv2d(h, w[l], null, L.S, L.P);
            if (!last) h = EngineOps.BatchNorm(h, gamma[l], beta[l], runMean[l], runVar[l], training: true,
                leakySlope: Slope);
        }
        return h;
    }

    /// <summary>
    /// TorchSharp's conv layer l alone on a random input of its shape: (forward ms, forward + backward ms), mean of
    /// <paramref name="reps"/>.
    /// </summary>
    internal (double Forward, double Both) TorchLayer(int l, int reps, bool channelsLast = false)
    {
        var L = Layers[l];
        using var scope = NewDisposeScope();
        var input = torch.rand([Batch, L.Cin, L.In, L.In]);
        var weight = tw[l].detach();
        if (channelsLast) { input = ChannelsLast(input); weight = ChannelsLast(weight); }
        if (l > 0) input.requires_grad_();
        weight.requires_grad_();
        long[] s = [L.S, L.S], p = [L.P, L.P];
        TorchTensor Run() => L.T ? nn.functional.conv_transpose2d(input, weight, null, strides: s, padding: p)
                                 : nn.functional.conv2d(input, weight, null, strides: s, padding: p);
        var g = torch.rand(Run().shape);
        for (int i = 0; i < 2; i++) Run().backward([g]);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) Run();
        double fwd = sw.Elapsed.TotalMilliseconds / reps;
        sw.Restart();
        for (int i = 0; i < reps; i++) Run().backward([g]);
        return (fwd, sw.Elapsed.TotalMilliseconds / reps);
    }

    /// <summary>
    /// The same NCHW-shaped tensor with channels_last strides (TorchSharp has no memory_format argument).
    /// </summary>
    internal static TorchTensor ChannelsLast(TorchTensor t) => t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);

    /// <summary>
    /// Both sides' output and first-layer weight gradient after one step (C = 1 there, so NCHW and NHWC are the same
    /// memory): the largest differences, relative to the largest magnitude. Shows the two sides compute the same thing.
    /// </summary>
    internal (double Output, double Dw0) Agreement()
    {
        var ours = OursForward();
        var y = ours.ToArray();
        foreach (var p in w) p.ZeroGrad();
        ours.Backward(seed);
        var dw = w[0].Grad!.ToArray();
        using var scope = NewDisposeScope();
        foreach (var p in tParams) p.grad = null;
        var th = TorchForward(tx, tw);
        var ty = th.data<float>().ToArray();
        th.backward([tseed]);
        var tdw = tw[0].grad!.data<float>().ToArray();
        static double Rel(float[] a, float[] b) =>
            a.Zip(b, (p, q) => Math.Abs((double)p - q)).Max() / a.Max(v => Math.Abs((double)v));
        return (Rel(ty, y), Rel(tdw, dw));
    }

    sealed class Columns : ManualConfig
    {
        public Columns()
            => AddColumn(new RateColumn("GFLOP/s",
            "GEMM FLOP of the six layers' forward + backward / Mean (8.81 GFLOP at B = 256)",
            c => Flop(RateColumn.Param(c, "Batch"))));
    }
}
