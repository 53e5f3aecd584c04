using System.Numerics;
using InfoVae.Engine;

namespace InfoVae.Model;

/// <summary>
/// The latent discriminator of the adversarial divergence: an MLP Z → H1 → … → 1 (ReLU between layers; PyTorch's
/// nn.Sequential of Linear and ReLU named discriminator.0, .2, …) whose output is the logit that z came from p(z)
/// rather than from q(z). B = batch (q(z) samples), M = prior samples, Z = latent.
/// <para>
/// Its loss is GAN's binary cross-entropy, mean over q(z) samples of −log(1 − σ(D(z))) plus mean over p(z) samples
/// of −log σ(D(z)), written as softplus(D(z)) and softplus(−D(z)): at its optimum it equals 2·log 2 − 2·JS(q ‖ p)
/// (Goodfellow et al. 2014). The encoder gets the non-saturating generator loss, mean over q(z) samples of
/// −log σ(D(z)) = softplus(−D(z)) (Makhzani et al. 2015, adversarial autoencoders).
/// </para>
/// </summary>
public sealed class Discriminator<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public Parameters<T> Params { get; }
    /// <summary>The same weights without gradients: the generator's branch sees the discriminator frozen.</summary>
    readonly Tensor<T>[] frozen;
    readonly int layers;

    public Discriminator(int latent, int[] hidden, IBackend<T> backend)
    {
        Params = Parameters<T>.Mlp("discriminator", [latent, .. hidden, 1], backend);
        layers = hidden.Length + 1;
        frozen = Params.Layout.Select(e => Tensor<T>.View(Params.Values, e.Offset, e.Shape)).ToArray();
    }

    /// <summary>z (N, Z) → logits (N, 1); <paramref name="trainable"/> false reads the weights as constants.</summary>
    public Tensor<T> Logits(Tensor<T> z, bool trainable = true)
    {
        var w = trainable ? Params.Tensors : frozen;
        var h = z;
        for (int i = 0; i < layers; i++)
        {
            h = Ops.Linear(h, w[2 * i], w[2 * i + 1]);
            if (i < layers - 1) h = h.Relu();
        }
        return h;
    }

    /// <summary>
    /// The discriminator's loss on q(z) samples <paramref name="fromQ"/> (B, Z) and p(z) samples
    /// <paramref name="fromPrior"/> (M, Z): mean softplus(D(q)) + mean softplus(−D(p)). Gradients reach the
    /// discriminator's weights (and the samples, if they require them; the caller passes a detached z).
    /// </summary>
    public Tensor<T> Loss(Tensor<T> fromQ, Tensor<T> fromPrior)
    {
        var fake = Logits(fromQ).Softplus().Sum() * (T.One / T.CreateTruncating(fromQ.Shape[0]));
        var real = (-Logits(fromPrior)).Softplus().Sum() * (T.One / T.CreateTruncating(fromPrior.Shape[0]));
        return fake + real;
    }

    /// <summary>
    /// The non-saturating generator loss, mean softplus(−D(z)) over z (B, Z), through the frozen discriminator:
    /// gradients reach z only.
    /// </summary>
    public Tensor<T> GeneratorLoss(Tensor<T> z) =>
        (-Logits(z, trainable: false)).Softplus().Sum() * (T.One / T.CreateTruncating(z.Shape[0]));

    /// <summary>Adam on the discriminator's flat buffers; <paramref name="step"/> counts from 1.</summary>
    public void AdamStep(long step, TrainConfig config)
    {
        Params.MaterializeGrads();
        var p = Params;
        p.All.Backend.Adam(p.All, p.AllGrad, p.AllM, p.AllV, config.DiscLearningRate, config.Beta1, config.Beta2,
            config.AdamEps, step);
    }
}
