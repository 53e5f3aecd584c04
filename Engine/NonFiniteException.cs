namespace InfoVae.Engine;

/// <summary>
/// A NaN or an infinity where training cannot go on. Thrown by a tape in anomaly mode
/// (<see cref="Tape{T}.DetectAnomaly"/>) at the first op whose output (or, during <see cref="Tensor{T}.Backward()"/>,
/// whose input gradient) holds one, naming the op, the shape and the first bad element, the way PyTorch's
/// <c>torch.autograd.detect_anomaly</c> names the backward function; and, made by <see cref="InGradientOf"/>, by the
/// optimiser's check before it writes anything, naming the parameter tensor whose gradient holds one.
/// </summary>
public sealed class NonFiniteException : ArithmeticException
{
    /// <summary>
    /// An op's output (or, <paramref name="inBackward"/>, its gradient) holds value at index, the first non-finite
    /// element.
    /// </summary>
    public NonFiniteException(string op, Shape shape, bool inBackward, int index, double value)
        : this($"{(inBackward ? $"the backward of '{op}' produced a gradient" : $"op '{op}' produced an output")} "
            + $"of shape {shape} that is not finite (element {index} is {Show(value)})",
            op, shape, inBackward, index, value, null)
    { }

    NonFiniteException(string message, string op, Shape shape, bool inBackward, int index, double value,
        string? parameter) : base(message)
    {
        Op = op; Shape = shape; InBackward = inBackward; Index = index; Value = value; Parameter = parameter;
    }

    /// <summary>
    /// After a backward pass whose loss was finite: the gradient of <paramref name="parameter"/> (its name in the
    /// state dict, e.g. decoder.2.weight) holds a NaN or ±∞ at <paramref name="index"/>; the optimiser did not run.
    /// </summary>
    public static NonFiniteException InGradientOf(string parameter, Shape shape, int index, double value) =>
        new($"the gradient of {parameter} (shape {shape}) is not finite (element {index} is {Show(value)}) "
            + "although the loss is; Adam did not run, so the weights and moments are those from before this step",
            "backward", shape, true, index, value, parameter);

    /// <summary>The op's name on the tape ("exp", "linear", "mmd", ...); "backward" for a parameter gradient.</summary>
    public string Op { get; }
    /// <summary>The shape of the tensor that holds the value.</summary>
    public Shape Shape { get; }
    /// <summary>
    /// False: the op's forward output; true: a gradient its backward function added into (or wrote) for an input.
    /// </summary>
    public bool InBackward { get; }
    /// <summary>The first non-finite element (row-major) and its value.</summary>
    public int Index { get; }
    /// <summary>The value there: NaN, +∞ or −∞.</summary>
    public double Value { get; }
    /// <summary>The parameter whose gradient is not finite (<see cref="InGradientOf"/>); null for an op.</summary>
    public string? Parameter { get; }

    static string Show(double v) => double.IsNaN(v) ? "NaN" : v > 0 ? "+∞" : "−∞";
}
