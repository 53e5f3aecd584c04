using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Gpu;

namespace InfoVae.Tests.Engine;

/// <summary>
/// Concat's forward and backward against results built by hand, on the CPU backend and on ILGPU's CPU accelerator:
/// small literal cases, then every axis of ranks 1 to 4 with three inputs of different sizes along the axis (one of
/// them empty), against an element-by-element construction that shares nothing with the op's window arithmetic.
/// </summary>
[TestFixture("cpu")]
[TestFixture("ilgpu-cpu")]
public class ConcatTests(string device)
{
    IBackend<float> be = null!;

    [OneTimeSetUp] public void Up() => be = device == "cpu" ? CpuBackend<float>.Instance : Devices.StartIlgpuCpu();

    [OneTimeTearDown]
    public void Down()
    {
        Tape<float>.Current.Reset();
        (be as IlgpuBackend)?.Dispose();
    }

    [SetUp] public void Clean() => Tape<float>.Current.Reset();

    Tensor<float> T(float[] v, params int[] shape) => Tensor<float>.From(v, new Shape(shape), be, requiresGrad: true);

    [Test]
    public void Literal_rows_then_columns_then_a_middle_axis()
    {
        var a = T([1, 2, 3, 4], 2, 2);
        Assert.That(Ops.Concat(0, a, T([5, 6], 1, 2)).ToArray(), Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6 }));
        Assert.That(Ops.Concat(1, a, T([5, 6], 2, 1)).ToArray(), Is.EqualTo(new float[] { 1, 2, 5, 3, 4, 6 }));
        Assert.That(Ops.Concat(-1, T([5, 6], 2, 1), a).ToArray(), Is.EqualTo(new float[] { 5, 1, 2, 6, 3, 4 }));
        // (2, 1, 2) and (2, 2, 2) along axis 1: per outer index, the first's row then the second's two rows.
        var y = Ops.Concat(1, T([1, 2, 3, 4], 2, 1, 2), T([10, 11, 12, 13, 14, 15, 16, 17], 2, 2, 2));
        Assert.That(y.Shape, Is.EqualTo(new Shape(2, 3, 2)));
        Assert.That(y.ToArray(), Is.EqualTo(new float[] { 1, 2, 10, 11, 12, 13, 3, 4, 14, 15, 16, 17 }));
    }

    static IEnumerable<TestCaseData> Axes()
    {
        int[][] shapes = [[5], [3, 4], [2, 3, 5], [2, 3, 4, 3]];
        foreach (var s in shapes)
            for (int axis = 0; axis < s.Length; axis++)
                yield return new TestCaseData(s, axis).SetArgDisplayNames($"rank {s.Length}", $"axis {axis}");
    }

    [TestCaseSource(nameof(Axes))]
    public void Every_axis_against_an_element_by_element_construction(int[] baseShape, int axis)
    {
        int[] sizes = [2, 0, 3];                               // along the axis; the empty one has no window
        var shapes = sizes.Select(n => { var s = (int[])baseShape.Clone(); s[axis] = n; return s; }).ToArray();
        // Input k's element at flat index i is 1000·(k + 1) + i: every value says where it came from.
        var data = shapes.Select((s, k) => Enumerable.Range(0, Product(s)).Select(i => 1000f * (k + 1) + i).ToArray())
            .ToArray();
        var inputs = data.Select((d, k) => T(d, shapes[k])).ToArray();
        var y = Ops.Concat(axis, inputs);

        var outShape = (int[])baseShape.Clone(); outShape[axis] = sizes.Sum();
        Assert.That(y.Shape, Is.EqualTo(new Shape(outShape)));
        var expected = new float[Product(outShape)];
        var seed = Enumerable.Range(0, expected.Length).Select(i => 0.5f * i - 7).ToArray();
        var expectedGrads = shapes.Select(s => new float[Product(s)]).ToArray();
        foreach (var index in Indices(outShape))
        {
            // Which input holds this position along the axis, and where in that input.
            int along = index[axis], k = 0;
            while (along >= sizes[k]) { along -= sizes[k]; k++; }
            var local = (int[])index.Clone(); local[axis] = along;
            int o = Flat(index, outShape), i = Flat(local, shapes[k]);
            expected[o] = data[k][i];
            expectedGrads[k][i] = seed[o];
        }
        Assert.That(y.ToArray(), Is.EqualTo(expected), "forward");

        y.Backward(Tensor<float>.From(seed, y.Shape, be));
        for (int k = 0; k < inputs.Length; k++)
            Assert.That(inputs[k].Grad?.ToArray() ?? [], Is.EqualTo(expectedGrads[k]), $"gradient of input {k}");
    }

    static int Product(int[] s) => s.Aggregate(1, (a, b) => a * b);

    static int Flat(int[] index, int[] shape)
    {
        int f = 0;
        for (int d = 0; d < shape.Length; d++) f = f * shape[d] + index[d];
        return f;
    }

    static IEnumerable<int[]> Indices(int[] shape)
    {
        var index = new int[shape.Length];
        for (int n = Product(shape), c = 0; c < n; c++)
        {
            yield return (int[])index.Clone();
            for (int d = shape.Length - 1; d >= 0 && ++index[d] == shape[d]; d--) index[d] = 0;
        }
    }
}
