using InfoVae.Kernels.Cpu;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Kernels.Gpu.GpuTestAccelerator;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>
/// Fused BCE-with-logits, Gaussian KL and softmax cross-entropy kernels against Kernels/Cpu/Losses in double.
/// </summary>
public class LossKernelTests
{
    const double Atol = 1e-6, Rtol = 1e-5;

    [TestCase(1)]
    [TestCase(17)]
    [TestCase(33 * 5)]
    public void Bce_with_logits_forward_and_backward(int n)
    {
        var z = F(Rand.Uniform(n, 31, -30, 30));      // both tails: the stable form must hold far out
        var t = F(Rand.Uniform(n, 32, 0, 1));
        var dl = F(Rand.Uniform(n, 33));
        var dz0 = F(Rand.Uniform(n, 34)); var dt0 = F(Rand.Uniform(n, 35));

        var loss = new double[n]; var dz = (double[])dz0.Clone(); var dt = (double[])dt0.Clone();
        Losses.BceWithLogits<double>(z, t, loss);
        Losses.BceWithLogitsBackward<double>(z, t, dl, dz, dt);

        using var gz = Dev(z); using var gt = Dev(t); using var gl = Zeros(n); using var gdl = Dev(dl);
        using var gdz = Dev(dz0); using var gdt = Dev(dt0);
        K.BceWithLogits(gz.View, gt.View, gl.View);
        K.BceWithLogitsBackward(gz.View, gt.View, gdl.View, gdz.View, gdt.View);
        Close.Assert(loss, Host(gl), Atol, Rtol, "bce");
        Close.Assert(dz, Host(gdz), Atol, Rtol, "dz");
        Close.Assert(dt, Host(gdt), Atol, Rtol, "dt");
    }

    [Test]
    public void Bce_with_logits_is_finite_at_extreme_logits()
    {
        using var z = Dev(new[] { -1e4f, 1e4f, 0f }); using var t = Dev(new[] { 0f, 1f, 0.5f }); using var l = Zeros(3);
        K.BceWithLogits(z.View, t.View, l.View);
        var r = Host(l);
        Assert.That(r[0], Is.EqualTo(0f)); Assert.That(r[1], Is.EqualTo(0f));
        Assert.That(r[2], Is.EqualTo(MathF.Log(2f)).Within(1e-7));
    }

    [TestCase(1, 1)]
    [TestCase(17, 3)]
    [TestCase(33, 5)]
    [TestCase(3, 31)]
    public void Gaussian_kl_forward_and_backward(int rows, int z)
    {
        var mu = F(Rand.Uniform(rows * z, 36, -2, 2));
        var lv = F(Rand.Uniform(rows * z, 37, -3, 2));
        var dkl = F(Rand.Uniform(rows, 38));
        var dmu0 = F(Rand.Uniform(rows * z, 39)); var dlv0 = F(Rand.Uniform(rows * z, 40));

        var kl = new double[rows]; var dmu = (double[])dmu0.Clone(); var dlv = (double[])dlv0.Clone();
        Losses.GaussianKl<double>(mu, lv, rows, z, kl);
        Losses.GaussianKlBackward<double>(mu, lv, dkl, rows, z, dmu, dlv);

        using var gmu = Dev(mu); using var glv = Dev(lv); using var gkl = Zeros(rows); using var gdkl = Dev(dkl);
        using var gdmu = Dev(dmu0); using var gdlv = Dev(dlv0);
        K.GaussianKl(gmu.View, glv.View, rows, z, gkl.View);
        K.GaussianKlBackward(gmu.View, glv.View, gdkl.View, rows, z, gdmu.View, gdlv.View);
        Close.Assert(kl, Host(gkl), 1e-5, Rtol, "kl");
        Close.Assert(dmu, Host(gdmu), Atol, Rtol, "dmu");
        Close.Assert(dlv, Host(gdlv), Atol, Rtol, "dlogvar");
    }

