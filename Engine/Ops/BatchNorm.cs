using System.Numerics;
using InfoVae.Engine.Distributed;
using InfoVae.Kernels;

namespace InfoVae.Engine;

public static partial class Ops
{
    /// <summary>
    /// Batch norm over the last axis (PyTorch's BatchNorm2d on channels-last activations, BatchNorm1d on (B, C)):
    /// x (..., C) is seen as (R, C), R = the product of the leading axes; gamma, beta, runningMean, runningVar: (C).
    /// y = (x − mean)·gamma/√(var + eps) + beta, where training uses the batch mean and biased variance and, when
    /// running statistics are given, updates them in place (PyTorch's rule: rm = (1 − m)·rm + m·mean,
    /// rv = (1 − m)·rv + m·var·R/(R − 1)), whatever the grad mode; evaluation uses the running statistics.
    /// Backward (training): the batch-stat formula of <see cref="IBackend{T}.BatchNormBackward"/>; evaluation: the
    /// statistics are constants, so dx += dy·gamma/√(rv + eps), dGamma += Σ dy·xhat, dBeta += Σ dy.
    /// The statistics used are copied to tape scratch (2, C), so backward sees them as they were.
    /// With <paramref name="replicas"/> of more than one rank (training only), x is this rank's part of a batch spread
    /// over the ranks and the statistics are the whole batch's (sync batch norm, see <see cref="SyncStats"/>), so N
    /// ranks compute what one process would on the whole batch; gamma's and beta's gradients stay this rank's share.
    /// With <paramref name="leakySlope"/> (≥ 0) it is batch norm followed by LeakyRelu(slope), fused into the same
    /// passes forward and backward (the conv net's every norm): the same numbers as the two ops, without the
    /// intermediate. Sync batch norm runs them as the two ops (its backward has no fused form).
    /// </summary>
    public static Tensor<T> BatchNorm<T>(Tensor<T> x, Tensor<T> gamma, Tensor<T> beta, Tensor<T>? runningMean,
        Tensor<T>? runningVar,
        bool training, double momentum = 0.1, double eps = 1e-5, ICommunicator? replicas = null,
        double? leakySlope = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        bool sync = training && replicas is { Size: > 1 };
        if (sync && leakySlope is { } slope)
            return BatchNorm(x, gamma, beta, runningMean, runningVar, training, momentum, eps, replicas)
                .LeakyRelu(slope);
        SameBackend(x, gamma); SameBackend(x, beta);
        if (x.Shape.Rank < 2) throw new ArgumentException($"batch_norm: x {x.Shape} needs rank ≥ 2, (..., C)");
        int c = x.Shape.Last, rows = x.Rows;
        if (gamma.Shape.Rank != 1 || gamma.Shape[0] != c || beta.Shape.Rank != 1 || beta.Shape[0] != c)
            throw new ArgumentException($"batch_norm: gamma {gamma.Shape} and beta {beta.Shape} must be ({c}) for x "
                + $"{x.Shape}");
        if ((runningMean == null) != (runningVar == null))
            throw new ArgumentException("batch_norm: give both running mean and running variance, or neither");
        if (runningMean != null)
        {
            SameBackend(x, runningMean); SameBackend(x, runningVar!);
            if (runningMean.Shape.Rank != 1 || runningMean.Shape[0] != c || runningVar!.Shape.Rank != 1
                || runningVar.Shape[0] != c)
                throw new ArgumentException($"batch_norm: running mean {runningMean.Shape} and variance "
                    + $"{runningVar!.Shape} must be ({c}) for x {x.Shape}");
            if (runningMean.RequiresGrad || runningVar.RequiresGrad)
                throw new ArgumentException("batch_norm: running statistics are buffers, not parameters (they must "
                    + "not require grad)");
        }
        if (!training && runningMean == null)
            throw new ArgumentException("batch_norm: evaluation mode needs the running mean and variance");
        if (training && !sync && rows < 2)
            throw new ArgumentException(
                $"batch_norm: training needs more than 1 value per channel, x {x.Shape} has {rows} row(s)");
        if (!(eps > 0) || !double.IsFinite(eps))
            throw new ArgumentException($"batch_norm: eps {eps} must be positive and finite");
        if (!(momentum >= 0 && momentum <= 1))
            throw new ArgumentException($"batch_norm: momentum {momentum} must be in [0, 1]");
        if (leakySlope is { } ls && !(ls >= 0 && double.IsFinite(ls)))
            throw new ArgumentException($"batch_norm: leaky ReLU slope {ls} must be finite and ≥ 0");
        x = x.Contiguous(); gamma = gamma.Contiguous(); beta = beta.Contiguous();
        var be = x.Backend;
        var tape = TapeOf<T>();
        var stats = tape.Scratch(new Shape(2, c), be);                       // [mean; var], (2, C)
        var mean = Window(Scratch<T>.A, stats.Storage, be, stats.Offset, new Shape(c), c);
        var variance = Window(Scratch<T>.B, stats.Storage, be, stats.Offset + c, new Shape(c), c);
        if (training)
        {
            be.BatchNormStats(x, mean, variance);
            int total = sync ? SyncStats(replicas!, rows, mean, variance) : rows;
            if (total < 2)
                throw new ArgumentException(
                    $"batch_norm: training needs more than 1 value per channel, the ranks hold {total} row(s)");
            // The stats node is an input no op reads a State from: it carries what the backward needs to sync.
            if (sync) { SetReplicas(stats, replicas!); SyncedRows(stats) = total; }
            if (runningMean != null)
                be.BatchNormUpdateRunning(mean, variance, total, momentum, runningMean, runningVar!);
        }
        else
        {
            be.CopyRows(runningMean!, mean, accumulate: false);
            be.CopyRows(runningVar!, variance, accumulate: false);
        }
        var y = tape.Node(leakySlope == null ? "batch_norm" : "batch_norm+leaky_relu", x.Shape, be, x, gamma, beta);
        SetStats(y, stats); Training(y) = training; Eps(y) = eps;
        HasSlope(y) = leakySlope != null; Slope(y) = T.CreateTruncating(leakySlope ?? 0);
        be.BatchNormApply(x, mean, variance, eps, gamma, beta, y, FusedSlope(y));
        if (y.RequiresGrad) y.BackwardFn = static y => BatchNormBackward(y);
        return y;
    }

