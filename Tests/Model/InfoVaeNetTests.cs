using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Kernels.Cpu;
using InfoVae.Model;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>The whole InfoVAE loss, differentiated end to end, against central differences in float64.</summary>
public class InfoVaeNetTests
{
    static TrainConfig Small(ReconLoss recon = ReconLoss.Bernoulli, MmdKernel kernel = MmdKernel.Imq) => new()
    {
        InputSize = 12, Hidden = [7, 5], Latent = 3, Alpha = 0.3, Lambda = 10, Beta = 1.5, Recon = recon,
        Kernel = kernel, Batch = 4,
    };

    [TestCase(ReconLoss.Bernoulli, MmdKernel.Imq)]
    [TestCase(ReconLoss.Gaussian, MmdKernel.Rbf)]
    public void Every_parameter_gradient_matches_central_differences(ReconLoss recon, MmdKernel kernel)
    {
        var cfg = Small(recon, kernel);
        var net = new InfoVaeNet<double>(cfg, CpuBackend<double>.Instance);
        net.Params.Initialize(seed: 7);
        var x = Tensor<double>.From(Rand.Uniform(4 * 12, 1, 0, 1), new Shape(4, 12));
        var eps = Tensor<double>.From(Rand.Normal(4 * 3, 2), new Shape(4, 3));
        var prior = Tensor<double>.From(Rand.Normal(5 * 3, 3), new Shape(5, 3));
        ModelGradCheck.AllParameters(net, x, eps, prior);
    }

    [Test]
    public void Layout_names_and_shapes_follow_pytorch()
    {
        var net = new InfoVaeNet<float>(new TrainConfig(), CpuBackend<float>.Instance);
        var names = net.Params.Layout.Select(e => $"{e.Name}{e.Shape}").ToArray();
        Assert.That(names, Is.EqualTo(new[]
        {
            "encoder.0.weight(512, 784)", "encoder.0.bias(512)", "encoder.2.weight(256, 512)", "encoder.2.bias(256)",
            "encoder.4.weight(64, 256)", "encoder.4.bias(64)", "decoder.0.weight(256, 32)", "decoder.0.bias(256)",
            "decoder.2.weight(512, 256)", "decoder.2.bias(512)", "decoder.4.weight(784, 512)", "decoder.4.bias(784)",
        }));
        // 784·512+512 + 512·256+256 + 256·64+64 + 32·256+256 + 256·512+512 + 512·784+784
        Assert.That(net.Params.Count, Is.EqualTo(1_091_920));
    }

    [Test]
    public void Initialisation_is_uniform_within_one_over_root_fan_in_and_seeded()
    {
        var a = new InfoVaeNet<float>(new TrainConfig(), CpuBackend<float>.Instance);
        var b = new InfoVaeNet<float>(new TrainConfig(), CpuBackend<float>.Instance);
        a.Params.Initialize(3); b.Params.Initialize(3);
        Assert.That(a.Params.All.ToArray(), Is.EqualTo(b.Params.All.ToArray()));
        var w = a.Params["encoder.0.weight"].ToArray();
        double bound = 1 / Math.Sqrt(784);
        Assert.That(w.Max(), Is.LessThanOrEqualTo(bound).And.GreaterThan(0.98 * bound));
        Assert.That(w.Min(), Is.GreaterThanOrEqualTo(-bound).And.LessThan(-0.98 * bound));
        b.Params.Initialize(4);
        Assert.That(a.Params.All.ToArray(), Is.Not.EqualTo(b.Params.All.ToArray()));
    }
}
