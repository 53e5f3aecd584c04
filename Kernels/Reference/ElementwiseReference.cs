namespace InfoVae.Kernels.Reference;

// Elementwise functions and their derivatives, one double at a time, written from the textbook formulas.
// The SIMD op structs in Kernels/Cpu/ElementwiseOps.cs are tested against these
// (Tests/Kernels/ElementwiseKernelTests.cs). Derivatives are taken with respect to the input x, even where the kernel
// reads the saved output y = f(x).
public static partial class Reference
{
    /// <summary>max(x, 0). Math.Max is IEEE 754-2019 maximum: NaN stays NaN, and max(−0, +0) = +0.</summary>
    public static double Relu(double x) => Math.Max(x, 0.0);

    /// <summary>x for x > 0, slope·x otherwise (so NaN stays NaN and −0 stays −0).</summary>
    public static double LeakyRelu(double x, double slope) => x > 0 ? x : slope * x;

    /// <summary>d relu/dx: 1 for x > 0, else 0 (0 at the kink, PyTorch's convention).</summary>
    public static double ReluGrad(double x) => x > 0 ? 1 : 0;

    /// <summary>d leaky_relu/dx: 1 for x > 0, else the slope (the slope at the kink).</summary>
    public static double LeakyReluGrad(double x, double slope) => x > 0 ? 1 : slope;

    /// <summary>
    /// σ(x) = 1 / (1 + e^−x) for x ≥ 0, and e^x / (1 + e^x) below, so that no e^−x overflows while σ(x) is still a
    /// (subnormal) double: x in (−745, −709]. NaN stays NaN; σ(+∞) = 1, σ(−∞) = +0.
    /// </summary>
    public static double Sigmoid(double x)
    {
        if (x >= 0) return 1 / (1 + Math.Exp(-x));
        double e = Math.Exp(x);
        return e / (1 + e);
    }

    // The forwards that the CPU backend takes from TensorPrimitives (vectorised, after AMD's AOCL-LibM), as the C
    // library computes them in double: within an ulp of double, so 2⁻²⁹ of a float's ulp once rounded to float.
    // Their IEEE 754 special cases are the ones the forwards must keep: log(−0) = −∞, sqrt(−0) = −0, tanh(−0) = −0, ...

    /// <summary>e^x.</summary>
    public static double Exp(double x) => Math.Exp(x);

    /// <summary>ln x: −∞ at ±0, NaN below 0.</summary>
    public static double Log(double x) => Math.Log(x);

    /// <summary>√x: −0 at −0, NaN below 0.</summary>
    public static double Sqrt(double x) => Math.Sqrt(x);

    /// <summary>tanh x, odd: ±0 keeps its sign, ±∞ gives ±1.</summary>
    public static double Tanh(double x) => Math.Tanh(x);

    /// <summary>−x: flips the sign bit of every value, zeros and NaN included.</summary>
    public static double Neg(double x) => -x;

    /// <summary>σ'(x) = σ(x)·(1 − σ(x)).</summary>
    public static double SigmoidGrad(double x) { double s = Sigmoid(x); return s * (1 - s); }

    /// <summary>tanh'(x) = 1 − tanh²(x).</summary>
    public static double TanhGrad(double x) { double t = Math.Tanh(x); return 1 - t * t; }

    /// <summary>exp'(x) = exp(x).</summary>
    public static double ExpGrad(double x) => Math.Exp(x);

    /// <summary>log'(x) = 1/x.</summary>
    public static double LogGrad(double x) => 1 / x;

    /// <summary>sqrt'(x) = 1 / (2·√x).</summary>
    public static double SqrtGrad(double x) => 1 / (2 * Math.Sqrt(x));

    /// <summary>∂(a/b)/∂b = −a/b².</summary>
    public static double DivisorGrad(double a, double b) => -a / (b * b);

    /// <summary>
    /// softplus(x) = log(1 + e^x), split at 0 so that e^x never overflows and a tiny e^−x is not lost:
    /// x + log1p(e^−x) for x > 0, log1p(e^x) otherwise. NaN stays NaN; +∞ → +∞; −∞ → 0.
    /// </summary>
    public static double Softplus(double x) => x > 0 ? x + Log1p(Math.Exp(-x)) : Log1p(Math.Exp(x));

    /// <summary>
    /// log(1 + x), accurate for tiny x: .NET has no log1p (double.LogP1 is log(1 + x)), so this is the classic
    /// correction log(u)·x/(u − 1) with u = 1 + x (Goldberg, "What every computer scientist should know about
    /// floating-point arithmetic", 1991, Theorem 4), which cancels the rounding of 1 + x.
    /// </summary>
    public static double Log1p(double x)
    {
        double u = 1 + x;
        if (u == 1) return x;                                       // x below half an ulp of 1 (keeps −0)
        return double.IsPositiveInfinity(u) ? u : Math.Log(u) * x / (u - 1);
    }
}
