namespace InfoVae.Engine;

/// <summary>
/// Thrown by a tape in anomaly mode (<see cref="Tape{T}.DetectAnomaly"/>) at the first op whose output (or, during
/// <see cref="Tensor{T}.Backward()"/>, whose input gradient) holds a NaN or an infinity: names the op, the shape and
/// the first bad element, the way PyTorch's <c>torch.autograd.detect_anomaly</c> names the backward function.
/// </summary>
public sealed class NonFiniteException(string op, Shape shape, bool inBackward, int index, double value)
    : ArithmeticException($"{(inBackward ? $"the backward of '{op}' produced a gradient" : $"op '{op}' produced an output")} of shape {shape} "
        + $"that is not finite (element {index} is {Show(value)})")
{
    /// <summary>The op's name as recorded on the tape ("exp", "linear", "mmd", ...).</summary>
    public string Op { get; } = op;
    public Shape Shape { get; } = shape;
    /// <summary>False: the op's forward output; true: a gradient its backward function accumulated into an input.</summary>
    public bool InBackward { get; } = inBackward;
    /// <summary>The first non-finite element (row-major) and its value.</summary>
    public int Index { get; } = index;
    public double Value { get; } = value;

    static string Show(double v) => double.IsNaN(v) ? "NaN" : v > 0 ? "+∞" : "−∞";
}
