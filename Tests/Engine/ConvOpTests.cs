using InfoVae.Engine;
using InfoVae.Kernels;
using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Reference;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Support.GradCheck;

namespace InfoVae.Tests.Engine;

/// <summary>
/// Conv2d and ConvTranspose2d (channels-last): float64 gradient checks at awkward geometries, forward against the
/// direct loops in Reference, hand-computed layouts, the adjoint identity between the two, and shape errors.
/// N = batch, H×W = input, C = input channels, OC = output channels, KH×KW = kernel, S = stride, P = pad.
/// </summary>
public class ConvOpTests
{
    static double[] U(int n, int seed) => Rand.Uniform(n, seed);

    // (N, H, W, C, OC, KH, KW, S, P): strides 1-3, pads 0-2, non-square kernels and images, C = 1.
    static readonly object[] ConvCases =
    [
        new object[] { 2, 5, 6, 3, 4, 3, 2, 1, 0 },
        new object[] { 1, 7, 5, 2, 3, 3, 3, 2, 1 },
        new object[] { 2, 6, 7, 1, 2, 2, 3, 3, 2 },
        new object[] { 1, 4, 5, 3, 2, 1, 1, 1, 0 },
        new object[] { 2, 5, 4, 2, 3, 4, 4, 2, 1 },
        new object[] { 1, 8, 6, 2, 2, 4, 3, 3, 1 },
    ];

    // (N, IH, IW, Cin, Cout, KH, KW, S, P, OutputPad)
    static readonly object[] TransposedCases =
    [
        new object[] { 2, 3, 4, 3, 2, 3, 2, 2, 1, 1 },
        new object[] { 1, 4, 3, 2, 3, 3, 3, 1, 0, 0 },
        new object[] { 2, 3, 3, 2, 1, 4, 3, 3, 2, 1 },
        new object[] { 1, 2, 5, 1, 2, 2, 4, 2, 0, 0 },
        new object[] { 1, 3, 2, 2, 2, 3, 4, 3, 1, 2 },
        new object[] { 2, 2, 3, 3, 1, 4, 4, 2, 2, 0 },
    ];

    [TestCaseSource(nameof(ConvCases))]
    public void Conv2d_gradients(int n, int h, int w, int c, int oc, int kh, int kw, int s, int p) =>
        Check(t => Ops.Conv2d(t[0], t[1], t[2], s, p), In(U(n * h * w * c, 1), n, h, w, c),
            In(U(oc * kh * kw * c, 2), oc, kh, kw, c), In(U(oc, 3), oc));

    [Test]
    public void Conv2d_gradients_without_bias() =>
        Check(t => Ops.Conv2d(t[0], t[1], null, 2, 1), In(U(2 * 5 * 4 * 3, 4), 2, 5, 4, 3),
            In(U(2 * 3 * 2 * 3, 5), 2, 3, 2, 3));

    [Test]
    public void Conv2d_gradient_of_weight_only_when_input_is_data() =>
        Check(t => Ops.Conv2d(t[0], t[1], t[2], 2, 1), Const(U(2 * 6 * 6 * 1, 6), 2, 6, 6, 1),
            In(U(3 * 4 * 4 * 1, 7), 3, 4, 4, 1), In(U(3, 8), 3));

    [TestCaseSource(nameof(TransposedCases))]
    public void ConvTranspose2d_gradients(int n, int ih, int iw, int cin, int cout, int kh, int kw, int s, int p,
        int op) =>
        Check(t => Ops.ConvTranspose2d(t[0], t[1], t[2], s, p, op),
            In(U(n * ih * iw * cin, 9), n, ih, iw, cin), In(U(cin * kh * kw * cout, 10), cin, kh, kw, cout),
                In(U(cout, 11), cout));

    [Test]
    public void ConvTranspose2d_gradients_without_bias() =>
        Check(t => Ops.ConvTranspose2d(t[0], t[1], null, 2, 1, 1), In(U(2 * 3 * 2 * 2, 12), 2, 3, 2, 2),
            In(U(2 * 3 * 3 * 3, 13), 2, 3, 3, 3));

