namespace InfoVae.Model;

/// <summary>
/// PyTorch's CPU generator (CPUGeneratorImpl: a 32-bit MT19937) and the three draws a training run makes from it —
/// uniform_, randn and randperm — reproduced draw for draw, so a run and its PyTorch twin with the same seed see the
/// same initial weights, the same data order and the same noise, and differ only by floating-point rounding.
/// That turns "ours vs PyTorch from seed s" into one comparison instead of two independent samples of the seed
/// lottery. randn follows ATen's normal_fill_AVX2 (Box-Muller on blocks of 16 with avx_mathfun's log and sincos), the kernel
/// libtorch 2.10 (TorchSharp) and Debian's torch 1.13 run on this machine; ATen's scalar fallback, used on CPUs
/// without AVX2, differs from it in the last bits.
/// References: aten/src/ATen/core/MT19937RNGEngine.h, aten/src/ATen/core/DistributionsHelper.h,
/// aten/src/ATen/native/cpu/DistributionTemplates.h (normal_fill, normal_fill_16),
/// aten/src/ATen/native/TensorFactories.cpp (randperm_cpu).
/// </summary>
public sealed class TorchGenerator
{
    const int N = 624, M = 397;
    /// <summary>The engine's words, the index of the next one to temper, and the cached second normal (flag, 64 bits).</summary>
    public const int StateLength = N + 4;

    readonly uint[] mt = new uint[N];
    int index = N;
    /// <summary>Box-Muller makes normals in pairs; the serial path keeps the second for the next call (next_double_normal_sample).</summary>
    double cachedNormal;
    bool hasCachedNormal;

    /// <summary>torch.manual_seed(seed) / torch.Generator().manual_seed(seed): init_genrand with the low 32 bits.</summary>
    public TorchGenerator(ulong seed)
    {
        mt[0] = (uint)seed;
        for (int i = 1; i < N; i++) mt[i] = 1812433253u * (mt[i - 1] ^ (mt[i - 1] >> 30)) + (uint)i;
    }

    /// <summary>One 32-bit draw (CPUGeneratorImpl::random).</summary>
    public uint Next()
    {
        if (index >= N) Twist();
        uint z = mt[index++];
        z ^= z >> 11;
        z ^= (z << 7) & 0x9d2c5680u;
        z ^= (z << 15) & 0xefc60000u;
        z ^= z >> 18;
        return z;
    }

