using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace InfoVae.Kernels.Gpu;

/// <summary>Scalars of one Adam step; <see cref="For"/> fills in the bias corrections of step t.</summary>
public struct AdamArgs
{
    /// <summary>
    /// β1, β2 and 1 − β1, 1 − β2 (the latter from double: 1 − 0.999f in float is off by 1.3e-5 relative).
    /// </summary>
    public float Beta1, Beta2, OneMinusBeta1, OneMinusBeta2, Eps, WeightDecay;
    /// <summary>lr / (1 − β1ᵗ) and sqrt(1 − β2ᵗ), computed in double on the host as PyTorch does.</summary>
    public float StepSize, Bc2Sqrt;

    /// <summary>The kernel's arguments for one step with these hyperparameters (torch.optim.Adam's names).</summary>
    /// <param name="lr">The learning rate.</param>
    /// <param name="beta1">The first moment's decay.</param>
    /// <param name="beta2">The second moment's decay.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient (0: none).</param>
    /// <param name="step">1 for the first update.</param>
    public static AdamArgs For(double lr, double beta1, double beta2, double eps, double weightDecay, int step) => new()
    {
        Beta1 = (float)beta1, Beta2 = (float)beta2, OneMinusBeta1 = (float)(1 - beta1),
        OneMinusBeta2 = (float)(1 - beta2), Eps = (float)eps, WeightDecay = (float)weightDecay,
        StepSize = (float)(lr / (1 - Math.Pow(beta1, step))), Bc2Sqrt = (float)Math.Sqrt(1 - Math.Pow(beta2, step)),
    };
}

/// <summary>
/// Adam (torch.optim.Adam, single-tensor path, amsgrad off;
/// https://pytorch.org/docs/stable/generated/torch.optim.Adam.html): g += wd·p; m = m + (1 − β1)(g − m) (torch's lerp);
/// v = β2·v + (1 − β2)·g²; p −= step_size · m / (sqrt(v) / sqrt(1 − β2ᵗ) + eps). One thread per parameter.
/// </summary>
public static class AdamKernels
{
    /// <summary>One Adam step of parameter i and its moments.</summary>
    public static void AdamKernel(Index1D i, ArrayView<float> param, ArrayView<float> grad, ArrayView<float> m,
        ArrayView<float> v, AdamArgs s)
    {
        float g = grad[i];
        if (s.WeightDecay != 0f) g += s.WeightDecay * param[i];
        float mi = m[i] + s.OneMinusBeta1 * (g - m[i]);
        float vi = s.Beta2 * v[i] + s.OneMinusBeta2 * g * g;
        m[i] = mi;
        v[i] = vi;
        param[i] -= s.StepSize * mi / (XMath.Sqrt(vi) / s.Bc2Sqrt + s.Eps);
    }
}

public sealed partial class GpuKernels
{
    /// <summary>One Adam step over every element of param (grad, m, v the same length).</summary>
    public void Adam(ArrayView<float> param, ArrayView<float> grad, ArrayView<float> m, ArrayView<float> v, AdamArgs s)
    {
        if (param.Length == 0) return;
        Auto<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>,
            AdamArgs>(AdamKernels.AdamKernel)(Stream, Threads(param), param, grad, m, v, s);
    }
}
