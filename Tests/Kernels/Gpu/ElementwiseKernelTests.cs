using ILGPU;
using ILGPU.Runtime;
using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Kernels;
using InfoVae.Kernels.Gpu;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Kernels.Gpu.GpuTestAccelerator;

namespace InfoVae.Tests.Kernels.Gpu;

/// <summary>
/// Unary and binary elementwise kernels (forward and backward, broadcasting included) on the CPU accelerator
/// against the CPU backend run in double on the same (float-rounded) inputs.
/// </summary>
public class ElementwiseKernelTests
{
    static readonly CpuBackend<double> Cpu = CpuBackend<double>.Instance;
    const double Atol = 1e-6, Rtol = 1e-5;

    static Tensor<double> T(double[] v, params int[] shape) => Tensor<double>.From(v, new Shape(shape));

    static double[] InputsFor(string op, int n, int seed) => F(op switch
    {
        "log" or "sqrt" => Rand.Uniform(n, seed, 0.05, 4),
        "relu" or "leaky_relu" => Rand.AwayFromZero(n, seed, 0.01, 3),
        "softplus" => Rand.Uniform(n, seed, -30, 30),      // both tails: log1p of a tiny exp, and the linear branch
        _ => Rand.Uniform(n, seed, -4, 4),
    });

    static IEnumerable<TestCaseData> UnaryCases()
    {
        foreach (var op in OpStructs.Unary)
            foreach (int n in new[] { 1, 17, 33 * 5 })
                yield return new TestCaseData(op, n).SetArgDisplayNames(op.Name, n.ToString());
    }

    [TestCaseSource(nameof(UnaryCases))]
    public void Unary_forward_and_backward_match_the_cpu_backend(Type op, int n) =>
        OpStructs.Call(typeof(ElementwiseKernelTests), nameof(UnaryMatches), op, K, n);

    [Test]
    public void Unary_forward_and_backward_match_the_cpu_backend_with_production_groups()
    {
        // Warps of 32 on 4 multiprocessors; 300 elements = 9 full groups and a ragged one.
        foreach (var op in OpStructs.Unary)
            OpStructs.Call(typeof(ElementwiseKernelTests), nameof(UnaryMatches), op, Production, 300);
    }

    static void UnaryMatches<TOp>(GpuKernels k, int n) where TOp : struct, IUnaryFunction
    {
        string op = TOp.Name;
        float p = op switch { "leaky_relu" => 0.2f, "add_scalar" => 1.75f, "mul_scalar" => -0.625f, _ => 0f };
        var x = InputsFor(op, n, 100 + n);
        var dy = F(Rand.Uniform(n, 200 + n));
        var dx0 = F(Rand.Uniform(n, 300 + n));             // backward accumulates: start from non-zero

        var cx = T(x, n); var cy = T(new double[n], n); var cdx = T((double[])dx0.Clone(), n);
        Cpu.Unary<TOp>(cx, cy, p);
        Cpu.UnaryBackward<TOp>(cx, cy, T(dy, n), cdx, p);

        using var gx = Dev(x); using var gy = Zeros(n); using var gdy = Dev(dy); using var gdx = Dev(dx0);
        k.Map<TOp>(gx.View, gy.View, p);
        var y = Host(gy);
        // Backward from the CPU's y, so that only the derivative is under test here.
        using var gyRef = Dev(cy.ToArray());
        k.MapBackward<TOp>(gx.View, gyRef.View, gdy.View, gdx.View, p);
        Close.Assert(cy.ToArray(), y, Atol, Rtol, $"{op} forward");
        Close.Assert(cdx.ToArray(), Host(gdx), Atol, Rtol, $"{op} backward");
    }

