using System.Runtime.Intrinsics;

namespace InfoVae.Model;

/// <summary>
/// PyTorch's CPU generator (CPUGeneratorImpl: a 32-bit MT19937) and the three draws a training run makes from it —
/// uniform_, randn and randperm — reproduced draw for draw, so a run and its PyTorch twin with the same seed see the
/// same initial weights, the same data order and the same noise, and differ only by floating-point rounding.
/// That turns "ours vs PyTorch from seed s" into one comparison instead of two independent samples of the seed
/// lottery. randn follows ATen's normal_fill_AVX2 (Box-Muller on blocks of 16 with avx_mathfun's log and sincos), the
/// kernel libtorch 2.10 (TorchSharp) and Debian's torch 1.13 run on this machine; ATen's scalar fallback, used on CPUs
/// without AVX2, differs from it in the last bits.
/// References: aten/src/ATen/core/MT19937RNGEngine.h, aten/src/ATen/core/DistributionsHelper.h,
/// aten/src/ATen/native/cpu/DistributionTemplates.h (normal_fill, normal_fill_16),
/// aten/src/ATen/native/TensorFactories.cpp (randperm_cpu).
/// </summary>
public sealed class TorchGenerator
{
    const int N = 624, M = 397;
    /// <summary>
    /// The engine's words, the index of the next one to temper, and the cached second normal (flag, 64 bits).
    /// </summary>
    public const int StateLength = N + 4;

    readonly uint[] mt = new uint[N];
    int index = N;
    /// <summary>
    /// Box-Muller makes normals in pairs; the serial path keeps the second for the next call
    /// (next_double_normal_sample).
    /// </summary>
    double cachedNormal;
    bool hasCachedNormal;

    /// <summary>
    /// torch.manual_seed(seed) / torch.Generator().manual_seed(seed): init_genrand with the low 32 bits.
    /// </summary>
    public TorchGenerator(ulong seed)
    {
        mt[0] = (uint)seed;
        for (int i = 1; i < N; i++) mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + (uint)i;
    }

    /// <summary>One 32-bit draw (CPUGeneratorImpl::random).</summary>
    public uint Next()
    {
        if (index >= N) Twist();
        return Temper(mt[index++]);
    }

    static uint Temper(uint z)
    {
        z ^= z >> 11;
        z ^= (z << 7) & 0x9d2c5680u;
        z ^= (z << 15) & 0xefc60000u;
        return z ^ (z >> 18);
    }

    static Vector256<uint> Temper(Vector256<uint> z)
    {
        z ^= Vector256.ShiftRightLogical(z, 11);
        z ^= Vector256.ShiftLeft(z, 7) & Vector256.Create(0x9d2c5680u);
        z ^= Vector256.ShiftLeft(z, 15) & Vector256.Create(0xefc60000u);
        return z ^ Vector256.ShiftRightLogical(z, 18);
    }

