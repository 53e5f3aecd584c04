using System.Numerics;

namespace InfoVae.Tests.Support;

/// <summary>
/// One comparison with llm.c's tolerance model (|e − a| ≤ atol + rtol·|e|) and a message that locates the fault.
/// </summary>
public static class Close
{
    public static void Assert<TE, TA>(ReadOnlySpan<TE> expected, ReadOnlySpan<TA> actual, double atol, double rtol,
        string label)
        where TE : INumberBase<TE> where TA : INumberBase<TA>
    {
        NUnit.Framework.Assert.That(actual.Length, Is.EqualTo(expected.Length), $"{label}: length");
        int worst = -1; double worstRatio = 1.0;
        for (int i = 0; i < expected.Length; i++)
        {
            double e = double.CreateTruncating(expected[i]), a = double.CreateTruncating(actual[i]);
            if (e.Equals(a)) continue;    // also equal NaNs and equal infinities
            double r = Math.Abs(e - a) / (atol + rtol * Math.Abs(e));
            if (double.IsNaN(r) || r > worstRatio)
            {
                worst = i;
                worstRatio = double.IsNaN(r) ? double.PositiveInfinity : r;
            }
        }
        if (worst >= 0)
            NUnit.Framework.Assert.Fail($"{label}: [{worst}] expected {expected[worst]} got {actual[worst]}, "
                + $"{worstRatio:F1}x tol (n={expected.Length})");
    }

    public static void Assert<TE, TA>(TE[] expected, TA[] actual, double atol, double rtol, string label)
        where TE : INumberBase<TE> where TA : INumberBase<TA> => Assert<TE, TA>(expected.AsSpan(), actual.AsSpan(),
            atol, rtol, label);
}
