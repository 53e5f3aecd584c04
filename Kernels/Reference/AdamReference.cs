namespace InfoVae.Kernels.Reference;

public static partial class Reference
{
    /// <summary>
    /// One step of torch.optim.Adam (amsgrad off, maximize off;
    /// https://pytorch.org/docs/stable/generated/torch.optim.Adam.html), in double, written out the way torch's
    /// single-tensor path computes it. <paramref name="step"/> is 1 for the first update.
    /// </summary>
    public static void Adam(Span<double> param, ReadOnlySpan<double> grad, Span<double> m, Span<double> v,
        double lr, double beta1, double beta2, double eps, double weightDecay, int step)
    {
        double bc1 = 1 - Math.Pow(beta1, step), bc2 = 1 - Math.Pow(beta2, step);
        double stepSize = lr / bc1, bc2Sqrt = Math.Sqrt(bc2);
        for (int i = 0; i < param.Length; i++)
        {
            double g = grad[i] + weightDecay * param[i];
            m[i] += (1 - beta1) * (g - m[i]);                   // exp_avg.lerp_(grad, 1 − β1)
            v[i] = beta2 * v[i] + (1 - beta2) * g * g;          // exp_avg_sq.mul_(β2).addcmul_(grad, grad, 1 − β2)
            param[i] -= stepSize * m[i] / (Math.Sqrt(v[i]) / bc2Sqrt + eps);
        }
    }
}