    static void BatchNormBackward<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Tensor<T> x = First(y), gamma = Second(y), beta = Third(y)!, stats = Stats(y), dy = y.Grad!;
        var be = y.Backend;
        int c = x.Shape.Last, rows = x.Rows;
        double eps = Eps(y);
        var mean = Window(Scratch<T>.A, stats.Storage, be, stats.Offset, new Shape(c), c);
        var variance = Window(Scratch<T>.B, stats.Storage, be, stats.Offset + c, new Shape(c), c);
        if (Training(y) && Replicas(stats) is { } replicas)
        {
            SyncBackward(y, replicas, SyncedRows(stats), mean, variance);
            return;
        }
        T? slope = FusedSlope(y);
        if (Training(y))
        {
            bool overwrite = false;
            var dx = x.RequiresGrad ? x.GradForWrite(out overwrite) : null;
            be.BatchNormBackward(x, mean, variance, eps, gamma, dy, dx, gamma.RequiresGrad ? gamma.GradOrZeros() : null,
                beta.RequiresGrad ? beta.GradOrZeros() : null, accumulateDx: !overwrite, y: slope != null ? y : null,
                    leakySlope: slope);
            return;
        }
        // Evaluation: y = xhat·gamma + beta with constant statistics; each term through BatchNormApply with 0/1
        // vectors.
        Storage<T>? act = null;
        if (slope != null)
        {
            // the leaky ReLU's gradient first, from the sign of its output: dz = leaky'(y)·dy
            act = be.Rent(x.Length);
            var dz = Window(Scratch<T>.C, act, be, 0, x.Shape, x.Shape.Last);
            be.Fill(dz, T.Zero);
            be.UnaryBackward<UnaryOps.LeakyRelu>(y, y, dy, dz, slope.Value);
            dy = dz;
        }
        var dy2 = AsMatrix(Scratch<T>.C, dy, rows, c);                        // (R, C)
        if (beta.RequiresGrad) be.Sum(dy2, 0, beta.GradOrZeros(), T.One, accumulate: true);
        if (gamma.RequiresGrad || x.RequiresGrad)
        {
            var consts = be.Rent(2 * c);                                      // [zeros; ones], (2, C)
            var zeros = Window(Scratch<T>.D, consts, be, 0, new Shape(c), c);
            var ones = Window(Scratch<T>.E, consts, be, c, new Shape(c), c);
            be.Fill(zeros, T.Zero);
            be.Fill(ones, T.One);
            var tmp = be.Rent(x.Length);
            var t = Window(Scratch<T>.F, tmp, be, 0, new Shape(rows, c), c);  // (R, C)
            if (gamma.RequiresGrad)
            {
                be.BatchNormApply(x, mean, variance, eps, ones, zeros, t);    // xhat
                be.Binary<BinaryOps.Mul>(t, dy2, t);
                be.Sum(t, 0, gamma.GradOrZeros(), T.One, accumulate: true);   // dGamma += Σ_r dy·xhat
            }
            if (x.RequiresGrad)
            {
                be.BatchNormApply(dy2, zeros, variance, eps, gamma, zeros, t); // dy·gamma/√(var + eps)
                be.CopyRows(t, AsMatrix(Scratch<T>.C, x.GradOrZeros(), rows, c), accumulate: true);
            }
            be.Return(tmp);
            be.Return(consts);
        }
        if (act != null) be.Return(act);
    }

    /// <summary>The [mean; var] (2, C) tape scratch the forward normalised with.</summary>
    static Tensor<T> Stats<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => (Tensor<T>)y.State!;
    static void SetStats<T>(Tensor<T> y, Tensor<T> stats) where T : unmanaged, IFloatingPointIeee754<T>
        => y.State = stats;
    /// <summary>Batch statistics (training) or running ones (evaluation).</summary>
    static ref bool Training<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.F0;
    static ref double Eps<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.D0;
    /// <summary>Whether a leaky ReLU is fused in, and its slope; <see cref="FusedSlope"/> reads the pair.</summary>
    static ref bool HasSlope<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.F1;
    static ref T Slope<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.P;
    static T? FusedSlope<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => HasSlope(y) ? Slope(y) : null;
    /// <summary>Sync batch norm: the ranks the statistics were combined over, kept on the stats node (no op reads a
    /// State from it), and the row count over all of them.</summary>
    static ICommunicator? Replicas<T>(Tensor<T> stats) where T : unmanaged, IFloatingPointIeee754<T> =>
        stats.State as ICommunicator;
    static void SetReplicas<T>(Tensor<T> stats, ICommunicator replicas) where T : unmanaged, IFloatingPointIeee754<T> =>
        stats.State = replicas;
    static ref int SyncedRows<T>(Tensor<T> stats) where T : unmanaged, IFloatingPointIeee754<T> => ref stats.I0;

    /// <summary>
    /// Replaces this rank's mean and biased variance over its <paramref name="rows"/> rows by those of all ranks' rows
    /// together; returns the total row count. Each rank's (count, mean, variance) is gathered and combined in rank
    /// order in double (Chan et al.'s pairwise update: n = Σ n_r, mean = Σ n_r·mean_r / n,
    /// var = Σ n_r·(var_r + (mean_r − mean)²) / n), so every rank ends with the same bits.
    /// </summary>
    static int SyncStats<T>(ICommunicator replicas, int rows, Tensor<T> mean, Tensor<T> variance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int c = mean.Length, n = replicas.Size, each = 2 * c + 1;
        var h = SyncHost<T>.Get(c, n);
        mean.CopyTo(h.Values.AsSpan(0, c));
        variance.CopyTo(h.Values.AsSpan(c, c));
        h.Local[0] = rows;
        for (int j = 0; j < 2 * c; j++) h.Local[1 + j] = double.CreateTruncating(h.Values[j]);
        replicas.Allgather<double>(h.Local.AsSpan(0, each), h.All.AsSpan(0, n * each), h.Counts.AsSpan(0, n));
        double total = 0;
        for (int r = 0; r < n; r++) total += h.All[r * each];
        for (int j = 0; j < c; j++)
        {
            double m = 0, m2 = 0;
            for (int r = 0; r < n; r++) m += h.All[r * each] * h.All[r * each + 1 + j];
            m /= total;
            for (int r = 0; r < n; r++)
            {
                double d = h.All[r * each + 1 + j] - m;
                m2 += h.All[r * each] * (h.All[r * each + 1 + c + j] + d * d);
            }
            h.Values[j] = T.CreateTruncating(m);
            h.Values[c + j] = T.CreateTruncating(m2 / total);
        }
        mean.CopyFrom(h.Values.AsSpan(0, c));
        variance.CopyFrom(h.Values.AsSpan(c, c));
        return (int)total;
    }

    /// <summary>
    /// Sync batch norm's backward. With the whole batch's statistics and n rows over all ranks,
    /// dx = gamma/σ·(dy − S1/n − xhat·S2/n), where S1 = Σ dy and S2 = Σ dy·xhat run over every rank's rows: each rank
    /// sums its own (the backend's batch-norm backward without dx), the ranks add them up in rank order, and dx is
    /// put together from two affine passes of the forward kernel, (dy − S1/n)·gamma/σ and (x − mean)·g2/σ with
    /// g2 = −gamma·S2/(n·σ). gamma and beta get this rank's sums: the trainer adds every parameter's gradient up.
    /// </summary>
    static void SyncBackward<T>(Tensor<T> y, ICommunicator replicas, int total, Tensor<T> mean, Tensor<T> variance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Tensor<T> x = First(y), gamma = Second(y), beta = Third(y)!, dy = y.Grad!;
        var be = y.Backend;
        int c = x.Shape.Last, rows = x.Rows;
        double eps = Eps(y);
        var sums = be.Rent(3 * c);                                            // [S1; S2; zeros], (3, C)
        var s1 = Window(Scratch<T>.D, sums, be, 0, new Shape(c), c);
        var s2 = Window(Scratch<T>.E, sums, be, c, new Shape(c), c);
        be.Fill(Window(Scratch<T>.F, sums, be, 0, new Shape(3 * c), 3 * c), T.Zero);
        be.BatchNormBackward(x, mean, variance, eps, gamma, dy, null, s2, s1);
        if (beta.RequiresGrad) be.CopyRows(s1, beta.GradOrZeros(), accumulate: true);
        if (gamma.RequiresGrad) be.CopyRows(s2, gamma.GradOrZeros(), accumulate: true);
        if (x.RequiresGrad)
        {
            var h = SyncHost<T>.Get(c, replicas.Size);
            var host = h.Values.AsSpan(0, 2 * c);
            Window(Scratch<T>.F, sums, be, 0, new Shape(2 * c), 2 * c).CopyTo(host);
            replicas.SumInRankOrder(host);
            var g = h.Values.AsSpan(2 * c, 2 * c);                            // [gamma; variance]
            gamma.CopyTo(g[..c]);
            variance.CopyTo(g[c..]);
            for (int j = 0; j < c; j++)
            {
                double sigma = Math.Sqrt(double.CreateTruncating(g[c + j]) + eps);
                double sumDy = double.CreateTruncating(host[j]), sumDyXhat = double.CreateTruncating(host[c + j]);
                host[j] = T.CreateTruncating(sumDy / total);                                                    // S1/n
                host[c + j] = T.CreateTruncating(-double.CreateTruncating(g[j]) * sumDyXhat / (total * sigma)); // g2
            }
            Window(Scratch<T>.F, sums, be, 0, new Shape(2 * c), 2 * c).CopyFrom(host);
            var zeros = Window(Scratch<T>.F, sums, be, 2 * c, new Shape(c), c);
            var tmp = be.Rent(x.Length);
            var t = Window(Scratch<T>.C, tmp, be, 0, new Shape(rows, c), c);     // (R, C); mean, variance: A, B
            var dx = x.GradOrZeros();
            be.BatchNormApply(dy, s1, variance, eps, gamma, zeros, t);          // (dy − S1/n)·gamma/σ
            be.CopyRows(t, dx, accumulate: true);
            be.BatchNormApply(x, mean, variance, eps, s2, zeros, t);            // −xhat·gamma·S2/(n·σ)
            be.CopyRows(t, dx, accumulate: true);
            be.Return(tmp);
        }
        be.Return(sums);
    }

    /// <summary>
    /// Host buffers of sync batch norm, one set per thread, grown to the largest layer and kept: a step allocates
    /// nothing.
    /// </summary>
    sealed class SyncHost<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        [ThreadStatic] static SyncHost<T>? current;
        public T[] Values = [];
        public double[] Local = [], All = [];
        public int[] Counts = [];

        public static SyncHost<T> Get(int c, int ranks)
        {
            var h = current ??= new SyncHost<T>();
            int each = 2 * c + 1;
            if (h.Values.Length < 4 * c) h.Values = new T[4 * c];
            if (h.Local.Length < each) h.Local = new double[each];
            if (h.All.Length < ranks * each) h.All = new double[ranks * each];
            if (h.Counts.Length != ranks) h.Counts = new int[ranks];
            Array.Fill(h.Counts, each);
            return h;
        }
    }
}
