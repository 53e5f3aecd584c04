using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Gpu;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Engine.Gpu;

/// <summary>
/// A small conv → batch norm → leaky ReLU → conv-transpose block (the conv InfoVAE's layer pattern) through the
/// Engine's ops and tape on the ILGPU backend (ILGPU's CPU accelerator running the GPU kernels) against the CPU
/// backend, both float32: the output, every input and parameter gradient and the running statistics to 1e-4
/// relative, in training and in evaluation mode. Then a repeated step: no new device buffers, the same bits.
/// Shapes: x (2, 7, 6, 3); conv 3→4, k3 s2 p1 → (2, 4, 3, 4); convT 4→2, k4 s2 p1, output pad 1 → (2, 9, 7, 2).
/// </summary>
public class ConvOnIlgpuTests
{
    IlgpuBackend gpu = null!;

    [OneTimeSetUp] public void Up() => gpu = Devices.StartIlgpuCpu();

    [OneTimeTearDown]
    public void Down()
    {
        Tape<float>.Current.Reset();
        gpu.Dispose();
    }

    static readonly (string Name, int[] Shape, double Lo, double Hi)[] Inputs =
    [
        ("x", [2, 7, 6, 3], -1, 1),
        ("conv.w", [4, 3, 3, 3], -0.5, 0.5), ("conv.b", [4], -0.5, 0.5),
        ("bn.gamma", [4], 0.5, 1.5), ("bn.beta", [4], -0.5, 0.5),
        ("convT.w", [4, 4, 4, 2], -0.5, 0.5), ("convT.b", [2], -0.5, 0.5),
    ];

    sealed record Result(float[] Y, float[][] Grads, float[] RunningMean, float[] RunningVar);

    static Result Step(IBackend<float> be, bool training)
    {
        var tape = Tape<float>.Current;
        tape.Reset();
        var t = Inputs.Select((p, i) => Tensor<float>.From(Rand.UniformF(new Shape(p.Shape).Length, 80 + i, p.Lo, p.Hi),
            new Shape(p.Shape), be, requiresGrad: true)).ToArray();
        var rm = Tensor<float>.From(Rand.UniformF(4, 90, -0.2, 0.2), new Shape(4), be);
        var rv = Tensor<float>.From(Rand.UniformF(4, 91, 0.5, 1.5), new Shape(4), be);
        var h = Ops.Conv2d(t[0], t[1], t[2], stride: 2, pad: 1);
        h = Ops.BatchNorm(h, t[3], t[4], rm, rv, training).LeakyRelu(0.2);
        var y = Ops.ConvTranspose2d(h, t[5], t[6], stride: 2, pad: 1, outputPad: 1);
        var seed = Tensor<float>.From(Rand.UniformF(y.Length, 92), y.Shape, be);
        var output = y.ToArray();
        y.Backward(seed);
        var result = new Result(output, t.Select(l => l.Grad!.ToArray()).ToArray(), rm.ToArray(), rv.ToArray());
        tape.Reset();
        seed.Dispose(); rm.Dispose(); rv.Dispose();
        foreach (var l in t) { l.Grad?.Dispose(); l.Dispose(); }
        return result;
    }

    static void AssertClose(float[] expected, float[] actual, string label)
    {
        Assert.That(expected.Any(v => v != 0), $"{label}: the CPU result is all zero, the test would prove nothing");
        double scale = expected.Max(v => Math.Abs((double)v));
        Close.Assert<float, float>(expected, actual, 1e-4 * scale + 1e-7, 1e-4, label);
    }

    [TestCase(true)]
    [TestCase(false)]
    public void Conv_batchnorm_convT_forward_and_backward_match_the_cpu_backend(bool training)
    {
        var cpu = Step(CpuBackend<float>.Instance, training);
        var dev = Step(gpu, training);
        Assert.That(dev.Y.Length, Is.EqualTo(2 * 9 * 7 * 2), "output shape");
        AssertClose(cpu.Y, dev.Y, "y");
        for (int k = 0; k < Inputs.Length; k++)
        {
            if (training && Inputs[k].Name == "conv.b")
            {
                // Batch norm with batch statistics removes any per-channel constant: Σ_rows of its dx is 0, so the
                // conv bias gradient is rounding noise on both backends (≈ 5e-7), nothing to compare.
                Assert.That(cpu.Grads[k].Concat(dev.Grads[k]).Select(Math.Abs), Has.All.LessThan(1e-5f),
                    "dconv.b before training-mode batch norm");
                continue;
            }
            AssertClose(cpu.Grads[k], dev.Grads[k], "d" + Inputs[k].Name);
        }
        AssertClose(cpu.RunningMean, dev.RunningMean, "running mean");
        AssertClose(cpu.RunningVar, dev.RunningVar, "running var");
    }

    [Test]
    public void A_second_identical_step_allocates_no_device_memory_and_gives_the_same_bits()
    {
        var first = Step(gpu, training: true);
        long created = gpu.Pool.Created;
        int compiled = gpu.Kernels.LoadedCount;
        var second = Step(gpu, training: true);
        Assert.That(gpu.Pool.Created, Is.EqualTo(created), "the pool allocated again");
        Assert.That(gpu.Kernels.LoadedCount, Is.EqualTo(compiled), "a kernel was compiled again");
        Assert.That(second.Y, Is.EqualTo(first.Y), "y");
        for (int k = 0; k < first.Grads.Length; k++)
            Assert.That(second.Grads[k], Is.EqualTo(first.Grads[k]), "d" + Inputs[k].Name);
    }
}
