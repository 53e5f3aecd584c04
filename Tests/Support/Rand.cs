namespace InfoVae.Tests.Support;

/// <summary>Seeded test inputs.</summary>
public static class Rand
{
    public static double[] Uniform(int n, int seed, double lo = -1, double hi = 1)
    {
        var r = new Random(seed);
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * r.NextDouble();
        return a;
    }

    public static float[] UniformF(int n, int seed, double lo = -1, double hi = 1)
        => Array.ConvertAll(Uniform(n, seed, lo, hi), v => (float)v);

    /// <summary>Uniform magnitudes in [lo, hi] with random signs: keeps draws away from a kink at 0.</summary>
    public static double[] AwayFromZero(int n, int seed, double lo = 0.1, double hi = 1)
    {
        var r = new Random(seed);
        var a = new double[n];
        for (int i = 0; i < n; i++) a[i] = (r.Next(2) == 0 ? -1 : 1) * (lo + (hi - lo) * r.NextDouble());
        return a;
    }

    public static double[] Normal(int n, int seed)
    {
        var r = new Random(seed);
        var a = new double[n];
        for (int i = 0; i < n; i++)
            a[i] = Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
        return a;
    }
}