    [Test]
    public void Relu_and_leaky_relu_gradients_at_zero()
    {
        using var x = Dev(new[] { -1f, 0f, 1f }); using var y = Zeros(3); using var dy = Dev(new[] { 1f, 1f, 1f });
        using var dRelu = Zeros(3); using var dLeaky = Zeros(3);
        K.MapBackward<UnaryOps.Relu>(x.View, y.View, dy.View, dRelu.View, 0f);
        K.MapBackward<UnaryOps.LeakyRelu>(x.View, y.View, dy.View, dLeaky.View, 0.25f);
        Assert.That(Host(dRelu), Is.EqualTo(new[] { 0f, 0f, 1f }));
        Assert.That(Host(dLeaky), Is.EqualTo(new[] { 0.25f, 0.25f, 1f }));
    }

    [Test]
    public void A_nan_upstream_gradient_stays_nan_through_relu_as_on_the_cpu()
    {
        // x ≤ 0 with dy = NaN: the CPU's dx += 0·dy is NaN (a NaN gradient must not vanish before the anomaly check
        // sees it); the GPU gave 0. x > 0 passes NaN on both. Also the sign of a zero: 0·(−2) = −0 on both.
        float[] xs = [-1f, 0f, 2f, -3f], dys = [float.NaN, float.NaN, float.NaN, -2f];
        var cpuF = CpuBackend<float>.Instance;
        var fx = Tensor<float>.From(xs, new Shape(4)); var fdy = Tensor<float>.From(dys, new Shape(4));
        var fdx = Tensor<float>.From([-0f, 0f, 0f, -0f], new Shape(4));
        cpuF.UnaryBackward<UnaryOps.Relu>(fx, fx, fdy, fdx, 0f);
        var expected = fdx.ToArray();
        using var x = Dev(xs); using var dy = Dev(dys); using var dx = Dev(new[] { -0f, 0f, 0f, -0f });
        K.MapBackward<UnaryOps.Relu>(x.View, x.View, dy.View, dx.View, 0f);
        var got = Host(dx);
        Assert.That(got.Take(3).All(float.IsNaN) && expected.Take(3).All(float.IsNaN),
            $"NaN in: CPU {string.Join(", ", expected)}, GPU {string.Join(", ", got)}");
        Assert.That(BitConverter.SingleToInt32Bits(got[3]), Is.EqualTo(BitConverter.SingleToInt32Bits(expected[3])),
            "−0 + 0·(−2)");
    }

    [Test]
    public void Tanh_is_within_its_stated_tolerance_everywhere()
    {
        // GpuMath.Tanh (from Exp; XMath.Tanh is tanh.approx on a GPU): both sides of the series switch at 1/8, small,
        // saturated, ±0 and NaN, against double, to GpuTolerances.Tanh (measured here with the CPU's Exp).
        var xs = new List<float> { 0f, -0f, 1e-30f, 1e-8f, 0.1f, 0.12499f, 0.125f, 0.12501f, 0.3f, 1f, 3f, 8.9f,
            9.1f, 20f, 88f, 1e30f, float.PositiveInfinity };
        xs.AddRange(xs.Select(v => -v).ToList());
        xs.AddRange(Rand.UniformF(200, 62, -6, 6));
        foreach (float x in xs)
        {
            float t = GpuMath.Tanh(x);
            double e = Math.Tanh(x);
            Assert.That(t, Is.EqualTo(e).Within(GpuTolerances.Tanh * Math.Abs(e) + 1e-45), $"tanh({x:R})");
        }
        Assert.That(float.IsNaN(GpuMath.Tanh(float.NaN)));
        Assert.That(BitConverter.SingleToInt32Bits(GpuMath.Tanh(-0f)),
            Is.EqualTo(BitConverter.SingleToInt32Bits(-0f)), "tanh(−0) = −0");
    }

    [Test]
    public void Relu_keeps_nan()
    {
        using var x = Dev(new[] { float.NaN, -2f }); using var y = Zeros(2);
        K.Map<UnaryOps.Relu>(x.View, y.View, 0f);
        var r = Host(y);
        Assert.That(float.IsNaN(r[0]) && r[1] == 0f, $"relu gave {r[0]}, {r[1]}");
    }