    [Test]
    public void Conv_chain_gradients()
    {
        // conv → leaky relu → conv-transpose back to the input size, as the model stacks them.
        Check(t => Ops.ConvTranspose2d(Ops.Conv2d(t[0], t[1], t[2], 2, 1).LeakyRelu(0.2), t[3], null, 2, 1, 1),
            In(U(2 * 6 * 5 * 2, 14), 2, 6, 5, 2), In(U(3 * 3 * 3 * 2, 15), 3, 3, 3, 2), In(U(3, 16), 3),
                In(U(3 * 3 * 3 * 2, 17), 3, 3, 3, 2));
    }

    [TestCaseSource(nameof(ConvCases))]
    public void Conv2d_forward_matches_the_direct_loop(int n, int h, int w, int c, int oc, int kh, int kw, int s, int p)
    {
        var x = U(n * h * w * c, 21); var wt = U(oc * kh * kw * c, 22); var b = U(oc, 23);
        var g = ConvGeometry.Conv(n, h, w, c, kh, kw, s, p);
        var expected = new double[g.Rows * oc];
        Reference.Conv2d(x, wt, b, g, oc, expected);
        var y = Run(() => Ops.Conv2d(T(x, n, h, w, c), T(wt, oc, kh, kw, c), T(b, oc), s, p));
        Assert.That(y.Shape, Is.EqualTo(new Shape(n, g.OH, g.OW, oc)));
        Close.Assert(expected, y.Data, 1e-12, 1e-12, "conv2d");
    }

    [TestCaseSource(nameof(TransposedCases))]
    public void ConvTranspose2d_forward_matches_the_direct_loop(int n, int ih, int iw, int cin, int cout, int kh,
        int kw, int s, int p, int op)
    {
        var x = U(n * ih * iw * cin, 24); var wt = U(cin * kh * kw * cout, 25); var b = U(cout, 26);
        var g = ConvGeometry.Transposed(n, ih, iw, cout, kh, kw, s, p, op);
        Assert.That((g.H, g.W), Is.EqualTo(((ih - 1) * s - 2 * p + kh + op, (iw - 1) * s - 2 * p + kw + op)),
            "PyTorch's output size");
        var expected = new double[g.ImageLength];
        Reference.ConvTranspose2d(x, wt, b, g, cin, expected);
        var y = Run(() => Ops.ConvTranspose2d(T(x, n, ih, iw, cin), T(wt, cin, kh, kw, cout), T(b, cout), s, p, op));
        Assert.That(y.Shape, Is.EqualTo(new Shape(n, g.H, g.W, cout)));
        Close.Assert(expected, y.Data, 1e-12, 1e-12, "conv_transpose2d");
    }

    [Test]
    public void Conv2d_by_hand()
    {
        // One 3×3 image, C = 2 with channel 1 = 10 × channel 0; OC = 2 kernels 2×2 over (kh, kw, c).
        // Kernel 0 reads channel 0 only with weights 1, 2 / 3, 4; kernel 1 reads channel 1 at (0, 0) only.
        double[] x = [1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60, 7, 70, 8, 80, 9, 90];   // (1, 3, 3, 2)
        double[] w = [1, 0, 2, 0, 3, 0, 4, 0, /* kernel 1 */ 0, 1, 0, 0, 0, 0, 0, 0];     // (2, 2, 2, 2)
        var y = Run(() => Ops.Conv2d(T(x, 1, 3, 3, 2), T(w, 2, 2, 2, 2), T([0.5, -1], 2), 1, 0));
        // Window at (i, j) of channel 0: a b / d e → a + 2b + 3d + 4e (+ 0.5); kernel 1: 10·a (− 1).
        double[] expected = [1 + 4 + 12 + 20 + 0.5, 9, 2 + 6 + 15 + 24 + 0.5, 19, 4 + 10 + 21 + 32 + 0.5, 39,
            5 + 12 + 24 + 36 + 0.5, 49];
        Assert.That(y.Data, Is.EqualTo(expected));
        // Stride 2, pad 1 on the same image: output 2×2; the window at (0, 0) covers x[0, 0] with the kernel's (1, 1)
        // entry only.
        var y2 = Run(() => Ops.Conv2d(T(x, 1, 3, 3, 2), T(w, 2, 2, 2, 2), null, 2, 1));
        Assert.That(y2.Data,
            Is.EqualTo(new double[] { 4 * 1, 0, 3 * 2 + 4 * 3, 0, 2 * 4 + 4 * 7, 0, 1 * 5 + 2 * 6 + 3 * 8 + 4 * 9,
            50 }));
    }

