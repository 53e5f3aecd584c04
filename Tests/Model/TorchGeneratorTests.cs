using InfoVae.Model;
using InfoVae.Model.IO;

namespace InfoVae.Tests.Model;

/// <summary>
/// TorchGenerator against PyTorch's own draws (Tests/Data/make_torch_rng.py, ATen's AVX2 kernels, which libtorch 2.10
/// shares): uniform_, randn with and without a tail and randperm twice in a row must agree bit for bit, in the order a
/// run draws them.
/// </summary>
public class TorchGeneratorTests
{
    static readonly SafeTensorsFile File =
        SafeTensors.Read(Path.Combine(TestContext.CurrentContext.TestDirectory, "Data", "torch_rng.safetensors"));

    static float[] F32(string name, int length) => File.Get(name, DType.F32, length).As<float>();

    [Test]
    public void Uniform_then_randn_match_the_global_generator_after_manual_seed()
    {
        var g = new TorchGenerator(7);
        var uniform = new float[300];
        g.Uniform(uniform, -0.3, 0.3);
        var randn = new float[1000];
        g.Normal(randn);
        var batch = new float[256 * 32];
        g.Normal(batch);
        var small = new float[16];
        g.Normal(small.AsSpan(0, 5)); g.Normal(small.AsSpan(5, 3)); g.Normal(small.AsSpan(8, 8));
        var afterSmall = new float[32];
        g.Normal(afterSmall);
        Assert.Multiple(() =>
        {
            Assert.That(uniform, Is.EqualTo(F32("uniform", 300)), "uniform_(-0.3, 0.3)");
            Assert.That(randn, Is.EqualTo(F32("randn", 1000)), "randn(1000): 62 blocks of 16 and a redrawn tail");
            Assert.That(batch, Is.EqualTo(F32("randn16", 256 * 32)), "randn(256, 32) drawn after the others");
            Assert.That(small, Is.EqualTo(F32("small", 16)),
                "randn(5), randn(3), randn(2, 4): the serial path with its cached normal");
            Assert.That(afterSmall, Is.EqualTo(F32("after_small", 32)), "randn(32) after the serial path");
        });
    }

    [Test]
    public void Randperm_twice_from_one_generator_matches()
    {
        var g = new TorchGenerator(3);
        var perm = new int[1000];
        foreach (var name in new[] { "perm1", "perm2" })
        {
            g.Randperm(perm);
            var expected = Array.ConvertAll(File.Get(name, DType.F64, 1000).As<double>(), d => (int)d);
            Assert.That(perm, Is.EqualTo(expected), name);
        }
    }

    [Test]
    public void A_restored_state_continues_the_same_stream()
    {
        var g = new TorchGenerator(11);
        var skip = new float[700];
        g.Normal(skip);                                   // cross a twist boundary (624 words) before saving
        g.Normal(new float[3]);                           // and leave a cached normal behind
        var state = new uint[TorchGenerator.StateLength];
        g.SaveState(state);
        var expected = new float[49];
        g.Normal(expected.AsSpan(0, 1)); g.Normal(expected.AsSpan(1));
        var h = new TorchGenerator(0);
        h.RestoreState(state);
        var actual = new float[49];
        h.Normal(actual.AsSpan(0, 1)); h.Normal(actual.AsSpan(1));
        Assert.That(actual, Is.EqualTo(expected));
    }

    [Test]
    public void Refuses_what_it_does_not_reproduce()
    {
        var g = new TorchGenerator(0);
        Assert.Throws<ArgumentException>(() => g.RestoreState(new uint[10]));
        // an index past the engine's words
        var bad = new uint[TorchGenerator.StateLength]; bad[624] = 625;
        Assert.Throws<ArgumentException>(() => g.RestoreState(bad));
    }

    [Test]
    public void The_vector_box_muller_equals_the_lane_by_lane_one()
    {
        var g = new TorchGenerator(5);
        var a = new float[16 * 4096];
        for (int i = 0; i < a.Length; i++) a[i] = g.NextUnit();
        // The extremes of the 24-bit uniforms: u1 = 1 − 0 (log 1 = 0) and u = 1 − 2⁻²⁴, and angles at the octant edges.
        float[] edges = [0f, 1f - 1f / (1 << 24), 0.125f, 0.25f, 0.375f, 0.5f, 0.625f, 0.75f, 0.875f, 1f / (1 << 24)];
        for (int i = 0; i < edges.Length; i++)
        {
            a[i] = edges[i];
            a[16 + 8 + i % 8] = edges[i];
            a[32 + i] = edges[^(i + 1)];
        }
        var b = (float[])a.Clone();
        for (int i = 0; i < a.Length; i += 16)
        {
            TorchBoxMuller.Block16Vector(a.AsSpan(i, 16));
            TorchBoxMuller.Block16Scalar(b.AsSpan(i, 16));
        }
        Assert.That(Array.ConvertAll(a, BitConverter.SingleToInt32Bits),
            Is.EqualTo(Array.ConvertAll(b, BitConverter.SingleToInt32Bits)));
    }
}
