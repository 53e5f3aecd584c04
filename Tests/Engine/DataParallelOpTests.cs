using InfoVae.Engine;
using InfoVae.Engine.Distributed;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Support.GradCheck;

namespace InfoVae.Tests.Engine;

/// <summary>
/// The two ops data-parallel training rests on, in float64: ReplaceRows (a rank's own z inside the gathered batch),
/// gradient-checked; and sync batch norm over ranks (threads here), which must equal one batch norm over the whole
/// batch (outputs, every gradient, running statistics) and pass a central-difference check of its own.
/// </summary>
public class DataParallelOpTests
{
    static double[] U(int n, int seed, double lo = -1, double hi = 1) => Rand.Uniform(n, seed, lo, hi);

    [TestCase(0)]
    [TestCase(2)]
    [TestCase(4)]
    public void ReplaceRows_gradients(int offset) =>
        Check(t => Ops.ReplaceRows(t[0], t[1], offset), In(U(6 * 3, 1), 6, 3), In(U(2 * 3, 2), 2, 3));

    [Test]
    public void ReplaceRows_puts_the_rows_in_and_sends_their_gradient_back_only()
    {
        var x = Tensor<double>.From([1, 2, 3, 4, 5, 6], new Shape(3, 2), requiresGrad: true);
        var rows = Tensor<double>.From([-1, -2], new Shape(1, 2), requiresGrad: true);
        var y = Ops.ReplaceRows(x, rows, 1);
        Assert.That(y.ToArray(), Is.EqualTo(new double[] { 1, 2, -1, -2, 5, 6 }));
        y.Backward(Tensor<double>.From([10, 20, 30, 40, 50, 60], new Shape(3, 2)));
        Assert.That(rows.Grad!.ToArray(), Is.EqualTo(new double[] { 30, 40 }));
        Assert.That(x.Grad!.ToArray(), Is.EqualTo(new double[] { 10, 20, 0, 0, 50, 60 }));
        Tape<double>.Current.Reset();
        Assert.Throws<ArgumentException>(() => Ops.ReplaceRows(x, rows, 3));
    }

    /// <summary>Images per rank (uneven on purpose).</summary>
    static IEnumerable<TestCaseData> Splits()
    {
        yield return new TestCaseData(new[] { 2, 3 });
        yield return new TestCaseData(new[] { 1, 2, 2 });
    }

    /// <summary>One batch norm on the whole batch against the ranks', each on its images.</summary>
    [TestCaseSource(nameof(Splits))]
    public void Sync_batch_norm_over_ranks_equals_batch_norm_over_the_whole_batch(int[] images)
    {
        const int h = 2, w = 3, c = 4;
        int n = images.Sum(), each = h * w * c;
        var x = U(n * each, 3, -2, 3); var dy = U(n * each, 4); var gamma = U(c, 5, 0.5, 1.5); var beta = U(c, 6);
        var rm0 = U(c, 7); var rv0 = U(c, 8, 0.5, 2);

        var whole = Forward(SingleProcess.Instance, x, n, dy, gamma, beta, rm0, rv0);
        var ranks = ThreadRanks.Run(images.Length, comm =>
        {
            int first = images.Take(comm.Rank).Sum(), mine = images[comm.Rank];
            var rows = (first * each)..((first + mine) * each);
            return Forward(comm, x[rows], mine, dy[rows], gamma, beta, rm0, rv0);
        });
        Close.Assert(whole.Y, ranks.SelectMany(r => r.Y).ToArray(), 1e-13, 1e-12, "y");
        Close.Assert(whole.Dx, ranks.SelectMany(r => r.Dx).ToArray(), 1e-13, 1e-12, "dx");
        Close.Assert(whole.DGamma, Sum(ranks.Select(r => r.DGamma)), 1e-13, 1e-12, "dgamma summed over the ranks");
        Close.Assert(whole.DBeta, Sum(ranks.Select(r => r.DBeta)), 1e-13, 1e-12, "dbeta summed over the ranks");
        foreach (var r in ranks)
        {
            Close.Assert(whole.Rm, r.Rm, 1e-14, 1e-13, "running mean");
            Close.Assert(whole.Rv, r.Rv, 1e-14, 1e-13, "running variance (unbiased by the whole batch's count)");
        }
    }