    void Twist()
    {
        for (int i = 0; i < N; i++)
        {
            uint y = (mt[i] & 0x80000000u) | (mt[(i + 1) % N] & 0x7fffffffu);
            mt[i] = mt[(i + M) % N] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908b0dfu : 0u);
        }
        index = 0;
    }

    /// <summary>CPUGeneratorImpl::random64: two draws, the first in the high half.</summary>
    ulong Next64() { ulong hi = Next(); return hi << 32 | Next(); }

    /// <summary>uniform_real_distribution&lt;float&gt;(0, 1): 24 random bits scaled to [0, 1), exact in float.</summary>
    public float NextUnit() => (Next() & ((1u << 24) - 1)) * (1.0f / (1 << 24));

    /// <summary>tensor.uniform_(from, to) on a float tensor: the bounds are cast to float first, the arithmetic is double.</summary>
    public void Uniform(Span<float> destination, double from, double to)
    {
        float f = (float)from, range = (float)to - f;
        for (int i = 0; i < destination.Length; i++)
            destination[i] = (float)((Next() & ((1u << 24) - 1)) * (1.0 / (1 << 24)) * range + f);
    }

    /// <summary>
    /// torch.randn into a contiguous float tensor: every element gets a uniform, then each block of 16 becomes 16
    /// normals by Box-Muller (element j pairs with j + 8); a length that is not a multiple of 16 redraws and
    /// recomputes the last 16. Under 16 elements ATen goes element by element through normal_distribution&lt;double&gt;.
    /// </summary>
    public void Normal(Span<float> destination)
    {
        int n = destination.Length;
        if (n < 16)
        {
            for (int i = 0; i < n; i++) destination[i] = (float)NormalDouble();
            return;
        }
        for (int i = 0; i < n; i++) destination[i] = NextUnit();
        for (int i = 0; i + 16 <= n; i += 16) BoxMuller16(destination.Slice(i, 16));
        if (n % 16 != 0)
        {
            var tail = destination[(n - 16)..];
            for (int i = 0; i < 16; i++) tail[i] = NextUnit();
            BoxMuller16(tail);
        }
    }

    /// <summary>
    /// ATen's normal_fill_16_AVX2, lane by lane: u1 = 1 − d[j], u2 = d[j + 8], radius = √(−2·log u1),
    /// θ = 2π·u2, then radius·cos θ and radius·sin θ, with log and sincos from avx_mathfun.h (Cephes polynomials,
    /// not libm). The fused multiply-adds stand where GCC contracts the header's separate multiplies and adds
    /// (-ffp-contract=fast with -mfma); the test against libtorch's own draws pins every one of them down.
    /// </summary>
    /// <summary>normal_distribution&lt;double&gt;: a cached second value, or a new pair from two 53-bit uniforms.</summary>
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

    /// <summary>log(1 + x) without losing x's digits when 1 + x rounds (Goldberg's trick); .NET has no libm log1p.</summary>
    static double Log1p(double x)
    {
        double u = 1 + x;
        return u == 1 ? x : Math.Log(u) * x / (u - 1);
    }

    static void BoxMuller16(Span<float> d)
    {
        const float TwoPi = (float)(2.0f * Math.PI);
        for (int j = 0; j < 8; j++)
        {
            float radius = MathF.Sqrt(-2f * CephesLog(1f - d[j]));
            var (sin, cos) = CephesSinCos(TwoPi * d[j + 8]);
            d[j] = radius * cos + 0f;                            // ATen: fmadd(n, std = 1, mean = 0), which turns −0 into +0
            d[j + 8] = radius * sin + 0f;
        }
    }

    static float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    /// <summary>log256_ps for one lane, x in (0, 1] here (no NaN or denormal handling needed beyond the clamp).</summary>
    static float CephesLog(float x)
    {
        x = MathF.Max(x, BitConverter.Int32BitsToSingle(0x00800000));
        int bits = BitConverter.SingleToInt32Bits(x);
        float e = (bits >>> 23) - 0x7f;
        x = BitConverter.Int32BitsToSingle((bits & ~0x7f800000) | BitConverter.SingleToInt32Bits(0.5f));   // mantissa in [0.5, 1)
        e += 1f;
        bool small = x < (float)0.707106781186547524;
        float tmp = small ? x : 0f;
        x -= 1f;
        if (small) e -= 1f;
        x += tmp;
        float z = x * x;
        float y = (float)7.0376836292E-2;
        y = Fma(y, x, -(float)1.1514610310E-1);
        y = Fma(y, x, (float)1.1676998740E-1);
        y = Fma(y, x, -(float)1.2420140846E-1);
        y = Fma(y, x, (float)1.4249322787E-1);
        y = Fma(y, x, -(float)1.6668057665E-1);
        y = Fma(y, x, (float)2.0000714765E-1);
        y = Fma(y, x, -(float)2.4999993993E-1);
        y = Fma(y, x, (float)3.3333331174E-1);
        y *= x;
        y = Fma(y, z, e * -(float)2.12194440e-4);
        y = Fma(-z, 0.5f, y);
        return Fma(e, (float)0.693359375, x + y);
    }

    /// <summary>sincos256_ps for one lane, x ≥ 0 here (θ in [0, 2π)).</summary>
    static (float Sin, float Cos) CephesSinCos(float x)
    {
        int j = ((int)(x * (float)1.27323954473516) + 1) & ~1;          // 4/π; truncation as cvttps
        float y = j;
        bool sinNegative = (j & 4) != 0, cosNegative = ((j - 2) & 4) == 0, sinPolyForSin = (j & 2) == 0;
        x = Fma(y, -(float)0.78515625, x);                              // extended-precision x − y·π/4
        x = Fma(y, -(float)2.4187564849853515625e-4, x);
        x = Fma(y, -(float)3.77489497744594108e-8, x);
        float z = x * x;
        float c = (float)2.443315711809948E-005;
        c = Fma(c, z, -(float)1.388731625493765E-003);
        c = Fma(c, z, (float)4.166664568298827E-002);
        c *= z;
        c = Fma(c, z, -(z * 0.5f));
        c += 1f;
        float s = -(float)1.9515295891E-4;
        s = Fma(s, z, (float)8.3321608736E-3);
        s = Fma(s, z, -(float)1.6666654611E-1);
        s *= z;
        s = Fma(s, x, x);
        // The header adds a selected polynomial to a zero (and the other to the difference); x + 0 = x bit for bit.
        float sin = sinPolyForSin ? s : c, cos = sinPolyForSin ? c : s;
        return (sinNegative ? -sin : sin, cosNegative ? -cos : cos);
    }

    /// <summary>torch.randperm(n) for n below 2³²/20: the identity, then swap i with i + random() mod (n − i).</summary>
    public void Randperm(Span<int> order)
    {
        int n = order.Length;
        if ((long)n >= uint.MaxValue / 20) throw new ArgumentException($"randperm of {n} elements takes ATen's 64-bit path, which is not reproduced");
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
            throw new ArgumentException($"a generator state is {StateLength} words: {N} engine words, an index ≤ {N}, a flag and a cached normal");
        state[..N].CopyTo(mt);
        index = (int)state[N];
        hasCachedNormal = state[N + 1] == 1;
        cachedNormal = BitConverter.Int64BitsToDouble((long)((ulong)state[N + 3] << 32 | state[N + 2]));
    }
}
