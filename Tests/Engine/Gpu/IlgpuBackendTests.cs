using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Gpu;
using InfoVae.Kernels.Cpu;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Engine.Gpu;

/// <summary>
/// The ILGPU backend on ILGPU's CPU accelerator against the SIMD CPU backend, through the Engine's ops and tape:
/// every op forward and backward, then a tiny VAE step (Linear, Relu, BceWithLogits, GaussianKl, Mmd) whose loss
/// and parameter gradients must agree to 1e-4 relative. Both run float32 on the same inputs.
/// </summary>
public class IlgpuBackendTests
{
    IlgpuBackend gpu = null!;
    static readonly CpuBackend<float> Cpu = CpuBackend<float>.Instance;

    [OneTimeSetUp] public void Up() => gpu = Devices.StartIlgpuCpu();

    [OneTimeTearDown]
    public void Down()
    {
        Tape<float>.Current.Reset();
        gpu.Dispose();
    }

    public sealed record In(float[] Data, int[] Shape);

    static In R(int seed, double lo, double hi, params int[] shape)
        => new(Rand.UniformF(new Shape(shape).Length, seed, lo, hi), shape);
    static In U(int seed, params int[] shape) => R(seed, -1, 1, shape);

    /// <summary>
    /// f on fresh leaves of <paramref name="be"/>, backward from a fixed random seed gradient: (output, input
    /// gradients).
    /// </summary>
    static (float[] Out, float[][] Grads) Run(IBackend<float> be, Func<Tensor<float>[], Tensor<float>> f, In[] inputs)
    {
        var tape = Tape<float>.Current;
        tape.Reset();
        var leaves =
            inputs.Select(i => Tensor<float>.From(i.Data, new Shape(i.Shape), be, requiresGrad: true)).ToArray();
        var y = f(leaves);
        var seed = Tensor<float>.From(Rand.UniformF(y.Length, 999), y.Shape, be);
        var output = y.ToArray();
        y.Backward(seed);
        var grads = leaves.Select(l => l.Grad?.ToArray() ?? new float[l.Length]).ToArray();
        tape.Reset();
        seed.Dispose();
        foreach (var l in leaves) { l.Grad?.Dispose(); l.Dispose(); }
        return (output, grads);
    }

    static void AssertClose(float[] expected, float[] actual, string label)
    {
        // 1e-4 relative, with the absolute floor set by the tensor's scale (sums of float products differ in order).
        double scale = expected.Length == 0 ? 0 : expected.Max(v => Math.Abs((double)v));
        Close.Assert<float, float>(expected, actual, 1e-4 * scale + 1e-7, 1e-4, label);
    }

    static void Same(IBackend<float> gpu, Func<Tensor<float>[], Tensor<float>> f, params In[] inputs)
    {
        var (yc, gc) = Run(Cpu, f, inputs);
        var (yg, gg) = Run(gpu, f, inputs);
        AssertClose(yc, yg, "output");
        for (int k = 0; k < gc.Length; k++) AssertClose(gc[k], gg[k], $"gradient of input {k}");
    }

