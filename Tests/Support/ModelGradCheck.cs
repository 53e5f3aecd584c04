using InfoVae.Engine;
using InfoVae.Model;

namespace InfoVae.Tests.Support;

/// <summary>
/// The whole model's float64 gradient check: every parameter's ∂total/∂p from backward against central
/// differences of the loss (GradCheck's eps and tolerances), with the given inputs and noise held fixed.
/// </summary>
public static class ModelGradCheck
{
    public static void AllParameters(InfoVaeNet<double> net, Tensor<double> x, Tensor<double> eps, Tensor<double> prior)
    {
        var tape = Tape<double>.Current;
        tape.Reset();
        net.Params.ZeroGrad();
        net.Loss(x, eps, prior).Total.Backward();
        tape.Reset();
        net.Params.MaterializeGrads();
        var analytic = net.Params.AllGrad.ToArray();

        var p = net.Params.All.ToArray();
        var numeric = new double[p.Length];
        double L()
        {
            using var _ = tape.NoGrad();
            double v = net.Loss(x, eps, prior).Total.Item();
            tape.Reset();
            return v;
        }
        for (int i = 0; i < p.Length; i++)
        {
            double o = p[i];
            p[i] = o + GradCheck.Eps; net.Params.All.CopyFrom(p); double up = L();
            p[i] = o - GradCheck.Eps; net.Params.All.CopyFrom(p); double down = L();
            p[i] = o; net.Params.All.CopyFrom(p);
            numeric[i] = (up - down) / (2 * GradCheck.Eps);
        }
        Close.Assert<double, double>(numeric, analytic, GradCheck.Atol, GradCheck.Rtol, "dLoss/dParams");
    }
}
