using InfoVae.Kernels.Cpu;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// Philox4x32-10 against Random123's known answers, then the properties the engine relies on: the uniform and
/// normal draws have the right distribution, float and double draws agree, and a draw depends only on
/// (key, counter), so a draw that starts later equals the tail of a longer one.
/// </summary>
public class PhiloxTests
{
    /// <summary>
    /// The three philox4x32 10 lines of Random123's tests/kat_vectors (github.com/DEShawResearch/random123):
    /// counter (4 words), key (2 words), expected output (4 words).
    /// </summary>
    static readonly object[] KnownAnswers =
    [
        new uint[] { 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x6627e8d5, 0xe169c58d,
            0xbc57ac4c, 0x9b00dbd8 },
        new uint[] { 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
            0xa20bc7c6, 0x6d5451fd },
        new uint[] { 0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
            0x5001e420, 0x24126ea1 },
    ];

    [TestCaseSource(nameof(KnownAnswers))]
    public void Block_matches_random123_known_answers(uint[] v)
    {
        var (r0, r1, r2, r3) = Philox.Block(v[0], v[1], v[2], v[3], v[4], v[5]);
        Assert.That(new[] { r0, r1, r2, r3 }, Is.EqualTo(v[6..10]),
            $"philox4x32-10 of counter {v[0]:x8} {v[1]:x8} {v[2]:x8} {v[3]:x8}, key {v[4]:x8} {v[5]:x8}");
    }

    /// <summary>
    /// A draw's element i is word i % 4 of block (counter + i / 4), counter in words 0-1 and key in words 0-1 of their
    /// pairs.
    /// </summary>
    [Test]
    public void Uniform_draws_are_the_blocks_words_scaled_to_the_unit_interval()
    {
        ulong key = 0x299f31d0a4093822, counter = 0x85a308d3243f6a88;
        var u = new double[10];
        Philox.Uniform(key, counter, u);
        for (int i = 0; i < u.Length; i++)
        {
            ulong c = counter + (ulong)(i / 4);
            var (a, b, cc, d) = Philox.Block((uint)c, (uint)(c >> 32), 0, 0, (uint)key, (uint)(key >> 32));
            uint word = (i % 4) switch { 0 => a, 1 => b, 2 => cc, _ => d };
            Assert.That(u[i], Is.EqualTo((word >> 8) / 16777216.0), $"[{i}]");
            Assert.That(u[i], Is.GreaterThanOrEqualTo(0.0).And.LessThan(1.0));
        }
    }

    const int Draws = 100_000;

    /// <summary>
    /// Mean, variance, fourth moment and the two-sided 2σ tail of 1e5 normal draws, each within 5 standard errors
    /// (SE: 1/√N for the mean, √(2/N) for the variance, √(96/N) for E z⁴ = 3, √(p(1−p)/N) for P(|z| > 2) = 0.0455).
    /// A Box-Muller without the 2 in √(−2 log u) has variance 0.5; an angle of π·u instead of 2π·u has mean ≈ 0.4;
    /// a uniform scaled to variance 1 has E z⁴ = 1.8. All three fail by far more than 5 SE.
    /// </summary>
    [TestCase(1234UL, 0UL)]
    [TestCase(0xdeadbeefcafeUL, 1UL << 40)]
    public void Normal_draws_have_standard_normal_moments(ulong key, ulong counter)
    {
        var z = new double[Draws];
        Philox.Normal(key, counter, z);
        double mean = z.Average();
        double var = z.Sum(v => (v - mean) * (v - mean)) / (Draws - 1);
        double m4 = z.Average(v => v * v * v * v);
        double tail = z.Count(v => Math.Abs(v) > 2) / (double)Draws, p = 0.04550026389635842;
        Assert.That(z.All(double.IsFinite), "every draw finite");
        Assert.That(Math.Abs(mean), Is.LessThan(5 / Math.Sqrt(Draws)), $"mean {mean}");
        Assert.That(Math.Abs(var - 1), Is.LessThan(5 * Math.Sqrt(2.0 / Draws)), $"variance {var}");
        Assert.That(Math.Abs(m4 - 3), Is.LessThan(5 * Math.Sqrt(96.0 / Draws)), $"fourth moment {m4}");
        Assert.That(Math.Abs(tail - p), Is.LessThan(5 * Math.Sqrt(p * (1 - p) / Draws)), $"P(|z| > 2) = {tail}");
        // The pairs of one block are independent: the two halves of Box-Muller are uncorrelated.
        double corr = 0;
        for (int i = 0; i < Draws; i += 2) corr += z[i] * z[i + 1];
        Assert.That(Math.Abs(corr / (Draws / 2)), Is.LessThan(5 / Math.Sqrt(Draws / 2)),
            "correlation of z[2k] and z[2k+1]");
    }

