using InfoVae.Engine;
using InfoVae.Model;

namespace InfoVae.Tests.Support;

/// <summary>
/// The whole model's float64 gradient check: every parameter's ∂total/∂p from backward against central
/// differences of the loss (GradCheck's eps and tolerances), with the given inputs and noise held fixed.
/// With the adversarial divergence the training step's one backward runs from total + discriminator loss: the
/// VAE's gradients must still be those of the total alone (the discriminator's loss sees z detached) and the
/// discriminator's those of its own loss alone (the total sees it frozen).
/// </summary>
public static class ModelGradCheck
{
    public static void AllParameters(InfoVaeNet<double> net, Tensor<double> x, Tensor<double> eps, Tensor<double> prior)
    {
        var tape = Tape<double>.Current;
        tape.Reset();
        net.ZeroGrad();
        var terms = net.Loss(x, eps, prior);
        (terms.Discriminator is { } d ? terms.Total + d : terms.Total).Backward();
        tape.Reset();
        net.Params.MaterializeGrads();
        Compare(net.Params, net.Params.AllGrad.ToArray(), () => net.Loss(x, eps, prior).Total, "dLoss/dParams");
        if (net.Disc is { } disc)
        {
            disc.Params.MaterializeGrads();
            Compare(disc.Params, disc.Params.AllGrad.ToArray(), () => net.Loss(x, eps, prior).Discriminator!,
                "dDiscriminatorLoss/dDiscriminatorParams");
        }
    }

    /// <summary>
    /// Central differences of <paramref name="loss"/> over every element of <paramref name="ps"/> against
    /// <paramref name="analytic"/>.
    /// </summary>
    public static void Compare(Parameters<double> ps, double[] analytic, Func<Tensor<double>> loss, string label)
    {
        var tape = Tape<double>.Current;
        var p = ps.All.ToArray();
        var numeric = new double[p.Length];
        double L()
        {
            using var _ = tape.NoGrad();
            double v = loss().Item();
            tape.Reset();
            return v;
        }
        for (int i = 0; i < p.Length; i++)
        {
            double o = p[i];
            p[i] = o + GradCheck.Eps; ps.All.CopyFrom(p); double up = L();
            p[i] = o - GradCheck.Eps; ps.All.CopyFrom(p); double down = L();
            p[i] = o; ps.All.CopyFrom(p);
            numeric[i] = (up - down) / (2 * GradCheck.Eps);
        }
        Close.Assert<double, double>(numeric, analytic, GradCheck.Atol, GradCheck.Rtol, label);
    }
}
