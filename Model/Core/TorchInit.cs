namespace InfoVae.Model;

/// <summary>
/// PyTorch's default nn.Linear (and nn.Conv2d, nn.ConvTranspose2d) initialisation, drawn exactly as
/// torch.manual_seed(seed) followed by building the layers in order would draw it, so a run's initial weights are
/// bit-identical to its PyTorch twin's: weight ~ kaiming_uniform_(a = √5) = U(±gain·√3/√fan_in), bias ~ U(±1/√fan_in),
/// each element one 32-bit draw of the CPU generator (<see cref="TorchGenerator"/>) turned into
/// (draw &amp; (2²⁴−1))·2⁻²⁴·(to − from) + from.
/// References: torch/nn/modules/linear.py reset_parameters, torch/nn/init.py kaiming_uniform_,
/// aten/src/ATen/core/DistributionsHelper.h uniform_real_distribution.
/// </summary>
public sealed class TorchInit
{
    readonly TorchGenerator rng;
    /// <summary>
    /// Draws from <paramref name="rng"/>, which goes on to the training noise afterwards, as torch's global generator
    /// does.
    /// </summary>
    public TorchInit(TorchGenerator rng) => this.rng = rng;

    /// <summary>Fills a Linear layer's weight (out × in) then its bias, as reset_parameters does.</summary>
    public void Linear(Span<float> weight, Span<float> bias, int fanIn)
    {
        KaimingUniform(weight, fanIn);
        FanInUniform(bias, fanIn);
    }

    /// <summary>
    /// kaiming_uniform_(w, a = √5) in PyTorch's layout: U(±gain·√3/√fan_in) = U(±1/√fan_in). Linear, Conv2d and
    /// ConvTranspose2d all use it; fan_in is weight.size(1)·KH·KW (for ConvTranspose2d that is Cout·KH·KW).
    /// </summary>
    public void KaimingUniform(Span<float> weight, int fanIn)
    {
        double gain = Math.Sqrt(2.0 / (1 + Math.Pow(Math.Sqrt(5.0), 2)));        // calculate_gain('leaky_relu', √5)
        double bound = Math.Sqrt(3.0) * (gain / Math.Sqrt(fanIn));
        rng.Uniform(weight, -bound, bound);
    }

    /// <summary>A bias: U(±1/√fan_in), fan_in of the layer's weight (0 when fan_in is 0).</summary>
    public void FanInUniform(Span<float> bias, int fanIn)
    {
        double b = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
        rng.Uniform(bias, -b, b);
    }
}
