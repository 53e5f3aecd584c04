using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Distributed;

namespace InfoVae.Model;

/// <summary>
/// The training loop's state and one step of it. The random draws are PyTorch's, draw for draw
/// (<see cref="TorchGenerator"/>): the weights and then each step's eps and prior samples come from one generator
/// seeded with the seed, as torch.manual_seed(seed) followed by the twin's init and training loop would draw them,
/// and each epoch's order is the next torch.randperm of a second generator seeded with the seed. So a run follows
/// its PyTorch twin (anchors/) up to floating-point rounding. The noise generator's state is saved in
/// checkpoints; the order is recomputed from the epoch number; a resumed run continues bit for bit.
/// Data-parallel (<see cref="Replicas"/> of N ranks): every rank shuffles the same order, draws the whole batch's
/// noise from its own copy of the same generator and takes its rows (<see cref="BatchShare"/>), and the gradients
/// are summed in rank order before Adam, so every rank holds the same weights and N ranks train the model of one.
/// </summary>
public sealed partial class Trainer
{
    public TrainConfig Config { get; }
    public InfoVaeNet<float> Net { get; }
    public LabeledImages Train { get; }
    /// <summary>Adam steps taken so far.</summary>
    public long Step { get; set; }
    /// <summary>The epoch in progress (0-based) and the next batch of it to run.</summary>
    public int Epoch { get; set; }
    public int NextBatch { get; set; }

    /// <summary>The twin's global generator: initial weights, then eps and prior samples, step after step.</summary>
    public TorchGenerator Noise { get; }
    readonly int[] order;
    int orderEpoch = -1;
    TorchGenerator? orderNoise;
    readonly float[] hostEps, hostPrior;
    readonly Dictionary<int, Tensor<float>> batchTensors = [];
    readonly double[] reduced = new double[3];
    float[] hostGrad = [];
    IRowGather<float>? trainRows;   // the training images where the backend computes (on a GPU: uploaded once)

    /// <summary>The ranks training together (<see cref="SingleProcess"/> for one process).</summary>
    public ICommunicator Replicas { get; }
    /// <summary>Asked once per step when several ranks train: was this rank asked to stop (Ctrl+C, SIGTERM)?</summary>
    public Func<bool>? LocalStop { get; set; }
    /// <summary>Several ranks: true once any rank was asked to stop, agreed by all in the step just run.</summary>
    public bool StopAgreed { get; private set; }

    public Trainer(TrainConfig config, LabeledImages train, IBackend<float> backend, ICommunicator? replicas = null)
    {
        Config = config; Train = train;
        Replicas = replicas ?? SingleProcess.Instance;
        Net = new InfoVaeNet<float>(config, backend) { Replicas = Replicas };
        order = new int[train.Count];
        int b = Math.Min(config.Batch, train.Count);
        hostEps = new float[new Shape(b, config.Latent).Length];
        hostPrior = new float[new Shape(config.PriorCount(b), config.Latent).Length];
        Noise = new TorchGenerator(config.Seed);
        StartReplicas();
    }

    /// <summary>
    /// A fresh run's weights: PyTorch's default init from the seed, drawn from <see cref="Noise"/>: the VAE's, then
    /// the discriminator's (as a twin that builds the discriminator after the VAE would), so an MMD run's draws are
    /// the same with or without this code.
    /// </summary>
    public void InitializeWeights()
    {
        Net.Params.Initialize(Noise);
        Net.Disc?.Params.Initialize(Noise);
    }

    public int BatchesPerEpoch => Batches.Count(Train.Count, Config.Batch);
    public bool Finished => Epoch >= Config.Epochs;

