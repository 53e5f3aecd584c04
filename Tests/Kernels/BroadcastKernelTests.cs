using System.Numerics;
using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Kernels;
using InfoVae.Kernels.Cpu;
using InfoVae.Kernels.Reference;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Kernels.KernelCheck;

namespace InfoVae.Tests.Kernels;

/// <summary>
/// Broadcast.Binary and Broadcast.ReduceInto (rank-4 strides) against Reference's shape-only NumPy broadcasting,
/// and CpuBackend.Binary, which turns shapes into those strides.
/// </summary>
[TestFixture(typeof(float))]
[TestFixture(typeof(double))]
public class BroadcastKernelTests<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Operand shape pairs built from n: a row, a column against a row, a scalar-like (1), rank 3 and 4.
    /// </summary>
    static (int[] A, int[] B)[] Pairs(int n) =>
    [
        ([2, n], [n]),
        ([n, 1], [1, 3]),
        ([n], [1]),
        ([1], [n]),
        ([2, 1, n], [3, 1]),
        ([2, n, 1, 3], [1, 1, 2, 1]),
    ];

    // The kernel's view: the output shape padded to rank 4 and an operand's element strides in it (0 = repeated).
    static int[] Dims(int[] outShape) => [.. Enumerable.Repeat(1, 4 - outShape.Length), .. outShape];

    static int[] Strides(int[] shape, int[] dims)
    {
        var padded = Dims(shape);
        var s = new int[4];
        for (int i = 3, stride = 1; i >= 0; i--)
        {
            s[i] = padded[i] == 1 && dims[i] != 1 ? 0 : stride;
            stride *= padded[i];
        }
        return s;
    }

    static readonly (string Name, Func<double, double, double> F)[] Ops =
        [("add", (a, b) => a + b), ("sub", (a, b) => a - b), ("mul", (a, b) => a * b), ("div", (a, b) => a / b)];

    static void Run(string op, ReadOnlySpan<T> a, int[] sa, ReadOnlySpan<T> b, int[] sb, int[] dims,
        Span<T> destination)
    {
        switch (op)
        {
            case "add": Broadcast.Binary<T, AddOp<T>>(a, sa, b, sb, dims, destination); break;
            case "sub": Broadcast.Binary<T, SubOp<T>>(a, sa, b, sb, dims, destination); break;
            case "mul": Broadcast.Binary<T, MulOp<T>>(a, sa, b, sb, dims, destination); break;
            default: Broadcast.Binary<T, DivOp<T>>(a, sa, b, sb, dims, destination); break;
        }
    }

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Binary(int n)
    {
        foreach (var (sa, sb) in Pairs(n))
            foreach (var (name, f) in Ops)
                foreach (bool specials in new[] { false, true })
                {
                    int[] shape = Reference.BroadcastShape(sa, sb), dims = Dims(shape);
                    int count = Reference.Count(shape), seed = count + sa.Length * 10 + sb.Length;
                    var a = Uniform<T>(Reference.Count(sa), seed, -2, 2);
                    var b = Uniform<T>(Reference.Count(sb), seed + 1, 0.5, 2);   // away from 0 for div
                    if (specials) { Plant(a, seed); Plant(b, seed + 2); }
                    var e = new double[count];
                    Reference.BroadcastBinary(ToDouble<T>(a), sa, ToDouble<T>(b), sb, f, e);
                    string label =
                        $"{name} [{string.Join(",", sa)}] ∘ [{string.Join(",", sb)}]{(specials ? " specials" : "")}";
                    var c = Guarded<T>(count);
                    Run(name, a, Strides(sa, dims), b, Strides(sb, dims), dims, c);
                    Close<T>(e, c.AsSpan(0, count), default, Tolerance<T>(), label, zeroSign: true);
                    GuardIntact(c, count, label);

                    // In place into the operand that already has the full shape.
                    if (Reference.Count(sa) == count)
                    {
                        var same = (T[])a.Clone();
                        Run(name, same, Strides(sa, dims), b, Strides(sb, dims), dims, same);
                        Identical<T>(c.AsSpan(0, count), same, label + " in place");
                    }
                }
    }

    [TestCaseSource(typeof(KernelCheck), nameof(Lengths))]
    public void Reduce_into(int n)
    {
        foreach (var (sa, sb) in Pairs(n))
            foreach (var target in new[] { sa, sb })
            {
                int[] shape = Reference.BroadcastShape(sa, sb), dims = Dims(shape);
                int count = Reference.Count(shape), m = Reference.Count(target), seed = count * 5 + target.Length;
                var g = Uniform<T>(count, seed, -2, 2);
                var d0 = Uniform<T>(m, seed + 1, -1, 1);
                var gd = ToDouble<T>(g);
                double[] sum = new double[m], abs = new double[m];
                Reference.SumToShape(gd, shape, target, sum);
                Reference.SumToShape(Array.ConvertAll(gd, Math.Abs), shape, target, abs);
                var d0d = ToDouble<T>(d0);
                double[] e = new double[m], s = new double[m];
                for (int k = 0; k < m; k++) { e[k] = d0d[k] + sum[k]; s[k] = Math.Abs(d0d[k]) + abs[k]; }
                var d = Guarded<T>(m, d0);
                Broadcast.ReduceInto<T>(g, dims, Strides(target, dims), d);
                string label = $"reduce [{string.Join(",", shape)}] into [{string.Join(",", target)}]";
                Close<T>(e, d.AsSpan(0, m), s, SumTolerance<T>(count / Math.Max(m, 1)), label);
                GuardIntact(d, m, label);
            }
    }

    static void BackendBinary<TOp>(CpuBackend<T> be, Tensor<T> a, Tensor<T> b, Tensor<T> c)
        where TOp : struct, IBinaryFunction => be.Binary<TOp>(a, b, c);

    /// <summary>
    /// The backend's shape → stride step, on the shapes the model and the engine tests use, including rank 0.
    /// </summary>
    [Test]
    public void Cpu_backend_binary_broadcasts_like_numpy()
    {
        (int[] A, int[] B)[] pairs = [([64, 16], [16]), ([16], [64, 16]), ([64, 1], [64, 16]), ([], [3, 5]),
            ([2, 3, 5], [2, 3, 1]), ([3, 1], [1, 3, 4]), ([7, 5], [7, 5])];
        var be = CpuBackend<T>.Instance;
        foreach (var (sa, sb) in pairs)
            foreach (var (name, f) in Ops)
            {
                var a = Uniform<T>(Reference.Count(sa), 1, -2, 2);
                var b = Uniform<T>(Reference.Count(sb), 2, 0.5, 2);
                int[] shape = Reference.BroadcastShape(sa, sb);
                var ta = Tensor<T>.From(a, new Shape(sa)); var tb = Tensor<T>.From(b, new Shape(sb));
                var tc = Tensor<T>.Zeros(new Shape(shape));
                var op = OpStructs.Binary.Single(t => t.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
                OpStructs.Call(GetType(), nameof(BackendBinary), op, be, ta, tb, tc);
                var e = new double[Reference.Count(shape)];
                Reference.BroadcastBinary(ToDouble<T>(a), sa, ToDouble<T>(b), sb, f, e);
                Close<T>(e, tc.ToArray(), default, Tolerance<T>(),
                    $"backend {name} [{string.Join(",", sa)}] ∘ [{string.Join(",", sb)}]");
                ta.Dispose(); tb.Dispose(); tc.Dispose();
            }
    }

    [Test]
    public void Throw_for_too_short_destination_or_operand()
    {
        int[] dims = [1, 1, 3, 4], full = [0, 0, 4, 1], row = [0, 0, 0, 1];
        var ex = Assert.Throws<ArgumentException>(() => Broadcast.Binary<T, AddOp<T>>(new T[12], full, new T[4], row,
            dims, new T[11]));
        Assert.That(ex!.ParamName, Is.EqualTo("destination"));
        ex = Assert.Throws<ArgumentException>(() => Broadcast.Binary<T, AddOp<T>>(new T[12], full, new T[3], row, dims,
            new T[12]));
        Assert.That(ex!.ParamName, Is.EqualTo("y"));
        ex = Assert.Throws<ArgumentException>(() => Broadcast.ReduceInto<T>(new T[12], dims, row, new T[3]));
        Assert.That(ex!.ParamName, Is.EqualTo("destination"));
        Assert.Throws<ArgumentException>(() => Broadcast.ReduceInto<T>(new T[11], dims, row, new T[4]));
    }
}
