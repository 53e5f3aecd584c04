using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Model;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// The adversarial divergence's pieces in float64 against central differences: the discriminator's loss with
/// respect to its weights and to both sets of samples, the generator loss with respect to z (and none at all to
/// the discriminator's weights, which it sees frozen), and the whole InfoVAE loss with the discriminator attached.
/// </summary>
public class DiscriminatorTests
{
    const int Z = 3, B = 4, M = 5;

    static Discriminator<double> Small(int seed = 7)
    {
        var d = new Discriminator<double>(Z, [6, 5], CpuBackend<double>.Instance);
        d.Params.Initialize(new TorchGenerator((ulong)seed));
        return d;
    }

    static Tensor<double> Samples(int rows, int seed) =>
        Tensor<double>.From(Rand.Normal(rows * Z, seed), new Shape(rows, Z));

    [Test]
    public void Layout_is_a_pytorch_sequential_of_linear_and_relu()
    {
        var d = new Discriminator<float>(32, [512, 512], CpuBackend<float>.Instance);
        Assert.That(d.Params.Layout.Select(e => $"{e.Name}{e.Shape}"), Is.EqualTo(new[]
        {
            "discriminator.0.weight(512, 32)", "discriminator.0.bias(512)", "discriminator.2.weight(512, 512)",
            "discriminator.2.bias(512)", "discriminator.4.weight(1, 512)", "discriminator.4.bias(1)",
        }));
        Assert.That(d.Params.Count, Is.EqualTo(32 * 512 + 512 + 512 * 512 + 512 + 512 + 1));
    }

    [Test]
    public void A_discriminator_that_cannot_tell_gives_the_losses_of_a_coin()
    {
        // All weights 0: every logit is 0, σ = ½: the discriminator's loss is 2·log 2, the generator's log 2.
        var d = Small();
        d.Params.All.CopyFrom(new double[d.Params.Count]);
        Assert.That(d.Loss(Samples(B, 1), Samples(M, 2)).Item(), Is.EqualTo(2 * Math.Log(2)).Within(1e-15));
        Assert.That(d.GeneratorLoss(Samples(B, 3)).Item(), Is.EqualTo(Math.Log(2)).Within(1e-15));
        Tape<double>.Current.Reset();
    }

    [Test]
    public void Discriminator_loss_gradient_matches_central_differences_for_its_weights()
    {
        var d = Small();
        var q = Samples(B, 1); var p = Samples(M, 2);
        var tape = Tape<double>.Current;
        tape.Reset();
        d.Params.ZeroGrad();
        d.Loss(q, p).Backward();
        tape.Reset();
        d.Params.MaterializeGrads();
        ModelGradCheck.Compare(d.Params, d.Params.AllGrad.ToArray(), () => d.Loss(q, p), "dDiscriminatorLoss/dWeights");
    }

    [Test]
    public void Discriminator_loss_gradient_matches_central_differences_for_both_samples()
    {
        var d = Small();
        GradCheck.Check(t => d.Loss(t[0], t[1]),
            GradCheck.In(Rand.Normal(B * Z, 1), B, Z), GradCheck.In(Rand.Normal(M * Z, 2), M, Z));
    }

    [Test]
    public void Generator_loss_gradient_matches_central_differences_for_z()
    {
        var d = Small();
        GradCheck.Check(t => d.GeneratorLoss(t[0]), GradCheck.In(Rand.Normal(B * Z, 4), B, Z));
    }

    [Test]
    public void Generator_loss_sends_no_gradient_to_the_frozen_discriminator()
    {
        var d = Small();
        var z = Tensor<double>.From(Rand.Normal(B * Z, 4), new Shape(B, Z), requiresGrad: true);
        var tape = Tape<double>.Current;
        tape.Reset();
        d.Params.ZeroGrad();
        d.GeneratorLoss(z).Backward();
        tape.Reset();
        d.Params.MaterializeGrads();
        Assert.That(d.Params.AllGrad.ToArray(), Is.All.EqualTo(0.0),
            "frozen: the generator's step must not move the discriminator");
        Assert.That(z.Grad!.ToArray(), Has.Some.Not.EqualTo(0.0), "z does get a gradient");
        // The loss does depend on the weights: the zero gradient is the freeze, not a dead network.
        var w = d.Params.All.ToArray();
        double before = d.GeneratorLoss(z).Item();
        w[0] += 0.1; d.Params.All.CopyFrom(w);
        Assert.That(d.GeneratorLoss(z).Item(), Is.Not.EqualTo(before));
        tape.Reset();
    }

    [Test]
    public void Whole_adversarial_infovae_loss_matches_central_differences()
    {
        // The VAE's gradients are those of the total (generator term through the frozen discriminator), the
        // discriminator's those of its own loss (z detached), from the one backward of a training step.
        var cfg = new TrainConfig
        {
            InputSize = 12, Hidden = [7, 5], Latent = Z, Alpha = 0.3, Lambda = 10, Beta = 1.5, Batch = B,
            Divergence = Divergence.Adversarial, DiscHidden = [6, 5],
        };
        var net = new InfoVaeNet<double>(cfg, CpuBackend<double>.Instance);
        var rng = new TorchGenerator(7);
        net.Params.Initialize(rng);
        net.Disc!.Params.Initialize(rng);
        var x = Tensor<double>.From(Rand.Uniform(B * 12, 1, 0, 1), new Shape(B, 12));
        var eps = Tensor<double>.From(Rand.Normal(B * Z, 2), new Shape(B, Z));
        var prior = Tensor<double>.From(Rand.Normal(M * Z, 3), new Shape(M, Z));
        ModelGradCheck.AllParameters(net, x, eps, prior);
    }
}
