using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Gpu;

namespace InfoVae.Tests.Engine;

/// <summary>
/// The tape's anomaly mode on the SIMD CPU backend and on the ILGPU backend (through ILGPU's CPU accelerator, which
/// runs the same kernel code a GPU does): the first op whose output is NaN or ±∞ is named with its shape, the
/// first backward function whose gradient is, likewise, and finite graphs pass untouched.
/// </summary>
[TestFixture("cpu")]
[TestFixture("ilgpu-cpu")]
public class AnomalyTests(string device)
{
    IBackend<float> be = null!;
    IlgpuBackend? gpu;
    static Tape<float> Tape => Tape<float>.Current;

    [OneTimeSetUp]
    public void Up() => be = device == "cpu" ? CpuBackend<float>.Instance
        : gpu = Devices.StartIlgpuCpu();

    [TearDown]
    public void Clean()
    {
        Tape.DetectAnomaly = false;
        Tape.Reset();
    }

    [OneTimeTearDown] public void Down() => gpu?.Dispose();

    Tensor<float> Leaf(float[] values, params int[] shape) => Tensor<float>.From(values, new Shape(shape), be,
        requiresGrad: true);

    [Test]
    public void AllFinite_finds_one_planted_nan_or_infinity_anywhere()
    {
        foreach (int n in new[] { 1, 7, 16, 33, 1000 })
            foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
                foreach (int at in new[] { 0, n / 2, n - 1 })
                {
                    var values = Enumerable.Range(0, n).Select(i => (float)Math.Sin(i) * 1e30f).ToArray();
                    var good = Tensor<float>.From(values, new Shape(n), be);
                    Assert.That(be.AllFinite(good), Is.True, $"n={n}: all finite");
                    values[at] = bad;
                    var t = Tensor<float>.From(values, new Shape(n), be);
                    Assert.That(be.AllFinite(t), Is.EqualTo(values.All(float.IsFinite)), $"n={n}: {bad} at {at}");
                    good.Dispose(); t.Dispose();
                }
        var extremes = Tensor<float>.From([float.MaxValue, float.MinValue, float.Epsilon, -0f, 0f], new Shape(5), be);
        Assert.That(be.AllFinite(extremes), Is.True, "the largest, smallest and denormal floats are finite");
        extremes.Dispose();
    }

    [Test]
    public void FlagNonFinite_queues_the_same_answer_into_a_scalar_that_reads_with_others()
    {
        // The trainer reads the gradients' flags with the loss terms in one ReadScalars (one wait per GPU step); a
        // flag left over from an earlier check must be cleared, so a set flag is reused for a finite tensor.
        var flag = Tensor<float>.From([7f], new Shape(1), be);
        var other = Tensor<float>.From([2.5f], new Shape(1), be);
        Span<float> read = stackalloc float[2];
        foreach (int n in new[] { 1, 33, 1000 })
            foreach (float bad in new[] { float.NaN, float.NegativeInfinity, 1f })
            {
                var values = Enumerable.Range(0, n).Select(i => (float)Math.Cos(i) * 1e30f).ToArray();
                values[n / 2] = bad;
                var t = Tensor<float>.From(values, new Shape(n), be);
                be.FlagNonFinite(t, flag);
                be.ReadScalars([other, flag], read);
                Assert.That(read[1], Is.EqualTo(float.IsFinite(bad) ? 0f : 1f), $"n={n}: {bad} at {n / 2}");
                Assert.That(read[0], Is.EqualTo(2.5f));
                t.Dispose();
            }
        flag.Dispose(); other.Dispose();
    }

    [Test]
    public void The_first_op_whose_output_overflows_is_named_with_its_shape()
    {
        Tape.DetectAnomaly = true;
        var x = Leaf([1, 2, 100, 3, 4, 5], 2, 3);
        var e = Assert.Throws<NonFiniteException>(() =>
        {
            var y = (x * 2f).Exp();       // exp(200) overflows float at element 2
            _ = y.Sum();                  // the check runs when the next op is recorded
        })!;
        Assert.That((e.Op, e.Shape, e.InBackward, e.Index, e.Value),
            Is.EqualTo(("exp", new Shape(2, 3), false, 2, double.PositiveInfinity)));
        Assert.That(e.Message, Does.Contain("op 'exp'").And.Contain("(2, 3)").And.Contain("element 2 is +∞"));
    }

    [Test]
    public void Without_anomaly_mode_the_same_graph_runs_on_to_an_infinite_loss()
    {
        var x = Leaf([1, 2, 100, 3, 4, 5], 2, 3);
        Assert.That((x * 2f).Exp().Sum().Item(), Is.EqualTo(float.PositiveInfinity));
    }

    [Test]
    public void A_nan_from_log_of_a_negative_number_is_named()
    {
        Tape.DetectAnomaly = true;
        var x = Leaf([1, -1, 2, 3], 4);
        var e = Assert.Throws<NonFiniteException>(() => { var l = (x * 3f).Log(); _ = l + l; })!;
        Assert.That((e.Op, e.Shape, e.Index, double.IsNaN(e.Value)), Is.EqualTo(("log", new Shape(4), 1, true)));
    }

    [Test]
    public void The_last_op_is_checked_by_CheckAnomalies()
    {
        Tape.DetectAnomaly = true;
        var x = Leaf([1, 90], 2);
        var y = x.Exp();                   // no later op records a node
        var e = Assert.Throws<NonFiniteException>(Tape.CheckAnomalies)!;
        Assert.That((e.Op, e.Index), Is.EqualTo(("exp", 1)));
        Assert.That(y.Op, Is.EqualTo("exp"));
    }

    [Test]
    public void Backward_names_the_op_whose_gradient_is_not_finite()
    {
        // sqrt(0) = 0 is finite, but its derivative 1/(2·sqrt(x)) at 0 is not.
        Tape.DetectAnomaly = true;
        var x = Leaf([4, 0, 1], 3);
        var loss = x.Sqrt().Sum();
        var e = Assert.Throws<NonFiniteException>(loss.Backward)!;
        Assert.That((e.Op, e.Shape, e.InBackward, e.Index), Is.EqualTo(("sqrt", new Shape(3), true, 1)));
        Assert.That(e.Message, Does.Contain("the backward of 'sqrt'"));
    }

    [Test]
    public void A_finite_graph_with_views_inputs_and_every_kind_of_op_passes()
    {
        Tape.DetectAnomaly = true;
        var x = Leaf(Enumerable.Range(0, 12).Select(i => i / 12f - 0.4f).ToArray(), 3, 4);
        var w = Leaf(Enumerable.Range(0, 8).Select(i => i / 8f - 0.5f).ToArray(), 2, 4);
        var input = Tape.Scratch(new Shape(3, 2), be);      // filled after it is made, as callers do
        input.CopyFrom([0, 1, 0.5f, 0.25f, 1, 0]);
        var h = Ops.Linear(x, w, null).Relu();
        var parts = Ops.Concat(1, h.Slice(0, 1), h.Slice(1, 1).Sigmoid(), input);
        var loss = (Ops.BceWithLogits(parts, parts.Sigmoid()).Sum() + parts.Reshape(12).Exp().Mean()).Tanh();
        Assert.DoesNotThrow(() => loss.Backward());
        Assert.That(float.IsFinite(loss.Item()) && x.Grad!.ToArray().All(float.IsFinite));
    }
}