    static IEnumerable<TestCaseData> Ops()
    {
        TestCaseData C(string name, Func<Tensor<float>[], Tensor<float>> f, params In[] inputs)
            => new TestCaseData(f, inputs).SetArgDisplayNames(name);
        yield return C("add", t => t[0] + t[1], U(1, 3, 5), U(2, 3, 5));
        yield return C("add bias row", t => t[0] + t[1], U(1, 7, 3), U(2, 3));
        yield return C("add rank 3 column", t => t[0] + t[1], U(1, 2, 3, 5), U(2, 2, 3, 1));
        yield return C("sub broadcast", t => t[0] - t[1], U(3, 5), U(4, 7, 5));
        yield return C("mul broadcast", t => t[0] * t[1], U(5, 3, 1), U(6, 1, 3, 4));
        yield return C("div", t => t[0] / t[1], U(7, 13), R(8, 0.5, 2, 13));
        yield return C("div broadcast", t => t[0] / t[1], U(7, 3, 5), R(8, 0.5, 2, 5));
        yield return C("neg", t => -t[0], U(9, 11));
        yield return C("add scalar", t => t[0] + 2.5f, U(9, 11));
        yield return C("mul scalar", t => t[0] * -1.75f, U(9, 11));
        yield return C("exp", t => t[0].Exp(), U(10, 37));
        yield return C("log", t => t[0].Log(), R(11, 0.2, 3, 37));
        yield return C("sqrt", t => t[0].Sqrt(), R(12, 0.2, 3, 37));
        yield return C("relu", t => t[0].Relu(), U(13, 37));
        yield return C("leaky relu", t => t[0].LeakyRelu(0.2), U(14, 37));
        yield return C("sigmoid", t => t[0].Sigmoid(), R(15, -4, 4, 37));
        yield return C("tanh", t => t[0].Tanh(), R(16, -3, 3, 37));
        yield return C("softplus", t => t[0].Softplus(), R(17, -8, 8, 37));
        yield return C("sum all", t => t[0].Sum(), U(18, 3, 7));
        yield return C("sum axis 0", t => t[0].Sum(0), U(19, 3, 7));
        yield return C("sum last axis", t => t[0].Sum(-1), U(20, 2, 3, 5));
        yield return C("mean middle axis", t => t[0].Mean(1), U(21, 2, 3, 5));
        foreach (bool ta in new[] { false, true })
            foreach (bool tb in new[] { false, true })
                yield return C($"matmul {(ta ? "Aᵀ" : "A")}{(tb ? "Bᵀ" : "B")}",
                    t => InfoVae.Engine.Ops.Matmul(t[0], t[1], ta, tb),
                    U(23, ta ? [7, 5] : [5, 7]), U(24, tb ? [3, 7] : [7, 3]));
        yield return C("linear", t => InfoVae.Engine.Ops.Linear(t[0], t[1], t[2]), U(25, 4, 9), U(26, 5, 9), U(27, 5));
        yield return C("linear without bias", t => InfoVae.Engine.Ops.Linear(t[0], t[1], null),
            U(25, 4, 9), U(26, 5, 9));
        // (N, H, W, C) images, channels-last weights: conv (OC, KH, KW, C), conv-transpose (C, KH, KW, OC).
        yield return C("conv without bias", t => InfoVae.Engine.Ops.Conv2d(t[0], t[1], null, stride: 2, pad: 1),
            U(48, 2, 7, 6, 3), U(49, 4, 3, 3, 3));
        yield return C("conv with bias", t => InfoVae.Engine.Ops.Conv2d(t[0], t[1], t[2], stride: 1, pad: 0),
            U(48, 2, 5, 4, 3), U(49, 2, 2, 2, 3), U(50, 2));
        yield return C("conv transpose without bias", t => InfoVae.Engine.Ops.ConvTranspose2d(t[0], t[1], null,
            stride: 2, pad: 1, outputPad: 1),
            U(51, 2, 3, 4, 4), U(52, 4, 4, 4, 2));
        yield return C("transpose", t => t[0].Transpose(), U(28, 3, 5));
        yield return C("reshape", t => t[0].Reshape(5, 3) * t[1], U(29, 3, 5), U(30, 5, 3));
        yield return C("slice", t => t[0].Slice(2, 3) * t[0].Slice(0, 3), U(31, 4, 5));
        yield return C("concat last axis", t => InfoVae.Engine.Ops.Concat(-1, t[0], t[1], t[2]), U(32, 3, 2),
            U(33, 3, 1), U(34, 3, 4));
        yield return C("concat middle axis", t => InfoVae.Engine.Ops.Concat(1, t[0], t[1]), U(35, 2, 2, 3),
            U(36, 2, 1, 3));
        yield return C("concat axis 0", t => InfoVae.Engine.Ops.Concat(0, t[0], t[1], t[2]),
            U(35, 2, 3), U(36, 1, 3), U(37, 3, 3));
        yield return C("concat axis 0 of one tensor with itself", t => InfoVae.Engine.Ops.Concat(0, t[0], t[0]),
            U(38, 2, 3));
        yield return C("bce with logits", t => InfoVae.Engine.Ops.BceWithLogits(t[0], t[1]), R(37, -6, 6, 23),
            R(38, 0, 1, 23));
        yield return C("gaussian kl", t => InfoVae.Engine.Ops.GaussianKl(t[0], t[1]), U(39, 3, 5), R(40, -2, 1, 3, 5));
        yield return C("softmax cross-entropy", t => InfoVae.Engine.Ops.SoftmaxCrossEntropy(t[0], t[1]),
            R(48, -3, 3, 4, 10), R(49, 0, 1, 4, 10));
        yield return C("squared distance", t => InfoVae.Engine.Ops.SquaredDistance(t[0], t[1]), U(41, 5, 3),
            U(42, 7, 3));
        yield return C("squared distance to itself", t => InfoVae.Engine.Ops.SquaredDistance(t[0], t[0]), U(43, 6, 3));
        yield return C("mmd of a tensor with itself plus a shift",
            t => InfoVae.Engine.Ops.Mmd(t[0], t[0] + t[1], MmdSpec.Default), R(44, -2, 2, 6, 3), U(45, 6, 3));
        yield return C("mmd of a tensor with itself (unbiased: not 0)",
            t => InfoVae.Engine.Ops.Mmd(t[0], t[0], MmdSpec.Default), R(44, -2, 2, 6, 3));
        yield return C("mmd imq unbiased", t => InfoVae.Engine.Ops.Mmd(t[0], t[1], MmdSpec.Default), R(44, -2, 2, 6, 3),
            U(45, 7, 3));
        yield return C("mmd rbf biased",
            t => InfoVae.Engine.Ops.Mmd(t[0], t[1], new MmdSpec(MmdKernel.Rbf, [0.5, 2], Unbiased: false)),
            R(46, -2, 2, 5, 4), U(47, 3, 4));
    }

