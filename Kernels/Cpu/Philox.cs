using System.Numerics;
using System.Runtime.CompilerServices;

namespace InfoVae.Kernels.Cpu;

/// <summary>
/// Philox4x32-10 (Salmon et al., "Parallel Random Numbers: As Easy as 1, 2, 3", SC 2011; constants from Random123).
/// Counter-based: block b of key k is a pure function of (k, b), so any backend can draw element i on its own and
/// a GPU kernel reproduces the CPU's numbers. Element i of a draw uses block (counter + i / 4), word i % 4.
/// </summary>
public static class Philox
{
    const uint M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85;

    /// <summary>Philox4x32-10: the four random words of counter (c0..c3) under key (k0, k1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (uint, uint, uint, uint) Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int r = 0; r < 10; r++)
        {
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint n0 = (uint)(p1 >> 32) ^ c1 ^ k0, n2 = (uint)(p0 >> 32) ^ c3 ^ k1;
            c0 = n0; c1 = (uint)p1; c2 = n2; c3 = (uint)p0;
            k0 += W0; k1 += W1;
        }
        return (c0, c1, c2, c3);
    }

    static (uint, uint, uint, uint) Block(ulong key, ulong counter) =>
        Block((uint)counter, (uint)(counter >> 32), 0, 0, (uint)key, (uint)(key >> 32));

    /// <summary>24 random bits to [0, 1); the same values in float and double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double ToUnit(uint u) => (u >> 8) * (1.0 / (1 << 24));

    /// <summary>Uniform draws in [0, 1), four per block from block <paramref name="counter"/> on.</summary>
    public static void Uniform<T>(ulong key, ulong counter, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < destination.Length; i += 4)
        {
            var (a, b, c, d) = Block(key, counter + (ulong)(i / 4));
            destination[i] = T.CreateTruncating(ToUnit(a));
            if (i + 1 < destination.Length) destination[i + 1] = T.CreateTruncating(ToUnit(b));
            if (i + 2 < destination.Length) destination[i + 2] = T.CreateTruncating(ToUnit(c));
            if (i + 3 < destination.Length) destination[i + 3] = T.CreateTruncating(ToUnit(d));
        }
    }

    /// <summary>
    /// Standard normals by Box-Muller on word pairs (0, 1) and (2, 3) of each block, computed in double.
    /// </summary>
    public static void Normal<T>(ulong key, ulong counter, Span<T> destination)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < destination.Length; i += 4)
        {
            var (a, b, c, d) = Block(key, counter + (ulong)(i / 4));
            var (z0, z1) = BoxMuller(a, b);
            var (z2, z3) = BoxMuller(c, d);
            destination[i] = T.CreateTruncating(z0);
            if (i + 1 < destination.Length) destination[i + 1] = T.CreateTruncating(z1);
            if (i + 2 < destination.Length) destination[i + 2] = T.CreateTruncating(z2);
            if (i + 3 < destination.Length) destination[i + 3] = T.CreateTruncating(z3);
        }
    }

    /// <summary>Two standard normals from two random words (Box–Muller).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (double, double) BoxMuller(uint a, uint b)
    {
        double u1 = ToUnit(a) + 1.0 / (1 << 24);   // (0, 1]: log never sees 0
        double r = Math.Sqrt(-2 * Math.Log(u1)), theta = 2 * Math.PI * ToUnit(b);
        return (r * Math.Cos(theta), r * Math.Sin(theta));
    }

    /// <summary>
    /// Counter blocks a draw of <paramref name="length"/> elements uses: advance the counter by this between draws.
    /// </summary>
    public static ulong BlocksFor(int length) => (ulong)((length + 3) / 4);
}