    /// <summary>Runs the next batch: forward, loss, backward, Adam. Returns the batch's loss terms.</summary>
    public StepMetrics TrainStep()
    {
        if (orderEpoch != Epoch)
        {
            // Batches.Shuffle's order: the next epoch continues the generator that made this one's (one randperm,
            // nothing allocated); the first epoch and any jump (a resume) replay the earlier epochs from a fresh one.
            if (orderNoise == null || orderEpoch != Epoch - 1)
            {
                orderNoise = new TorchGenerator(Config.Seed);
                for (int e = 0; e < Epoch; e++) orderNoise.Randperm(order);
            }
            orderNoise.Randperm(order);
            orderEpoch = Epoch;
        }
        int start = NextBatch * Config.Batch, b = Math.Min(Config.Batch, Train.Count - start);
        if (local != null && b >= local.Count) return Advance(ReplicaStep(start, b));
        var share = BatchShare.Of(b, Replicas.Rank, Replicas.Size);
        var x = Gather(order.AsSpan(start + share.Offset, share.Count));
        int z = Config.Latent, m = Config.PriorCount(b);
        StepMetrics metrics;
        try
        {
            var eps = Draw(new Shape(b, z), hostEps, share);
            var prior = Draw(new Shape(m, z), hostPrior, BatchShare.Whole(m));
            Net.ZeroGrad();
            Net.Training = true;                      // batch norm: batch statistics, running averages updated
            var terms = Net.Loss(x, eps, prior, share);
            Tape<float>.Current.CheckAnomalies();     // anomaly mode: the last ops too, before the loss is read
            // Backward before the loss is read, so that the loss terms and the gradients' finiteness come back in one
            // read; a non-finite loss then only wastes the backward pass of a step that is not taken. Several ranks:
            // the gradients are summed first, so that every rank checks the same sums and all take the step or none.
            (terms.Discriminator is { } d ? terms.Total + d : terms.Total).Backward();
            bool gradientsFinite;
            if (Replicas.Size > 1) SumGradients();
            metrics = Replicas.Size == 1 ? ReadWithGradientChecks(terms, out gradientsFinite)
                : ReadAll(terms, out gradientsFinite);
            if (metrics.IsFinite)
            {
                Net.AdamStep(Step + 1, gradientsFinite);
                Step++;
            }
        }
        // also when anomaly mode throws mid-step: the next user of this thread's tape starts clean
        finally { Net.Training = false; Tape<float>.Current.Reset(); }
        return Advance(metrics);
    }

    /// <summary>After a step: the next batch, unless the step was not taken (a non-finite loss).</summary>
    StepMetrics Advance(StepMetrics metrics)
    {
        if (!metrics.IsFinite) return metrics;
        if (++NextBatch == BatchesPerEpoch) { NextBatch = 0; Epoch++; }
        return metrics;
    }

    /// <summary>
    /// torch.randn(shape) from <see cref="Noise"/>, in the order the twin draws: eps in the forward pass, then the
    /// prior in the loss. Every rank draws the whole batch's values and keeps the rows of its <paramref name="share"/>.
    /// </summary>
    Tensor<float> Draw(Shape shape, float[] host, BatchShare share)
    {
        var span = host.AsSpan(0, shape.Length);
        Noise.Normal(span);
        int cols = shape.Last;
        var t = Tape<float>.Current.Scratch(new Shape(share.Count, cols), Net.Backend);
        t.CopyFrom(span.Slice(share.Offset * cols, share.Count * cols));
        return t;
    }

    /// <summary>
    /// Several ranks: the batch's terms from this rank's shares of recon and KL (summed in rank order) and the MMD²
    /// every rank computed alike, read in one call. The stop request rides along, so that every rank stops after the
    /// same step. <paramref name="gradientsFinite"/>: the check of the summed gradients, the same on every rank (the
    /// adversarial divergence trains on one process only, so there is no discriminator here).
    /// </summary>
    StepMetrics ReadAll(LossTerms<float> t, out bool gradientsFinite)
    {
        Span<float> v = stackalloc float[4];
        Net.Backend.ReadScalars([t.Recon, t.Kl, t.Mmd, Net.Params.FlagNonFiniteGradient()], v);
        gradientsFinite = v[3] == 0;
        reduced[0] = v[0]; reduced[1] = v[1]; reduced[2] = LocalStop?.Invoke() == true ? 1 : 0;
        Replicas.SumInRankOrder<double>(reduced);
        StopAgreed = reduced[2] > 0;
        return Combined(reduced[0], reduced[1], v[2]);
    }

