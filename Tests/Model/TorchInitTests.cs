using InfoVae.Engine.Cpu;
using InfoVae.Model;
using InfoVae.Model.IO;

namespace InfoVae.Tests.Model;

/// <summary>Our initial weights are PyTorch's, bit for bit, for the same seed.</summary>
public class TorchInitTests
{
    [Test]
    public void Initial_weights_equal_the_pytorch_debug_states_bit_for_bit()
    {
        var f = SafeTensors.Read(Path.Combine(TestContext.CurrentContext.TestDirectory, "Data",
            "debug_state.safetensors"));
        var net = new InfoVaeNet<float>(new TrainConfig { Hidden = [128, 64], Latent = 8 }, CpuBackend<float>.Instance);
        net.Params.Initialize(ulong.Parse(f.GetMetadata("seed")));
        foreach (var (e, t) in net.Params.Layout.Zip(net.Params.Tensors))
            Assert.That(t.ToArray(), Is.EqualTo(f.Get(e.Name, DType.F32, e.Shape.ToArray()).As<float>()), e.Name);
    }

    // init_param_sum as the TorchSharp and PyTorch anchors print it for the canonical model (anchors/).
    [TestCase(0UL, 19.62928171971855)]
    [TestCase(1UL, 2.5446212522378104)]
    [TestCase(2UL, -13.121131101233015)]
    public void The_canonical_model_starts_where_the_anchors_start(ulong seed, double anchorSum)
    {
        var net = new InfoVaeNet<float>(new TrainConfig(), CpuBackend<float>.Instance);
        net.Params.Initialize(seed);
        double sum = net.Params.Tensors.Sum(t => t.ToArray().Sum(v => (double)v));
        Assert.That(sum, Is.EqualTo(anchorSum).Within(1e-9));
    }
}