    [TestCaseSource(nameof(Ops))]
    public void Op_matches_the_cpu_backend(Func<Tensor<float>[], Tensor<float>> f, In[] inputs) => Same(gpu, f, inputs);

    /// <summary>
    /// A VAE step in miniature: B = 6, D = 7, H = 5, Z = 2; the MMD is between the codes and prior draws.
    /// </summary>
    static Tensor<float> TinyVaeLoss(IBackend<float> be, Tensor<float>[] p, Tensor<float> x)
    {
        const int B = 6, Z = 2;
        var h = InfoVae.Engine.Ops.Linear(x, p[0], p[1]).Relu();
        var enc = InfoVae.Engine.Ops.Linear(h, p[2], p[3]);
        Tensor<float> mu = enc.Slice(0, Z), logvar = enc.Slice(Z, Z);
        var eps = InfoVae.Engine.Ops.Normal<float>(new Shape(B, Z), key: 7, counter: 0, be);
        var z = mu + eps * (logvar * 0.5f).Exp();
        var logits = InfoVae.Engine.Ops.Linear(z, p[4], p[5]);
        var recon = InfoVae.Engine.Ops.BceWithLogits(logits, x).Sum() * (1f / B);
        var kl = InfoVae.Engine.Ops.GaussianKl(mu, logvar).Mean();
        var prior = InfoVae.Engine.Ops.Normal<float>(new Shape(B, Z), key: 7, counter: 100, be);
        var mmd = InfoVae.Engine.Ops.Mmd(z, prior, MmdSpec.Default);
        return recon + kl + mmd * 10f;
    }

    static readonly int[][] ParamShapes = [[5, 7], [5], [4, 5], [4], [7, 2], [7]];

    (float Loss, float[][] Grads) VaeStep(IBackend<float> be)
    {
        var tape = Tape<float>.Current;
        tape.Reset();
        var ps = ParamShapes.Select((s, i) => Tensor<float>.From(Rand.UniformF(new Shape(s).Length, 60 + i, -0.6, 0.6),
            new Shape(s), be, requiresGrad: true)).ToArray();
        var x = Tensor<float>.From(Rand.UniformF(6 * 7, 70, 0, 1), new Shape(6, 7), be);
        var loss = TinyVaeLoss(be, ps, x);
        float value = loss.Item();
        loss.Backward();
        var grads = ps.Select(p => p.Grad!.ToArray()).ToArray();
        tape.Reset();
        foreach (var p in ps) { p.Grad?.Dispose(); p.Dispose(); }
        x.Dispose();
        return (value, grads);
    }

    [Test]
    public void Tiny_vae_step_loss_and_gradients_match_the_cpu_backend()
    {
        var (lc, gc) = VaeStep(Cpu);
        var (lg, gg) = VaeStep(gpu);
        Assert.That(lg, Is.EqualTo(lc).Within(1e-4 * Math.Abs(lc)), "loss");
        string[] names = ["enc1.w", "enc1.b", "enc2.w", "enc2.b", "dec.w", "dec.b"];
        for (int k = 0; k < gc.Length; k++)
        {
            Assert.That(gc[k].Any(v => v != 0),
                $"{names[k]}: the CPU gradient is all zero, the test would prove nothing");
            AssertClose(gc[k], gg[k], names[k]);
        }
    }

    [Test]
    public void A_second_identical_step_allocates_no_device_memory_and_gives_the_same_bits()
    {
        var first = VaeStep(gpu);
        long created = gpu.Pool.Created;
        int compiled = gpu.Kernels.LoadedCount;
        var second = VaeStep(gpu);
        Assert.That(gpu.Pool.Created, Is.EqualTo(created), "the pool allocated again");
        Assert.That(gpu.Kernels.LoadedCount, Is.EqualTo(compiled), "a kernel was compiled again");
        Assert.That(second.Loss, Is.EqualTo(first.Loss));
        for (int k = 0; k < first.Grads.Length; k++)
            Assert.That(second.Grads[k], Is.EqualTo(first.Grads[k]), $"gradient {k}");
    }