    void Twist()
    {
        static uint Mix(uint upper, uint lower, uint far)
        {
            uint y = (upper & 0x80000000u) | (lower & 0x7fffffffu);
            return far ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908b0dfu : 0u);
        }
        // The three ranges of i where i + 1 and i + M wrap differently, so no modulo in the loop.
        int i = 0;
        for (; i < N - M; i++) mt[i] = Mix(mt[i], mt[i + 1], mt[i + M]);
        for (; i < N - 1; i++) mt[i] = Mix(mt[i], mt[i + 1], mt[i + M - N]);
        mt[N - 1] = Mix(mt[N - 1], mt[0], mt[M - 1]);
        index = 0;
    }

    /// <summary>destination[i] = NextUnit() for every i, tempering 8 words at a time.</summary>
    void FillUnits(Span<float> destination)
    {
        const float Scale = 1.0f / (1 << 24);
        int done = 0;
        while (done < destination.Length)
        {
            if (index >= N) Twist();
            int take = Math.Min(N - index, destination.Length - done), k = 0;
            var words = mt.AsSpan(index, take);
            var into = destination.Slice(done, take);
            for (; k + 8 <= take; k += 8)
            {
                var z = Temper(Vector256.Create<uint>(words[k..])) & Vector256.Create((1u << 24) - 1);
                (Vector256.ConvertToSingle(z.AsInt32()) * Scale).CopyTo(into[k..]);
            }
            for (; k < take; k++) into[k] = (Temper(words[k]) & ((1u << 24) - 1)) * Scale;
            index += take; done += take;
        }
    }

    /// <summary>CPUGeneratorImpl::random64: two draws, the first in the high half.</summary>
    ulong Next64() { ulong hi = Next(); return hi << 32 | Next(); }

    /// <summary>
    /// uniform_real_distribution&lt;float&gt;(0, 1): 24 random bits scaled to [0, 1), exact in float.
    /// </summary>
    public float NextUnit() => (Next() & ((1u << 24) - 1)) * (1.0f / (1 << 24));

    /// <summary>
    /// tensor.uniform_(from, to) on a float tensor: the bounds are cast to float first, the arithmetic is double.
    /// </summary>
    public void Uniform(Span<float> destination, double from, double to)
    {
        float f = (float)from, range = (float)to - f;
        for (int i = 0; i < destination.Length; i++)
            destination[i] = (float)((Next() & ((1u << 24) - 1)) * (1.0 / (1 << 24)) * range + f);
    }

    /// <summary>
    /// torch.randn into a contiguous float tensor: every element gets a uniform, then each block of 16 becomes 16
    /// normals by Box-Muller (element j pairs with j + 8); a length that is not a multiple of 16 redraws and
    /// recomputes the last 16. Under 16 elements ATen goes element by element through
    /// normal_distribution&lt;double&gt;.
    /// </summary>
    public void Normal(Span<float> destination)
    {
        int n = destination.Length;
        if (n < 16)
        {
            for (int i = 0; i < n; i++) destination[i] = (float)NormalDouble();
            return;
        }
        FillUnits(destination);
        TorchBoxMuller.Blocks(destination[..(n / 16 * 16)]);
        if (n % 16 != 0)
        {
            var tail = destination[(n - 16)..];
            FillUnits(tail);
            TorchBoxMuller.Blocks(tail);
        }
    }

    /// <summary>
    /// normal_distribution&lt;double&gt;: a cached second value, or a new pair from two 53-bit uniforms.
    /// </summary>
    double NormalDouble()
    {
        if (hasCachedNormal) { hasCachedNormal = false; return cachedNormal; }
        double u1 = (Next64() & ((1UL << 53) - 1)) * (1.0 / (1UL << 53));
        double u2 = (Next64() & ((1UL << 53) - 1)) * (1.0 / (1UL << 53));
        double r = Math.Sqrt(-2.0 * Log1p(-u2));
        double theta = 2.0 * Math.PI * u1;
        cachedNormal = r * Math.Sin(theta); hasCachedNormal = true;
        return r * Math.Cos(theta);
    }

    /// <summary>
    /// log(1 + x) without losing x's digits when 1 + x rounds (Goldberg's trick); .NET has no libm log1p.
    /// </summary>
    static double Log1p(double x)
    {
        double u = 1 + x;
        return u == 1 ? x : Math.Log(u) * x / (u - 1);
    }

    /// <summary>
    /// torch.randperm(n) for n below 2³²/20: the identity, then swap i with i + random() mod (n − i).
    /// </summary>
    public void Randperm(Span<int> order)
    {
        int n = order.Length;
        if ((long)n >= uint.MaxValue / 20)
            throw new ArgumentException($"randperm of {n} elements takes ATen's 64-bit path, which is not reproduced");
        for (int i = 0; i < n; i++) order[i] = i;
        for (int i = 0; i < n - 1; i++)
        {
            int z = (int)(Next() % (uint)(n - i));
            (order[i], order[z + i]) = (order[z + i], order[i]);
        }
    }

    public void SaveState(Span<uint> state)
    {
        mt.CopyTo(state);
        state[N] = (uint)index;
        state[N + 1] = hasCachedNormal ? 1u : 0u;
        ulong bits = (ulong)BitConverter.DoubleToInt64Bits(cachedNormal);
        (state[N + 2], state[N + 3]) = ((uint)bits, (uint)(bits >> 32));
    }

    public void RestoreState(ReadOnlySpan<uint> state)
    {
        if (state.Length != StateLength || state[N] > N || state[N + 1] > 1)
            throw new ArgumentException($"a generator state is {StateLength} words: {N} engine words, an index ≤ {N}, "
                + "a flag and a cached normal");
        state[..N].CopyTo(mt);
        index = (int)state[N];
        hasCachedNormal = state[N + 1] == 1;
        cachedNormal = BitConverter.Int64BitsToDouble((long)((ulong)state[N + 3] << 32 | state[N + 2]));
    }
}
