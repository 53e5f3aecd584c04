using System.Globalization;

namespace InfoVae.Kernels;

/// <summary>
/// A buffer would need 2³¹ elements or more. Tensors, pooled buffers, spans and ILGPU's 1-D launches all count
/// elements in an int, so such a size is refused here, in one line naming it, instead of wrapping around to a small
/// or negative count. An ArgumentException: the caller asked for a size that cannot exist.
/// </summary>
public sealed class TensorTooLargeException(string message) : ArgumentException(message);

/// <summary>Element counts and index ranges computed in long and checked against int's range before use.</summary>
public static class Sizes
{
    /// <summary>The largest element count a buffer may have: 2³¹ − 1.</summary>
    public const int MaxElements = int.MaxValue;

    /// <summary>
    /// The product of <paramref name="dims"/> (each ≥ 0), or a <see cref="TensorTooLargeException"/> naming
    /// <paramref name="what"/> and the dimensions.
    /// </summary>
    public static int Product(string what, params ReadOnlySpan<int> dims)
    {
        foreach (int d in dims)
        {
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(dims), $"{what}: negative size {d}");
            if (d == 0) return 0;
        }
        long n = 1;
        foreach (int d in dims)
        {
            n *= d;                        // at most 2³¹ · 2³¹ before the check: long does not overflow
            if (n <= MaxElements) continue;
            double all = 1;
            foreach (int e in dims) all *= e;
            throw TooLarge($"{what} ({string.Join(" × ", dims.ToArray())})", all);
        }
        return (int)n;
    }

    /// <summary>
    /// <paramref name="count"/> as an int, or a <see cref="TensorTooLargeException"/> naming <paramref name="what"/>.
    /// </summary>
    public static int Checked(long count, string what) =>
        count is >= 0 and <= MaxElements ? (int)count : throw TooLarge(what, count);

    static TensorTooLargeException TooLarge(string what, double elements) =>
        new($"{what} would hold {elements.ToString("N0", CultureInfo.InvariantCulture)} elements; "
            + $"one buffer holds at most {MaxElements.ToString("N0", CultureInfo.InvariantCulture)} (2³¹ − 1)");
}
