namespace InfoVae.Model;

/// <summary>
/// PyTorch's default nn.Linear (and nn.Conv2d, nn.ConvTranspose2d) initialisation, drawn exactly as torch.manual_seed(seed) followed by building the
/// layers in order would draw it, so a run's initial weights are bit-identical to its PyTorch twin's:
/// weight ~ kaiming_uniform_(a = √5) = U(±gain·√3/√fan_in), bias ~ U(±1/√fan_in), each element one 32-bit draw of
/// the CPU generator (MT19937) turned into (draw &amp; (2²⁴−1))·2⁻²⁴·(to − from) + from (ATen's uniform_real).
/// References: torch/nn/modules/linear.py reset_parameters, torch/nn/init.py kaiming_uniform_,
/// aten/src/ATen/core/DistributionsHelper.h uniform_real_distribution, aten/src/ATen/core/MT19937RNGEngine.h.
/// </summary>
public sealed class TorchInit
{
    readonly Mt19937 rng;
    public TorchInit(ulong seed) => rng = new Mt19937((uint)seed);

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
        Uniform(weight, -bound, bound);
    }

    /// <summary>A bias: U(±1/√fan_in), fan_in of the layer's weight (0 when fan_in is 0).</summary>
    public void FanInUniform(Span<float> bias, int fanIn)
    {
        double b = fanIn > 0 ? 1 / Math.Sqrt(fanIn) : 0;
        Uniform(bias, -b, b);
    }

    void Uniform(Span<float> destination, double from, double to)
    {
        float f = (float)from, t = (float)to;          // uniform_ casts its bounds to the tensor's type first
        float range = t - f;
        for (int i = 0; i < destination.Length; i++)
        {
            double x = (rng.Next() & ((1u << 24) - 1)) * (1.0 / (1 << 24));
            destination[i] = (float)(x * range + f);
        }
    }

    /// <summary>The 32-bit Mersenne Twister (Matsumoto and Nishimura 1998), seeded with init_genrand like std::mt19937.</summary>
    sealed class Mt19937
    {
        const int N = 624, M = 397;
        readonly uint[] mt = new uint[N];
        int index = N;

        public Mt19937(uint seed)
        {
            mt[0] = seed;
            for (int i = 1; i < N; i++) mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + (uint)i;
        }

        public uint Next()
        {
            if (index >= N)
            {
                for (int i = 0; i < N; i++)
                {
                    uint y = (mt[i] & 0x80000000u) | (mt[(i + 1) % N] & 0x7fffffffu);
                    mt[i] = mt[(i + M) % N] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908b0dfu : 0u);
                }
                index = 0;
            }
            uint z = mt[index++];
            z ^= z >> 11;
            z ^= (z << 7) & 0x9d2c5680u;
            z ^= (z << 15) & 0xefc60000u;
            z ^= z >> 18;
            return z;
        }
    }
}
