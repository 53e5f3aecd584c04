using InfoVae.Engine;
using InfoVae.Kernels;

namespace InfoVae.Tests.Engine;

/// <summary>
/// Element counts are ints everywhere (arrays, spans, the pools, ILGPU's launches): a shape of 2³¹ elements or more
/// is refused in one line when it is made, instead of wrapping around to a small or negative count.
/// </summary>
public class SizeTests
{
    static readonly TestCaseData[] TooLarge =
    [
        new TestCaseData(new[] { 65536, 32768 }, "2,147,483,648").SetName("Exactly 2^31 elements are refused"),
        new TestCaseData(new[] { 65536, 65536 }, "4,294,967,296").SetName("2^32 elements (wraps to 0) are refused"),
        new TestCaseData(new[] { 46341, 46341 }, "2,147,488,281").SetName("46341^2 (wraps negative) is refused"),
        new TestCaseData(new[] { 256, 256, 256, 256 }, "4,294,967,296").SetName("A rank-4 product of 2^32 is refused"),
        new TestCaseData(new[] { 1 << 30, 1 << 30, 1 << 30, 4 }, "4,951,760,157,141,521,099,596,496,896")
            .SetName("A product past long's range is refused"),
    ];

    [TestCaseSource(nameof(TooLarge))]
    public void Shape(int[] dims, string elements)
    {
        var e = Assert.Throws<TensorTooLargeException>(() => _ = new Shape(dims))!;
        Assert.That(e.Message, Is.EqualTo($"a tensor of shape ({string.Join(" × ", dims)}) would hold {elements} "
            + "elements; one buffer holds at most 2,147,483,647 (2³¹ − 1)"));
        Assert.That(e, Is.InstanceOf<ArgumentException>());
    }

    [Test]
    public void The_largest_shapes_that_fit_keep_their_length()
    {
        Assert.That(new Shape(46340, 46340).Length, Is.EqualTo(2_147_395_600));
        Assert.That(new Shape(int.MaxValue).Length, Is.EqualTo(int.MaxValue));
        Assert.That(new Shape(1 << 30, 1 << 30, 0).Length, Is.Zero, "an empty tensor is not too large");
        Assert.That(InfoVae.Engine.Shape.Scalar.Length, Is.EqualTo(1));
        Assert.That(new Shape(3, 1, 4, 5).Length, Is.EqualTo(60));
    }

    [Test]
    public void Broadcasting_to_too_many_elements_is_refused()
    {
        Assert.Throws<TensorTooLargeException>(
            () => InfoVae.Engine.Shape.Broadcast(new Shape(65536, 1), new Shape(1, 65536)));
    }
}
