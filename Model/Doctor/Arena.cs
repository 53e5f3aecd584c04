using InfoVae.Engine;

namespace InfoVae.Model.Doctor;

/// <summary>
/// The tensors one prepared op owns on one backend, made from fixed seeds so that every backend gets the same
/// inputs, and disposed together. Outputs an op overwrites start as NaN (a skipped element shows); outputs it
/// accumulates into start as random values (a kernel that overwrites instead of adding shows).
/// </summary>
public sealed class Arena(IBackend<float> backend) : IDisposable
{
    readonly List<Tensor<float>> owned = [];

    public IBackend<float> Backend => backend;

    /// <summary>n uniform draws in [lo, hi) from System.Random(seed): the same numbers on every run and backend.
    /// </summary>
    public static float[] Uniform(int n, int seed, double lo, double hi)
    {
        var rng = new Random(seed);
        var r = new float[n];
        for (int i = 0; i < n; i++) r[i] = (float)(lo + (hi - lo) * rng.NextDouble());
        return r;
    }

    public Tensor<float> From(float[] data, params int[] shape) =>
        Own(Tensor<float>.From(data, new Shape(shape), backend));

    public Tensor<float> Random(int seed, double lo, double hi, params int[] shape) =>
        From(Uniform(new Shape(shape).Length, seed, lo, hi), shape);

    /// <summary>An output the op must overwrite, filled with NaN.</summary>
    public Tensor<float> Poisoned(params int[] shape)
    {
        var t = Own(Tensor<float>.Zeros(new Shape(shape), backend));
        backend.Fill(t, float.NaN);
        return t;
    }

    public Tensor<float> Own(Tensor<float> t) { owned.Add(t); return t; }

    public static CheckOutput Out(string name, Tensor<float> t, Tolerance tolerance) =>
        new(name, t.ToArray(), tolerance);

    public void Dispose()
    {
        foreach (var t in owned) { t.Grad?.Dispose(); t.Dispose(); }
        owned.Clear();
    }
}