    /// <summary>
    /// Central differences of L = Σ_ranks Σ y_r ⊙ dy_r in every element of x (all ranks' rows), gamma and beta.
    /// </summary>
    [Test]
    public void Sync_batch_norm_gradient_check_over_two_ranks()
    {
        int[] images = [1, 2];
        const int h = 2, w = 1, c = 3;
        int n = images.Sum(), each = h * w * c;
        var x = U(n * each, 9, -2, 3); var dy = U(n * each, 10); var gamma = U(c, 11, 0.5, 1.5); var beta = U(c, 12);
        Result[] Ranks(double[] xs, double[] g, double[] b) => ThreadRanks.Run(images.Length, comm =>
        {
            int first = images.Take(comm.Rank).Sum(), mine = images[comm.Rank];
            var rows = (first * each)..((first + mine) * each);
            return Forward(comm, xs[rows], mine, dy[rows], g, b, null, null);
        });
        double Loss(double[] xs, double[] g, double[] b)
        {
            var rs = Ranks(xs, g, b);
            double s = 0; int at = 0;
            foreach (var r in rs) foreach (var v in r.Y) s += v * dy[at++];
            return s;
        }
        var analytic = Ranks(x, gamma, beta);
        double[] Numeric(double[] v, Func<double[], double> f)
        {
            var g = new double[v.Length];
            for (int i = 0; i < v.Length; i++)
            {
                double o = v[i];
                v[i] = o + Eps; double up = f(v);
                v[i] = o - Eps; double down = f(v);
                v[i] = o;
                g[i] = (up - down) / (2 * Eps);
            }
            return g;
        }
        Close.Assert(Numeric(x, v => Loss(v, gamma, beta)), analytic.SelectMany(r => r.Dx).ToArray(), Atol, Rtol, "dx");
        Close.Assert(Numeric(gamma, v => Loss(x, v, beta)), Sum(analytic.Select(r => r.DGamma)), Atol, Rtol, "dgamma");
        Close.Assert(Numeric(beta, v => Loss(x, gamma, v)), Sum(analytic.Select(r => r.DBeta)), Atol, Rtol, "dbeta");
    }

    sealed record Result(double[] Y, double[] Dx, double[] DGamma, double[] DBeta, double[] Rm, double[] Rv);

    /// <summary>
    /// One rank's batch norm in training mode on its images (n, 2, 3, 4 or as given), backward seeded with dy.
    /// </summary>
    static Result Forward(ICommunicator comm, double[] x, int n, double[] dy, double[] gamma, double[] beta,
        double[]? rm0, double[]? rv0)
    {
        int c = gamma.Length, hwc = x.Length / n;
        var tape = Tape<double>.Current;
        tape.Reset();
        var xt = Tensor<double>.From(x, new Shape(n, hwc / c, 1, c), requiresGrad: true);
        var g = Tensor<double>.From(gamma, new Shape(c), requiresGrad: true);
        var b = Tensor<double>.From(beta, new Shape(c), requiresGrad: true);
        var rm = rm0 == null ? null : Tensor<double>.From(rm0, new Shape(c));
        var rv = rv0 == null ? null : Tensor<double>.From(rv0, new Shape(c));
        var y = Ops.BatchNorm(xt, g, b, rm, rv, training: true, replicas: comm);
        var ys = y.ToArray();
        y.Backward(Tensor<double>.From(dy, y.Shape));
        var r = new Result(ys, xt.Grad!.ToArray(), g.Grad!.ToArray(), b.Grad!.ToArray(),
            rm?.ToArray() ?? [], rv?.ToArray() ?? []);
        tape.Reset();
        return r;
    }

    static double[] Sum(IEnumerable<double[]> parts) => parts.Aggregate((a, b) => a.Zip(b, (u, v) => u + v).ToArray());
}