    [Test]
    public void ConvTranspose2d_by_hand()
    {
        // Stride 2 with a 2×2 kernel, no overlap: every input pixel stamps x·kernel onto its own 2×2 block.
        double[] x = [1, 2, 3, 4];                        // (1, 2, 2, 1)
        double[] w = [1, 10, 100, 1000];                  // (1, 2, 2, 1): kernel rows (1, 10), (100, 1000)
        var y = Run(() => Ops.ConvTranspose2d(T(x, 1, 2, 2, 1), T(w, 1, 2, 2, 1), null, 2, 0));
        Assert.That(y.Shape, Is.EqualTo(new Shape(1, 4, 4, 1)));
        Assert.That(y.Data, Is.EqualTo(new double[]
        {
            1, 10, 2, 20,
            100, 1000, 200, 2000,
            3, 30, 4, 40,
            300, 3000, 400, 4000,
        }));
        // Stride 1 with a 2×2 kernel of ones: overlapping stamps add into a 3×3; pad 1 crops it to its middle element.
        var ones = Run(() => Ops.ConvTranspose2d(T(x, 1, 2, 2, 1), T([1, 1, 1, 1], 1, 2, 2, 1), T([0.25], 1), 1, 0));
        Assert.That(ones.Data, Is.EqualTo(new double[] { 1.25, 3.25, 2.25, 4.25, 10.25, 6.25, 3.25, 7.25, 4.25 }));
        var cropped = Run(() => Ops.ConvTranspose2d(T(x, 1, 2, 2, 1), T([1, 1, 1, 1], 1, 2, 2, 1), null, 1, 1));
        Assert.That(cropped.Data, Is.EqualTo(new double[] { 10 }));
    }

    // <conv(x), y> = <x, convT(y)>: conv's weight (OC, KH, KW, C) is conv-transpose's (Cin, KH, KW, Cout) with Cin =
    // OC. (N, H, W, C, OC, K_H, K_W, S, P, OutputPad): output padding recovers H and W (both axes have the same
    // remainder).
    [TestCase(2, 7, 9, 3, 4, 3, 3, 2, 1, 0)]
    [TestCase(1, 8, 6, 2, 3, 3, 3, 2, 1, 1)]
    [TestCase(2, 8, 11, 1, 2, 4, 4, 3, 1, 0)]
    [TestCase(1, 9, 5, 3, 2, 3, 2, 3, 2, 1)]
    [TestCase(1, 5, 6, 2, 2, 2, 3, 1, 0, 0)]
    public void ConvTranspose2d_is_the_adjoint_of_Conv2d(int n, int h, int w, int c, int oc, int kh, int kw, int s,
        int p, int op)
    {
        var g = ConvGeometry.Conv(n, h, w, c, kh, kw, s, p);
        var x = U(n * h * w * c, 31); var wt = U(oc * kh * kw * c, 32); var y = U(g.Rows * oc, 33);
        var cx = Run(() => Ops.Conv2d(T(x, n, h, w, c), T(wt, oc, kh, kw, c), null, s, p));
        var ty = Run(() => Ops.ConvTranspose2d(T(y, n, g.OH, g.OW, oc), T(wt, oc, kh, kw, c), null, s, p, op));
        Assert.That(ty.Shape, Is.EqualTo(new Shape(n, h, w, c)), "output padding should recover the conv's input size");
        double lhs = Dot(cx.Data, y), rhs = Dot(x, ty.Data);
        Assert.That(lhs, Is.EqualTo(rhs).Within(1e-12 * (Math.Abs(lhs) + 1)), "<conv(x), y> vs <x, convT(y)>");
    }

