using System.Numerics;
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
    /// With <paramref name="leakySlope"/> (≥ 0) it is batch norm followed by LeakyRelu(slope), fused into the same
    /// passes forward and backward (the conv net's every norm): the same numbers as the two ops, without the
    /// intermediate.
    /// </summary>
    public static Tensor<T> BatchNorm<T>(Tensor<T> x, Tensor<T> gamma, Tensor<T> beta, Tensor<T>? runningMean, Tensor<T>? runningVar,
        bool training, double momentum = 0.1, double eps = 1e-5, double? leakySlope = null) where T : unmanaged,
            IFloatingPointIeee754<T>
    {
        SameBackend(x, gamma); SameBackend(x, beta);
        if (x.Shape.Rank < 2) throw new ArgumentException($"batch_norm: x {x.Shape} needs rank ≥ 2, (..., C)");
        int c = x.Shape.Last, rows = x.Rows;
        if (gamma.Shape.Rank != 1 || gamma.Shape[0] != c || beta.Shape.Rank != 1 || beta.Shape[0] != c)
            throw new ArgumentException($"batch_norm: gamma {gamma.Shape} and beta {beta.Shape} must be ({c}) for x {x.Shape}");
        if ((runningMean == null) != (runningVar == null)) throw new ArgumentException("batch_norm: give both running mean and running variance, or neither");
        if (runningMean != null)
        {
            SameBackend(x, runningMean); SameBackend(x, runningVar!);
            if (runningMean.Shape.Rank != 1 || runningMean.Shape[0] != c || runningVar!.Shape.Rank != 1 || runningVar.Shape[0] != c)
                throw new ArgumentException($"batch_norm: running mean {runningMean.Shape} and variance {runningVar!.Shape} must be ({c}) for x {x.Shape}");
            if (runningMean.RequiresGrad || runningVar.RequiresGrad) throw new ArgumentException("batch_norm: running statistics are buffers, not parameters (they must not require grad)");
        }
        if (!training && runningMean == null) throw new ArgumentException("batch_norm: evaluation mode needs the running mean and variance");
        if (training && rows < 2) throw new ArgumentException($"batch_norm: training needs more than 1 value per channel, x {x.Shape} has {rows} row(s)");
        if (!(eps > 0) || !double.IsFinite(eps)) throw new ArgumentException($"batch_norm: eps {eps} must be positive and finite");
        if (!(momentum >= 0 && momentum <= 1)) throw new ArgumentException($"batch_norm: momentum {momentum} must be in [0, 1]");
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
            if (runningMean != null) be.BatchNormUpdateRunning(mean, variance, rows, momentum, runningMean, runningVar!);
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
        // Evaluation: y = xhat·gamma + beta with constant statistics; each term through BatchNormApply with 0/1 vectors.
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
    static void SetStats<T>(Tensor<T> y, Tensor<T> stats) where T : unmanaged, IFloatingPointIeee754<T> => y.State = stats;
    /// <summary>Batch statistics (training) or running ones (evaluation).</summary>
    static ref bool Training<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.F0;
    static ref double Eps<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.D0;
    /// <summary>Whether a leaky ReLU is fused in, and its slope; <see cref="FusedSlope"/> reads the pair.</summary>
    static ref bool HasSlope<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.F1;
    static ref T Slope<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => ref y.P;
    static T? FusedSlope<T>(Tensor<T> y) where T : unmanaged, IFloatingPointIeee754<T> => HasSlope(y) ? Slope(y) : null;
}
