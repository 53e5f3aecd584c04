using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace InfoVae.Model;

/// <summary>
/// ATen's normal_fill_16_AVX2: blocks of 16 uniforms become 16 normals, u1 = 1 − d[j] and u2 = d[j + 8] giving
/// d[j] = √(−2·log u1)·cos(2π·u2) and d[j + 8] = the same with sin, where log and sincos are avx_mathfun.h's
/// Cephes polynomials (not libm). The fused multiply-adds stand where GCC contracts that header's separate
/// multiplies and adds (-ffp-contract=fast with -mfma); the test against libtorch's own draws pins each one down.
/// The vector path does per 8 lanes exactly what the scalar path does per lane, so the two agree bit for bit.
/// </summary>
static class TorchBoxMuller
{
    const float TwoPi = (float)(2.0f * Math.PI);
    const float SqrtHalf = (float)0.707106781186547524, FourOverPi = (float)1.27323954473516;
    const float Log0 = (float)7.0376836292E-2, Log1 = -(float)1.1514610310E-1, Log2 = (float)1.1676998740E-1,
        Log3 = -(float)1.2420140846E-1, Log4 = (float)1.4249322787E-1, Log5 = -(float)1.6668057665E-1,
        Log6 = (float)2.0000714765E-1, Log7 = -(float)2.4999993993E-1, Log8 = (float)3.3333331174E-1,
        LogQ1 = -(float)2.12194440e-4, LogQ2 = (float)0.693359375;
    const float Dp1 = -(float)0.78515625, Dp2 = -(float)2.4187564849853515625e-4, Dp3 = -(float)3.77489497744594108e-8;
    const float Cos0 = (float)2.443315711809948E-005, Cos1 = -(float)1.388731625493765E-003,
        Cos2 = (float)4.166664568298827E-002;
    const float Sin0 = -(float)1.9515295891E-4, Sin1 = (float)8.3321608736E-3, Sin2 = -(float)1.6666654611E-1;

    /// <summary>Every whole block of 16 in <paramref name="d"/> (its length is a multiple of 16).</summary>
    public static void Blocks(Span<float> d)
    {
        if (Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported)
            for (int i = 0; i + 16 <= d.Length; i += 16) Block16Vector(d.Slice(i, 16));
        else
            for (int i = 0; i + 16 <= d.Length; i += 16) Block16Scalar(d.Slice(i, 16));
    }