    [Test]
    public void Bad_shapes_throw_clear_argument_exceptions()
    {
        var tape = Tape<double>.Current;
        tape.Reset();
        var x = T(U(2 * 5 * 5 * 3, 40), 2, 5, 5, 3);
        void Throws(TestDelegate f, string fragment) =>
            Assert.That(Assert.Throws<ArgumentException>(f)!.Message, Does.Contain(fragment));
        Throws(() => Ops.Conv2d(T(U(75, 1), 5, 5, 3), T(U(27, 2), 1, 3, 3, 3), null, 1, 0), "must be (N, H, W, C)");
        Throws(() => Ops.Conv2d(x, T(U(8, 2), 2, 2, 2), null, 1, 0), "must be (OC, KH, KW, C)");
        Throws(() => Ops.Conv2d(x, T(U(16, 2), 2, 2, 2, 2), null, 1, 0), "has C = 2, but x (2, 5, 5, 3) has C = 3");
        Throws(() => Ops.Conv2d(x, T(U(24, 2), 2, 2, 2, 3), T(U(3, 3), 3), 1, 0), "bias (3) must be (2)");
        Throws(() => Ops.Conv2d(x, T(U(24, 2), 2, 2, 2, 3), null, 0, 0), "stride 0");
        Throws(() => Ops.Conv2d(x, T(U(24, 2), 2, 2, 2, 3), null, 1, -1), "padding -1");
        Throws(() => Ops.Conv2d(x, T(U(2 * 8 * 8 * 3, 2), 2, 8, 8, 3), null, 1, 1), "larger than the padded input");
        Throws(() => Ops.ConvTranspose2d(x, T(U(2 * 4 * 3, 2), 2, 2, 2, 3), null, 2, 0),
            "has Cin = 2, but x (2, 5, 5, 3) has C = 3");
        Throws(() => Ops.ConvTranspose2d(x, T(U(3 * 4 * 2, 2), 3, 2, 2, 2), null, 2, 0, 2), "output padding 2");
        Throws(() => Ops.ConvTranspose2d(x, T(U(3 * 4 * 2, 2), 3, 2, 2, 2), null, 1, 4), "empty output");
        Throws(() => Ops.ConvTranspose2d(x, T(U(3 * 4 * 2, 2), 3, 2, 2, 2), T(U(3, 3), 3), 1, 0),
            "bias (3) must be (2)");
        tape.Reset();
    }

    [Test]
    public void Geometry_validate_rejects_a_grid_that_does_not_match()
    {
        Assert.That(Assert.Throws<ArgumentException>(() => new ConvGeometry(1, 7, 7, 1, 3, 3, 2, 1, 5,
            4).Validate())!.Message, Does.Contain("expected 4×4"));
        Assert.Throws<ArgumentException>(() => new ConvGeometry(0, 7, 7, 1, 3, 3, 2, 1, 4, 4).Validate());
        Assert.Throws<ArgumentException>(() => new ConvGeometry(1 << 20, 64, 64, 64, 3, 3, 1, 1, 64, 64).Validate());
        Assert.DoesNotThrow(() => new ConvGeometry(1, 7, 7, 1, 3, 3, 2, 1, 4, 4).Validate());
        // The model's six layers.
        Assert.That(ConvGeometry.Conv(256, 28, 28, 1, 4, 4, 2, 1) is
        {
            OH: 14, OW: 14, Rows: 256 * 196,
            PatchLength: 16
        });
        Assert.That(ConvGeometry.Conv(256, 14, 14, 32, 4, 4, 2, 1) is { OH: 7, OW: 7, PatchLength: 512 });
        Assert.That(ConvGeometry.Conv(256, 7, 7, 64, 3, 3, 2, 1) is { OH: 4, OW: 4, PatchLength: 576 });
        Assert.That(ConvGeometry.Transposed(256, 4, 4, 64, 3, 3, 2, 1, 0) is
        {
            H: 7, W: 7, OH: 4, OW: 4,
            PatchLength: 576
        });
        Assert.That(ConvGeometry.Transposed(256, 7, 7, 32, 4, 4, 2, 1, 0) is { H: 14, W: 14, PatchLength: 512 });
        Assert.That(ConvGeometry.Transposed(256, 14, 14, 1, 4, 4, 2, 1, 0) is { H: 28, W: 28, PatchLength: 16 });
    }