    [Test]
    public void Uniform_draws_have_uniform_moments()
    {
        var u = new double[Draws];
        Philox.Uniform(99, 7, u);
        double mean = u.Average(), var = u.Sum(v => (v - mean) * (v - mean)) / (Draws - 1);
        Assert.That(u.All(v => v >= 0 && v < 1), "in [0, 1)");
        Assert.That(Math.Abs(mean - 0.5), Is.LessThan(5 * Math.Sqrt(1.0 / 12 / Draws)), $"mean {mean}");
        Assert.That(Math.Abs(var - 1.0 / 12), Is.LessThan(5 * Math.Sqrt(1.0 / 180 / Draws)), $"variance {var}");
    }

    /// <summary>
    /// Both types compute in double and round once, so the float draw is exactly the double draw rounded.
    /// </summary>
    [Test]
    public void Float_and_double_draws_agree_to_float_precision()
    {
        const int n = 4099;
        var d = new double[n]; var f = new float[n];
        Philox.Normal(42, 1000, d);
        Philox.Normal(42, 1000, f);
        for (int i = 0; i < n; i++) Assert.That(f[i], Is.EqualTo((float)d[i]), $"normal [{i}]");
        Philox.Uniform(42, 1000, d);
        Philox.Uniform(42, 1000, f);
        for (int i = 0; i < n; i++) Assert.That(f[i], Is.EqualTo((float)d[i]), $"uniform [{i}]");
    }

    /// <summary>
    /// Counter-based: a draw of length L starting at counter c + k equals elements 4k .. 4k + L of a longer draw
    /// that starts at c, for every L in 0..70 (partial last blocks included) and several k.
    /// </summary>
    [TestCaseSource(typeof(KernelCheck), nameof(KernelCheck.Lengths))]
    public void A_draw_is_the_tail_of_a_longer_draw(int length)
    {
        const ulong key = 7, c = ulong.MaxValue - 3;      // the counter wraps past 2^64 inside the long draw
        foreach (int k in new[] { 0, 1, 2, 5 })
        {
            var longN = new double[4 * k + length]; var shortN = new double[length];
            Philox.Normal(key, c, longN);
            Philox.Normal(key, c + (ulong)k, shortN);
            Assert.That(shortN, Is.EqualTo(longN[(4 * k)..]), $"normal, L={length}, k={k}");
            var longU = new float[4 * k + length]; var shortU = new float[length];
            Philox.Uniform(key, c, longU);
            Philox.Uniform(key, c + (ulong)k, shortU);
            Assert.That(shortU, Is.EqualTo(longU[(4 * k)..]), $"uniform, L={length}, k={k}");
        }
        Assert.That(Philox.BlocksFor(length), Is.EqualTo((ulong)((length + 3) / 4)));
    }

    [Test]
    public void Different_keys_and_counters_give_different_streams()
    {
        var a = new double[64]; var b = new double[64]; var c = new double[64];
        Philox.Normal(1, 0, a);
        Philox.Normal(2, 0, b);
        Philox.Normal(1, Philox.BlocksFor(64), c);
        Assert.That(a.Zip(b).Count(p => p.First == p.Second), Is.Zero, "key 1 vs key 2");
        Assert.That(a.Zip(c).Count(p => p.First == p.Second), Is.Zero, "the next 16 blocks");
    }
}
