using InfoVae.Engine;
using InfoVae.Engine.Gpu;

namespace InfoVae.Tests.Engine;

/// <summary>
/// Detach() makes a caller-owned copy: a tape node's buffer goes back to the pool at Reset() and the next step
/// writes into it, so a detached tensor that still pointed there would change under its owner.
/// </summary>
public class DetachTests
{
    [SetUp] public void Clean() => Tape<float>.Current.Reset();
    [TearDown] public void After() => Tape<float>.Current.Reset();

    static void Survives(IBackend<float> be)
    {
        var tape = Tape<float>.Current;
        var x = Tensor<float>.From([1f, 2f, 3f, 4f, 5f, 6f], new Shape(2, 3), be, requiresGrad: true);
        var y = x * 2f;                                            // a tape node, pooled storage
        var kept = y.Detach();
        var row = y.Slice(1, 2).Detach();                          // a strided window: columns 1..2 of each row
        Assert.That((kept.RequiresGrad, kept.Grad, kept.Op), Is.EqualTo((false, (Tensor<float>?)null, "detach")));

        tape.Reset();
        var other = Tensor<float>.From([10f, 20f, 30f, 40f, 50f, 60f], new Shape(2, 3), be, requiresGrad: true);
        var z = other * 3f;                                        // the next step: the same size, the same pool
        var w = other.Slice(0, 2) * 5f;
        Assert.That(z.ToArray(), Is.EqualTo(new[] { 30f, 60f, 90f, 120f, 150f, 180f }));
        Assert.That(w.ToArray(), Is.EqualTo(new[] { 50f, 100f, 200f, 250f }));

        Assert.That(kept.ToArray(), Is.EqualTo(new[] { 2f, 4f, 6f, 8f, 10f, 12f }),
            "the detached values after the reset and the next step");
        Assert.That(row.Shape, Is.EqualTo(new Shape(2, 2)));
        Assert.That(row.ToArray(), Is.EqualTo(new[] { 4f, 6f, 10f, 12f }));
        kept.Dispose(); row.Dispose();
    }

    [Test]
    public void A_detached_tensor_survives_the_tape_reset_on_the_cpu() =>
        Survives(InfoVae.Engine.Cpu.CpuBackend<float>.Instance);

    [Test]
    public void A_detached_tensor_survives_the_tape_reset_on_ilgpu_cpu()
    {
        using var gpu = Devices.StartIlgpuCpu();
        Survives(gpu);
    }

    [Test]
    public void A_detached_scalar_is_a_copy_too()
    {
        var x = Tensor<float>.From([3f], new Shape(1), requiresGrad: true);
        var s = (x * x).Sum();
        var kept = s.Detach();
        Tape<float>.Current.Reset();
        _ = (Tensor<float>.From([7f], new Shape(1), requiresGrad: true) * 1f).Sum();
        Assert.That((kept.Shape, kept.Item()), Is.EqualTo((Shape.Scalar, 9f)));
    }
}