    [Test]
    public void A_warm_conv_step_allocates_nothing()
    {
        // Encoder conv → batch norm → leaky relu → decoder conv-transpose back to the input, float, forward + backward.
        var tape = Tape<float>.Current;
        tape.Reset();
        var x = Tensor<float>.From(Rand.UniformF(8 * 14 * 14 * 3, 50), new Shape(8, 14, 14, 3));
        var w1 = Tensor<float>.From(Rand.UniformF(16 * 4 * 4 * 3, 51), new Shape(16, 4, 4, 3), requiresGrad: true);
        var b1 = Tensor<float>.From(Rand.UniformF(16, 52), new Shape(16), requiresGrad: true);
        var gamma = Tensor<float>.From(Rand.UniformF(16, 53, 0.5, 1.5), new Shape(16), requiresGrad: true);
        var beta = Tensor<float>.From(Rand.UniformF(16, 54), new Shape(16), requiresGrad: true);
        var rm = Tensor<float>.Zeros(new Shape(16)); var rv = Tensor<float>.From(Enumerable.Repeat(1f, 16).ToArray(),
            new Shape(16));
        var w2 = Tensor<float>.From(Rand.UniformF(16 * 4 * 4 * 3, 55), new Shape(16, 4, 4, 3), requiresGrad: true);
        void Step()
        {
            var h = Ops.BatchNorm(Ops.Conv2d(x, w1, b1, 2, 1), gamma, beta, rm, rv, training: true).LeakyRelu(0.2f);
            var y = Ops.ConvTranspose2d(h, w2, null, 2, 1);
            (y * y).Sum().Backward();
            tape.Reset();
        }
        Step(); Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 3; i++) Step();
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.Zero, "bytes allocated by 3 warm steps");
    }

    /// <summary>
    /// A float encoder-decoder step at model-like sizes (batch 32 of 28×28×1): one step's output and gradients.
    /// </summary>
    static (float[] Y, float[][] Grads, float[] RunningVar) FloatStep()
    {
        var tape = Tape<float>.Current;
        tape.Reset();
        var x = Tensor<float>.From(Rand.UniformF(32 * 28 * 28, 60, 0, 1), new Shape(32, 28, 28, 1));
        Tensor<float> P(int seed, double r, params int[] shape)
            => Tensor<float>.From(Rand.UniformF(new Shape(shape).Length, seed, -r, r), new Shape(shape),
            requiresGrad: true);
        var w1 = P(61, 0.25, 32, 4, 4, 1); var b1 = P(62, 0.25, 32);
        var w2 = P(63, 0.04, 64, 4, 4, 32);
        var g2 = P(64, 1, 64); var be2 = P(65, 1, 64);
        var w3 = P(66, 0.04, 64, 4, 4, 32); var b3 = P(67, 0.1, 32);
        var w4 = P(68, 0.06, 32, 4, 4, 1); var b4 = P(69, 0.1, 1);
        var rm = Tensor<float>.Zeros(new Shape(64)); var rv = Tensor<float>.From(Enumerable.Repeat(1f, 64).ToArray(),
            new Shape(64));
        var h1 = Ops.Conv2d(x, w1, b1, 2, 1).LeakyRelu(0.2f);                                   // (32, 14, 14, 32)
        // (32, 7, 7, 64)
        var h2 = Ops.BatchNorm(Ops.Conv2d(h1, w2, null, 2, 1), g2, be2, rm, rv, true).LeakyRelu(0.2f);
        var d1 = Ops.ConvTranspose2d(h2, w3, b3, 2, 1).LeakyRelu(0.2f);                         // (32, 14, 14, 32)
        var y = Ops.ConvTranspose2d(d1, w4, b4, 2, 1);                                           // (32, 28, 28, 1)
        Ops.BceWithLogits(y, x).Sum().Backward();
        var r = (y.ToArray(), new[] { w1, b1, w2, g2, be2, w3, b3, w4, b4 }.Select(p => p.Grad!.ToArray()).ToArray(),
            rv.ToArray());
        tape.Reset();
        return r;
    }

    [Test]
    public void One_and_two_threads_give_bit_identical_conv_steps()
    {
        int saved = Workers.MaxThreads;
        try
        {
            Workers.MaxThreads = 1;
            var one = FloatStep();
            Workers.MaxThreads = 2;
            var two = FloatStep();
            Assert.That(one.Y.Any(v => v != 0) && one.Grads.All(g => g.Any(v => v != 0)),
                "a zero output or gradient would prove nothing");
            Assert.That(two.Y, Is.EqualTo(one.Y), "output");
            for (int k = 0; k < one.Grads.Length; k++)
                Assert.That(two.Grads[k], Is.EqualTo(one.Grads[k]), $"parameter {k} gradient");
            Assert.That(two.RunningVar, Is.EqualTo(one.RunningVar), "running variance");
            Assert.That(FloatStep().Y, Is.EqualTo(two.Y), "run to run");
        }
        finally { Workers.MaxThreads = saved; }
    }

    [Test]
    public void Float_ops_match_the_double_references_at_model_sizes()
    {
        // The float path through CpuBackend (kernels + SIMD GEMM) against the direct double loops.
        int n = 16;
        var x = Rand.Uniform(n * 14 * 14 * 32, 70); var w = Rand.Uniform(64 * 4 * 4 * 32, 71, -0.05, 0.05);
        var b = Rand.Uniform(64, 72);
        var g = ConvGeometry.Conv(n, 14, 14, 32, 4, 4, 2, 1);
        var conv = new double[g.Rows * 64];
        Reference.Conv2d(x, w, b, g, 64, conv);
        var tape = Tape<float>.Current;
        tape.Reset();
        float[] F(double[] v) => Array.ConvertAll(v, d => (float)d);
        var y = Ops.Conv2d(Tensor<float>.From(F(x), new Shape(n, 14, 14, 32)),
            Tensor<float>.From(F(w), new Shape(64, 4, 4, 32)), Tensor<float>.From(F(b), new Shape(64)), 2, 1);
        Close.Assert(conv, y.ToArray(), 1e-4, 1e-4, "conv2d float");
        // Conv-transpose back with the same weight, into (n, 14, 14, 32).
        var gt = ConvGeometry.Transposed(n, 7, 7, 32, 4, 4, 2, 1, 0);
        var convT = new double[gt.ImageLength];
        Reference.ConvTranspose2d(conv, w, [], gt, 64, convT);
        var t = Ops.ConvTranspose2d(y, Tensor<float>.From(F(w), new Shape(64, 4, 4, 32)), null, 2, 1);
        Close.Assert(convT, t.ToArray(), 1e-3, 1e-4, "conv_transpose2d float");
        tape.Reset();
    }

    static double Dot(double[] a, double[] b)
    {
        double s = 0; for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    static Tensor<double> T(double[] data, params int[] shape) => Tensor<double>.From(data, new Shape(shape));

    static (Shape Shape, double[] Data) Run(Func<Tensor<double>> f)
    {
        var tape = Tape<double>.Current;
        tape.Reset();
        var y = f();
        var r = (y.Shape, y.ToArray());
        tape.Reset();
        return r;
    }
}