    /// <summary>A step's metrics from the batch's recon and KL added up over shares, and the batch's MMD².</summary>
    StepMetrics Combined(double recon, double kl, double mmd)
    {
        double c = Config.MmdWeight;
        double total = Config.Beta * recon + Config.KlWeight * kl + (c != 0 ? c * mmd : 0);
        return new StepMetrics(total, recon, kl, mmd);
    }

    /// <summary>Sums every parameter's gradient over the ranks, in place (through a host copy off the CPU).</summary>
    void SumGradients()
    {
        var p = Net.Params;
        p.MaterializeGrads();
        var g = p.AllGrad;
        if (g.Storage is CpuStorage<float> cpu)
        {
            Replicas.SumInRankOrder(cpu.Data.AsSpan(g.Offset, g.Length));
            return;
        }
        if (hostGrad.Length != g.Length) hostGrad = new float[g.Length];
        g.CopyTo(hostGrad);
        Replicas.SumInRankOrder<float>(hostGrad);
        g.CopyFrom(hostGrad);
    }

    /// <summary>The loss terms in one read (on a GPU: one transfer and one wait, not four or six).</summary>
    internal static StepMetrics Read(LossTerms<float> t)
    {
        Span<float> v = stackalloc float[6];
        var backend = t.Total.Backend;
        if (t.Adversarial is { } g && t.Discriminator is { } d)
            backend.ReadScalars([t.Total, t.Recon, t.Kl, t.Mmd, g, d], v);
        else backend.ReadScalars([t.Total, t.Recon, t.Kl, t.Mmd], v);
        return new(v[0], v[1], v[2], v[3], v[4], v[5]);
    }

    /// <summary>
    /// The loss terms and both nets' gradient checks (<see cref="Parameters{T}.FlagNonFiniteGradient"/>) in one read.
    /// </summary>
    StepMetrics ReadWithGradientChecks(LossTerms<float> t, out bool gradientsFinite)
    {
        Span<float> v = stackalloc float[8];
        var vae = Net.Params.FlagNonFiniteGradient();
        if (t.Adversarial is { } g && t.Discriminator is { } d && Net.Disc is { } disc)
            Net.Backend.ReadScalars([t.Total, t.Recon, t.Kl, t.Mmd, g, d, vae, disc.Params.FlagNonFiniteGradient()], v);
        else
        {
            Net.Backend.ReadScalars([t.Total, t.Recon, t.Kl, t.Mmd, vae], v);
            (v[6], v[4]) = (v[4], 0);
        }
        gradientsFinite = v[6] == 0 && v[7] == 0;
        return new(v[0], v[1], v[2], v[3], v[4], v[5]);
    }

    /// <summary>
    /// The chosen images in a batch tensor kept per batch size, gathered by the backend (a step allocates nothing).
    /// </summary>
    Tensor<float> Gather(ReadOnlySpan<int> rows)
    {
        trainRows ??= Net.Backend.KeepRows(Train.Pixels, Train.PixelsPerImage);
        return Gather(rows, batchTensors, trainRows);
    }

    /// <summary>
    /// As above, into one of the tensors in <paramref name="kept"/>, through <paramref name="gather"/>.
    /// </summary>
    Tensor<float> Gather(ReadOnlySpan<int> rows, Dictionary<int, Tensor<float>> kept, IRowGather<float> gather)
    {
        int b = rows.Length;
        if (!kept.TryGetValue(b, out var x))
            kept[b] = x = Tensor<float>.Zeros(new Shape(b, Train.PixelsPerImage), Net.Backend);
        gather.Gather(rows, x);
        return x;
    }

    public StepMetrics Evaluate(LabeledImages data) => Evaluation.LossTerms(Net, data);
}