    [Test]
    public void Small_uploads_queue_without_waiting_until_the_staging_is_full_and_the_caller_may_reuse_its_array()
    {
        // Eight uploads of 10,000 floats from one reused array, no read in between: the first six fit the 65,536
        // floats of page-locked staging without a wait; the seventh must wait (the staging is reused only after the
        // stream is synchronised), and it waits once. Every tensor holds what the array held at its upload.
        var host = new float[10_000];
        var tensors = new Tensor<float>[8];
        for (int i = 0; i < tensors.Length; i++) tensors[i] = Tensor<float>.Zeros(new Shape(host.Length), gpu);
        gpu.Download(tensors[0], host);   // start from a synchronised, empty staging
        long syncs = gpu.Syncs;
        for (int i = 0; i < tensors.Length; i++)
        {
            Array.Fill(host, i + 0.5f);
            tensors[i].CopyFrom(host);
            if (i < 6) Assert.That(gpu.Syncs, Is.EqualTo(syncs), $"upload {i} waited");
        }
        Assert.That(gpu.Syncs, Is.EqualTo(syncs + 1), "one wait when the staging wrapped");
        for (int i = 0; i < tensors.Length; i++)
        {
            Assert.That(tensors[i].ToArray(), Is.All.EqualTo(i + 0.5f), $"tensor {i}");
            tensors[i].Dispose();
        }
    }

    [Test]
    public void Kept_rows_are_uploaded_once_and_gathered_by_index()
    {
        var data = Rand.UniformF(9 * 5, 77);
        var rows = gpu.KeepRows(data, 5);
        Assert.That(gpu.KeepRows(data, 5), Is.SameAs(rows), "the same array is kept once");
        var batch = Tensor<float>.Zeros(new Shape(4, 5), gpu);
        long bytes = gpu.UploadedBytes;
        rows.Gather([8, 0, 8, 3], batch);
        Assert.That(gpu.UploadedBytes - bytes, Is.EqualTo(4 * sizeof(int)), "a gather uploads its indices only");
        var expected = new[] { 8, 0, 8, 3 }.SelectMany(r => data.Skip(r * 5).Take(5)).ToArray();
        Assert.That(batch.ToArray(), Is.EqualTo(expected));
        Assert.That(() => rows.Gather([9], Tensor<float>.Zeros(new Shape(1, 5), gpu)),
            Throws.InstanceOf<ArgumentOutOfRangeException>());
        batch.Dispose();
    }

    [Test]
    public void A_nan_gradient_flows_through_relu_the_same_on_both_backends()
    {
        // relu(x) · w with w = NaN where x < 0: dx is 0·NaN = NaN there on the CPU, and now on the GPU too.
        In x = new([-1f, 2f, -3f, 0.5f], [4]), w = new([float.NaN, 1f, float.NaN, 2f], [4]);
        var (_, gc) = Run(Cpu, t => t[0].Relu() * t[1], [x, w]);
        var (_, gg) = Run(gpu, t => t[0].Relu() * t[1], [x, w]);
        Assert.That(gc[0].Select(float.IsNaN), Is.EqualTo(new[] { true, false, true, false }), "CPU");
        Assert.That(gg[0].Select(float.IsNaN), Is.EqualTo(gc[0].Select(float.IsNaN)), "GPU like the CPU");
    }

    [Test]
    public void Device_names_parse_and_unknown_ones_are_refused()
    {
        Assert.That(Devices.Parse("auto"), Is.EqualTo(DeviceKind.Auto));
        Assert.That(Devices.Parse("CPU"), Is.EqualTo(DeviceKind.Cpu));
        Assert.That(Devices.Parse("cuda"), Is.EqualTo(DeviceKind.Cuda));
        Assert.That(Devices.Parse("ilgpu-cpu"), Is.EqualTo(DeviceKind.IlgpuCpu));
        Assert.That(() => Devices.Parse("tpu"), Throws.ArgumentException.With.Message.Contains(Devices.Names));
    }

    [Test]
    public void Cuda_that_cannot_start_says_so_in_one_line_and_auto_falls_back_to_cpu()
    {
        IlgpuBackend? cuda = null;
        try { cuda = Devices.StartCuda(); }
        catch (DeviceUnavailableException e)
        {
            Assert.That(e.Message, Does.StartWith("cuda: "));
            Assert.That(e.Message, Does.Not.Contain("\n"));
            Assert.That(Devices.Create(DeviceKind.Auto), Is.SameAs(CpuBackend<float>.Instance));
            return;
        }
        cuda.Dispose();
        Assert.Ignore("CUDA started on this machine; the failure path is not reachable here");
    }
}
