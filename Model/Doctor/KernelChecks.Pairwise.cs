using InfoVae.Engine;
using InfoVae.Kernels.Cpu;
using static InfoVae.Model.Doctor.Arena;

namespace InfoVae.Model.Doctor;

/// <summary>Pairwise squared distances and the fused MMD² forward + backward, on n × d point sets.</summary>
public static partial class KernelChecks
{
    static IEnumerable<OpCheck> Pairwise(DoctorSizes s)
    {
        foreach (int n in s.DistN)
            foreach (int d in s.DistD)
            {
                yield return SquaredDistance(n, d);
                yield return SquaredDistanceBackward(n, d, self: false);
            }
        yield return SquaredDistanceBackward(s.DistN[0], s.DistD[0], self: true);
        foreach (int n in s.DistN)
            foreach (int d in s.DistD)
                foreach (var kernel in new[] { MmdKernel.Imq, MmdKernel.Rbf })
                    yield return MmdForwardBackward(n, d, kernel, self: false);
        foreach (int n in s.DistN.Take(2)) yield return MmdForwardBackward(n, s.DistD[0], MmdKernel.Imq, self: true);
    }

    static OpCheck SquaredDistance(int n, int d) => new("sqdist", $"n={n}, d={d}", be =>
    {
        var a = new Arena(be);
        var x = a.Random(80, -2, 2, n, d);
        var y = a.Random(81, -2, 2, n, d);
        var dist = a.Poisoned(n, n);
        return Op(a, () => be.SquaredDistance(x, y, dist), () => Out("d", dist, Tolerances.Reduction(d)));
    }, Flop: 3.0 * n * n * d, Bytes: (double)F * ((double)n * n + 2.0 * n * d));

    /// <summary>self: a and b the same tensor, and both gradients into one buffer (sqdist(x, x)).</summary>
    static OpCheck SquaredDistanceBackward(int n, int d, bool self) =>
        new("sqdist_backward", $"n={n}, d={d}{(self ? ", x = y" : "")}", be =>
        {
            var a = new Arena(be);
            var x = a.Random(80, -2, 2, n, d);
            var y = self ? x : a.Random(81, -2, 2, n, d);
            var dist = a.Poisoned(n, n);
            be.SquaredDistance(x, y, dist);
            var dd = a.Random(82, -1, 1, n, n);
            var dx = a.Random(83, -1, 1, n, d);
            var dy = self ? dx : a.Random(84, -1, 1, n, d);
            var tol = Tolerances.Reduction(2 * n);
            void Call() => be.SquaredDistanceBackward(x, y, dist, dd, dx, dy);
            return self ? Op(a, Call, () => Out("dx", dx, tol))
                : Op(a, Call, () => Out("dx", dx, tol), () => Out("dy", dy, tol));
        }, Flop: 4.0 * n * n * d, Bytes: (double)F * (2.0 * n * n + 4.0 * n * d));

    /// <summary>
    /// The loss's MMD²(z, prior) and its gradient with respect to z (the prior needs none), as one training step
    /// runs them, with train's default scales per kernel; self: MMD²(x, x) with both gradients into one buffer.
    /// Napkin FLOP count: per pair, the distance (3d) and the kernel summed over S scales (~4S), forward over 3 pair
    /// sets and backward over 2 (~5d + 4S per pair).
    /// </summary>
    static OpCheck MmdForwardBackward(int n, int d, MmdKernel kernel, bool self)
    {
        var spec = new MmdSpec(kernel, kernel == MmdKernel.Imq ? [.. MmdSpec.WaeScales] : [1.0]);
        int s = spec.Scales.Length;
        string name = $"n={n}, d={d}, {kernel.ToString().ToLowerInvariant()}{(self ? ", x = y" : "")}";
        return new OpCheck("mmd_fwd_bwd", name, be =>
        {
            var a = new Arena(be);
            var x = a.Random(90, -2, 2, n, d);
            var y = self ? x : a.Random(91, -2.5, 2.5, n, d);
            var value = a.Own(Tensor<float>.Scalar(float.NaN, be));
            var up = a.Own(Tensor<float>.Scalar(1000f, be));
            var dx = a.Random(92, -1, 1, n, d);
            var dy = self ? dx : null;
            return Op(a, () =>
                {
                    be.Mmd(x, y, spec, value);
                    be.MmdBackward(x, y, spec, up, dx, dy);
                },
                () => Out("mmd", value, Tolerances.MmdValue(s)), () => Out("dx", dx, Tolerances.MmdGradient(n)));
        }, Flop: 3.0 * n * n * (3 * d + 4 * s) + 2.0 * n * n * (5 * d + 4 * s), Bytes: 4.0 * n * d * F);
    }
}
