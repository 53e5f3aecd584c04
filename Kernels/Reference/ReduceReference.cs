namespace InfoVae.Kernels.Reference;

// Axis sums and their backward, for a row-major block seen as (outer, axis, inner).
// Tested against: Kernels/Cpu/Reduce.cs (Tests/Kernels/ReduceKernelTests.cs).
public static partial class Reference
{
    /// <summary>
    /// destination[o, i] = scale · Σ_a x[o, a, i]. x: (outer, axis, inner); destination: (outer, inner).
    /// </summary>
    public static void SumAxis(ReadOnlySpan<double> x, int outer, int axis, int inner, double scale,
        Span<double> destination)
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                double s = 0;
                for (int a = 0; a < axis; a++) s += x[(o * axis + a) * inner + i];
                destination[o * inner + i] = scale * s;
            }
    }

    /// <summary>
    /// destination[o, a, i] = scale · dy[o, i]: the gradient of SumAxis, dy broadcast back along the summed axis.
    /// </summary>
    public static void BroadcastAxis(ReadOnlySpan<double> dy, int outer, int axis, int inner, double scale,
        Span<double> destination)
    {
        for (int o = 0; o < outer; o++)
            for (int a = 0; a < axis; a++)
                for (int i = 0; i < inner; i++)
                    destination[(o * axis + a) * inner + i] = scale * dy[o * inner + i];
    }
}