    [TestCase(1, 1)]
    [TestCase(3, 10)]
    [TestCase(33, 7)]
    [TestCase(5, 31)]
    public void Softmax_cross_entropy_forward_and_backward(int rows, int classes)
    {
        int n = rows * classes;
        var z = F(Rand.Uniform(n, 41, -30, 30));
        z[0] = 1e4f;                                    // the max shift must hold far out
        var t = F(Rand.Uniform(n, 42, 0, 1));
        var dl = F(Rand.Uniform(rows, 43));
        var dz0 = F(Rand.Uniform(n, 44)); var dt0 = F(Rand.Uniform(n, 45));

        var loss = new double[rows]; var dz = (double[])dz0.Clone(); var dt = (double[])dt0.Clone();
        Losses.SoftmaxCrossEntropy<double>(z, t, rows, classes, loss);
        Losses.SoftmaxCrossEntropyBackward<double>(z, t, dl, rows, classes, dz, dt);

        using var gz = Dev(z); using var gt = Dev(t); using var gl = Zeros(rows); using var gdl = Dev(dl);
        using var gdz = Dev(dz0); using var gdt = Dev(dt0);
        K.SoftmaxCrossEntropy(gz.View, gt.View, rows, classes, gl.View);
        K.SoftmaxCrossEntropyBackward(gz.View, gt.View, gdl.View, rows, classes, gdz.View, gdt.View);
        // Losses reach 1e4 where a row holds the far-out logit: the tolerance scales with them.
        Close.Assert(loss, Host(gl), 1e-5 * loss.Max(Math.Abs), Rtol, "softmax ce");
        Close.Assert(dz, Host(gdz), Atol, Rtol, "dz");
        Close.Assert(dt, Host(gdt), 1e-5 * dt.Max(Math.Abs), Rtol, "dt");
    }

    [Test]
    public void Bce_at_infinite_and_huge_logits_with_soft_targets_matches_the_cpu()
    {
        // Targets strictly between 0 and 1 with z = ±∞: the loss is +∞ (the CPU's (1 − t)·z form), where
        // max(z, 0) − t·z gave ∞ − ∞ = NaN; |z| ≥ 1e4 is finite and linear in z on both sides. And the hard targets.
        float[] zs = [float.PositiveInfinity, float.NegativeInfinity, 1e4f, -1e4f, 3e4f, -2.5e5f, 1e6f];
        float[] ts = [0.3f, 0.7f, 0.5f, 1e-3f, 0f, 1f];
        var z = zs.SelectMany(v => ts.Select(_ => v)).ToArray();
        var t = zs.SelectMany(_ => ts).ToArray();
        int n = z.Length;
        var cpu = new float[n];
        Losses.BceWithLogits<float>(z, t, cpu);
        using var gz = Dev(z); using var gt = Dev(t); using var gl = Zeros(n);
        K.BceWithLogits(gz.View, gt.View, gl.View);
        var gpu = Host(gl);
        for (int i = 0; i < n; i++)
        {
            string at = $"z = {z[i]}, t = {t[i]}";
            if (float.IsInfinity(cpu[i]) || cpu[i] == 0f) Assert.That(gpu[i], Is.EqualTo(cpu[i]), at);
            else Assert.That(gpu[i], Is.EqualTo(cpu[i]).Within(2e-7 * Math.Abs(cpu[i])), at);
            Assert.That(float.IsNaN(gpu[i]), Is.False, at);
        }
        Assert.That(gpu[0], Is.EqualTo(float.PositiveInfinity), "z = +∞, t = 0.3");

        // The gradient σ(z) − t is finite everywhere here, and dt = −z is ∓∞ at z = ±∞ on both.
        var dl = Enumerable.Repeat(1f, n).ToArray();
        var dz = new float[n]; var dt = new float[n];
        Losses.BceWithLogitsBackward<float>(z, t, dl, dz, dt);
        using var gdl = Dev(dl); using var gdz = Zeros(n); using var gdt = Zeros(n);
        K.BceWithLogitsBackward(gz.View, gt.View, gdl.View, gdz.View, gdt.View);
        Close.Assert<float, float>(dz, Host(gdz), 1e-7, 1e-6, "dz");
        Assert.That(Host(gdt), Is.EqualTo(dt), "dt");
    }
}