    internal static void Block16Vector(Span<float> d)
    {
        ref float p = ref d[0];
        var u1 = Vector256.Create(1f) - Vector256.LoadUnsafe(ref p);
        var u2 = Vector256.LoadUnsafe(ref p, 8);
        var radius = Vector256.Sqrt(Vector256.Create(-2f) * Log(u1));
        var (sin, cos) = SinCos(Vector256.Create(TwoPi) * u2);
        (radius * cos + Vector256<float>.Zero).StoreUnsafe(ref p);
        (radius * sin + Vector256<float>.Zero).StoreUnsafe(ref p, 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Fma(Vector256<float> a, Vector256<float> b, Vector256<float> c)
        => Vector256.FusedMultiplyAdd(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Fma(Vector256<float> a, float b, float c) => Vector256.FusedMultiplyAdd(a,
        Vector256.Create(b), Vector256.Create(c));

    static Vector256<float> Log(Vector256<float> x)
    {
        var one = Vector256.Create(1f);
        x = Vector256.Max(x, Vector256.Create(BitConverter.Int32BitsToSingle(0x00800000)));
        var bits = x.AsInt32();
        var e = Vector256.ConvertToSingle(Vector256.ShiftRightLogical(bits, 23) - Vector256.Create(0x7f)) + one;
        x = ((bits & Vector256.Create(~0x7f800000)) | Vector256.Create(0.5f).AsInt32()).AsSingle();
        var small = Vector256.LessThan(x, Vector256.Create(SqrtHalf));
        var tmp = x & small;
        x -= one;
        e -= one & small;
        x += tmp;
        var z = x * x;
        var y = Fma(Vector256.Create(Log0), x, Vector256.Create(Log1));
        y = Fma(y, x, Vector256.Create(Log2));
        y = Fma(y, x, Vector256.Create(Log3));
        y = Fma(y, x, Vector256.Create(Log4));
        y = Fma(y, x, Vector256.Create(Log5));
        y = Fma(y, x, Vector256.Create(Log6));
        y = Fma(y, x, Vector256.Create(Log7));
        y = Fma(y, x, Vector256.Create(Log8));
        y *= x;
        y = Fma(y, z, e * Vector256.Create(LogQ1));
        y = Fma(-z, Vector256.Create(0.5f), y);
        return Fma(e, Vector256.Create(LogQ2), x + y);
    }

    static (Vector256<float> Sin, Vector256<float> Cos) SinCos(Vector256<float> x)
    {
        var j = (Vector256.ConvertToInt32(x * Vector256.Create(FourOverPi))
            + Vector256.Create(1)) & Vector256.Create(~1);
        var y = Vector256.ConvertToSingle(j);
        var sinSign = Vector256.ShiftLeft(j & Vector256.Create(4), 29).AsSingle();
        var cosSign = Vector256.ShiftLeft(~(j - Vector256.Create(2)) & Vector256.Create(4), 29).AsSingle();
        var sinPolyForSin = Vector256.Equals(j & Vector256.Create(2), Vector256<int>.Zero).AsSingle();
        x = Fma(y, Vector256.Create(Dp1), x);
        x = Fma(y, Vector256.Create(Dp2), x);
        x = Fma(y, Vector256.Create(Dp3), x);
        var z = x * x;
        var c = Fma(Vector256.Create(Cos0), z, Vector256.Create(Cos1));
        c = Fma(c, z, Vector256.Create(Cos2));
        c *= z;
        c = Fma(c, z, -(z * Vector256.Create(0.5f)));
        c += Vector256.Create(1f);
        var s = Fma(Vector256.Create(Sin0), z, Vector256.Create(Sin1));
        s = Fma(s, z, Vector256.Create(Sin2));
        s *= z;
        s = Fma(s, x, x);
        var sin = Vector256.ConditionalSelect(sinPolyForSin, s, c);
        var cos = Vector256.ConditionalSelect(sinPolyForSin, c, s);
        return (sin ^ sinSign, cos ^ cosSign);
    }

    /// <summary>
    /// One block, lane by lane: the reference for the vector path and the path on CPUs without AVX2 and FMA.
    /// </summary>
    internal static void Block16Scalar(Span<float> d)
    {
        for (int j = 0; j < 8; j++)
        {
            float radius = MathF.Sqrt(-2f * LogScalar(1f - d[j]));
            var (sin, cos) = SinCosScalar(TwoPi * d[j + 8]);
            // ATen: fmadd(n, std = 1, mean = 0), which turns −0 into +0
            d[j] = radius * cos + 0f;
            d[j + 8] = radius * sin + 0f;
        }
    }

    static float Fma(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    /// <summary>
    /// log256_ps for one lane, x in (0, 1] here (no NaN or denormal handling needed beyond the clamp).
    /// </summary>
    static float LogScalar(float x)
    {
        x = MathF.Max(x, BitConverter.Int32BitsToSingle(0x00800000));
        int bits = BitConverter.SingleToInt32Bits(x);
        float e = (bits >>> 23) - 0x7f;
        // mantissa in [0.5, 1)
        x = BitConverter.Int32BitsToSingle((bits & ~0x7f800000) | BitConverter.SingleToInt32Bits(0.5f));
        e += 1f;
        bool small = x < SqrtHalf;
        float tmp = small ? x : 0f;
        x -= 1f;
        if (small) e -= 1f;
        x += tmp;
        float z = x * x;
        float y = Log0;
        y = Fma(y, x, Log1);
        y = Fma(y, x, Log2);
        y = Fma(y, x, Log3);
        y = Fma(y, x, Log4);
        y = Fma(y, x, Log5);
        y = Fma(y, x, Log6);
        y = Fma(y, x, Log7);
        y = Fma(y, x, Log8);
        y *= x;
        y = Fma(y, z, e * LogQ1);
        y = Fma(-z, 0.5f, y);
        return Fma(e, LogQ2, x + y);
    }

    /// <summary>sincos256_ps for one lane, x ≥ 0 here (θ in [0, 2π)).</summary>
    static (float Sin, float Cos) SinCosScalar(float x)
    {
        int j = ((int)(x * FourOverPi) + 1) & ~1;          // 4/π; truncation as cvttps
        float y = j;
        bool sinNegative = (j & 4) != 0, cosNegative = ((j - 2) & 4) == 0, sinPolyForSin = (j & 2) == 0;
        x = Fma(y, Dp1, x);                              // extended-precision x − y·π/4
        x = Fma(y, Dp2, x);
        x = Fma(y, Dp3, x);
        float z = x * x;
        float c = Cos0;
        c = Fma(c, z, Cos1);
        c = Fma(c, z, Cos2);
        c *= z;
        c = Fma(c, z, -(z * 0.5f));
        c += 1f;
        float s = Sin0;
        s = Fma(s, z, Sin1);
        s = Fma(s, z, Sin2);
        s *= z;
        s = Fma(s, x, x);
        // The header adds a selected polynomial to a zero (and the other to the difference); x + 0 = x bit for bit.
        float sin = sinPolyForSin ? s : c, cos = sinPolyForSin ? c : s;
        return (sinNegative ? -sin : sin, cosNegative ? -cos : cos);
    }
}