    static IEnumerable<TestCaseData> BinaryCases()
    {
        var shapes = new (int[] A, int[] B)[]
        {
            ([1], [1]), ([17], [17]), ([33, 5], [33, 5]),
            ([33, 5], [5]),            // bias row vector
            ([5], [31, 5]),            // the broadcast operand first
            ([3, 1], [1, 3, 4]),       // both operands broadcast
            ([2, 3, 5], [2, 3, 1]),    // a column
            ([], [3, 7]),              // a scalar tensor
        };
        foreach (var op in OpStructs.Binary)
            foreach (var (a, b) in shapes)
                yield return new TestCaseData(op, a, b).SetArgDisplayNames(op.Name, $"({string.Join(",", a)})",
                    $"({string.Join(",", b)})");
    }

    [TestCaseSource(nameof(BinaryCases))]
    public void Binary_forward_and_backward_match_the_cpu_backend(Type op, int[] shapeA, int[] shapeB) =>
        OpStructs.Call(typeof(ElementwiseKernelTests), nameof(BinaryMatches), op, shapeA, shapeB);

    static void BinaryMatches<TOp>(int[] shapeA, int[] shapeB) where TOp : struct, IBinaryFunction
    {
        string op = TOp.Name;
        Shape sa = new(shapeA), sb = new(shapeB), sc = Shape.Broadcast(sa, sb);
        var a = F(Rand.Uniform(sa.Length, 11));
        var b = F(op == "div" ? Rand.AwayFromZero(sb.Length, 12, 0.5, 2) : Rand.Uniform(sb.Length, 12));
        var dy = F(Rand.Uniform(sc.Length, 13));
        var da0 = F(Rand.Uniform(sa.Length, 14)); var db0 = F(Rand.Uniform(sb.Length, 15));

        var ca = Tensor<double>.From(a, sa); var cb = Tensor<double>.From(b, sb); var cc = Tensor<double>.Zeros(sc);
        var cda = Tensor<double>.From(da0, sa); var cdb = Tensor<double>.From(db0, sb);
        Cpu.Binary<TOp>(ca, cb, cc);
        Cpu.BinaryBackward<TOp>(ca, cb, Tensor<double>.From(dy, sc), cda, cdb);

        Broadcast4? layout = sa == sb ? null : Broadcast4.Create(sc.ToArray(), sa.ToArray(), sb.ToArray());
        using var ga = Dev(a); using var gb = Dev(b); using var gc = Zeros(sc.Length); using var gdy = Dev(dy);
        using var gda = Dev(da0); using var gdb = Dev(db0);
        if (layout is { } s)
        {
            K.Binary<TOp>(ga.View, gb.View, gc.View, s);
            K.BinaryBackward<TOp>(ga.View, gb.View, gdy.View, gda.View, gdb.View, s);
        }
        else
        {
            K.Binary<TOp>(ga.View, gb.View, gc.View);
            K.BinaryBackward<TOp>(ga.View, gb.View, gdy.View, gda.View, gdb.View);
        }
        Close.Assert(cc.ToArray(), Host(gc), Atol, Rtol, $"{op} forward");
        Close.Assert(cda.ToArray(), Host(gda), Atol, Rtol, $"{op} da");
        Close.Assert(cdb.ToArray(), Host(gdb), Atol, Rtol, $"{op} db");
    }

    [Test]
    public void Broadcast_backward_skips_an_empty_side()
    {
        var s = Broadcast4.Create([4, 3], [4, 3], [3]);
        using var a = Dev(new float[12]); using var b = Dev(new float[] { 1, 2, 3 });
        using var dy = Dev(Enumerable.Range(0, 12).Select(i => (float)i).ToArray());
        using var db = Zeros(3);
        K.BinaryBackward<BinaryOps.Add>(a.View, b.View, dy.View, default, db.View, s);
        // Column sums of 0..11 laid out (4, 3): 0+3+6+9, 1+4+7+10, 2+5+8+11.
        Assert.That(Host(db), Is.EqualTo(new[] { 18f, 22f, 26f }));
    }
}
