using InfoVae.Engine;
using InfoVae.Engine.Cpu;
using InfoVae.Engine.Distributed;

namespace InfoVae.Model;

/// <summary>
/// The training loop's state and one step of it. The random draws are PyTorch's, draw for draw
/// (<see cref="TorchGenerator"/>): the weights and then each step's eps and prior samples come from one generator
/// seeded with the seed, as torch.manual_seed(seed) followed by the twin's init and training loop would draw them,
/// and each epoch's order is the next torch.randperm of a second generator seeded with the seed. So a run follows
/// its PyTorch twin (../shared/anchors) up to floating-point rounding. The noise generator's state is saved in
/// checkpoints; the order is recomputed from the epoch number; a resumed run continues bit for bit.
/// Data-parallel (<see cref="Replicas"/> of N ranks): every rank shuffles the same order, draws the whole batch's
/// noise from its own copy of the same generator and takes its rows (<see cref="BatchShare"/>), and the gradients
/// are summed in rank order before Adam, so every rank holds the same weights and N ranks train the model of one.
/// </summary>
public sealed class Trainer
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
    readonly float[] hostBatch, hostEps, hostPrior;
    readonly Dictionary<int, Tensor<float>> batchTensors = [];
    readonly double[] reduced = new double[3];
    float[] hostGrad = [];

    /// <summary>The ranks training together (<see cref="SingleProcess"/> for one process).</summary>
    public ICommunicator Replicas => Net.Replicas;
    /// <summary>Asked once per step when several ranks train: was this rank asked to stop (Ctrl+C, SIGTERM)?</summary>
    public Func<bool>? LocalStop { get; set; }
    /// <summary>Several ranks: true once any rank was asked to stop, agreed by all in the step just run.</summary>
    public bool StopAgreed { get; private set; }

    public Trainer(TrainConfig config, LabeledImages train, IBackend<float> backend, ICommunicator? replicas = null)
    {
        Config = config; Train = train;
        Net = new InfoVaeNet<float>(config, backend) { Replicas = replicas ?? SingleProcess.Instance };
        order = new int[train.Count];
        int b = Math.Min(config.Batch, train.Count);
        hostBatch = new float[new Shape(b, train.PixelsPerImage).Length];
        hostEps = new float[new Shape(b, config.Latent).Length];
        hostPrior = new float[new Shape(config.PriorCount(b), config.Latent).Length];
        Noise = new TorchGenerator(config.Seed);
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
        if (orderEpoch != Epoch) { Batches.Shuffle(order, Config.Seed, Epoch); orderEpoch = Epoch; }
        int start = NextBatch * Config.Batch, b = Math.Min(Config.Batch, Train.Count - start);
        var share = BatchShare.Of(b, Replicas.Rank, Replicas.Size);
        var x = Gather(order.AsSpan(start + share.Offset, share.Count), Train);
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
            metrics = Replicas.Size == 1 ? Read(terms) : ReadAll(terms);
            if (metrics.IsFinite)
            {
                (terms.Discriminator is { } d ? terms.Total + d : terms.Total).Backward();
                if (Replicas.Size > 1) SumGradients();
                Net.AdamStep(Step + 1);
                Step++;
            }
        }
        finally { Net.Training = false; Tape<float>.Current.Reset(); }     // also when anomaly mode throws mid-step: the next user of this thread's tape starts clean
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
    /// every rank computed alike. The stop request rides along, so that every rank stops after the same step.
    /// </summary>
    StepMetrics ReadAll(LossTerms<float> t)
    {
        reduced[0] = t.Recon.Item(); reduced[1] = t.Kl.Item(); reduced[2] = LocalStop?.Invoke() == true ? 1 : 0;
        Replicas.SumInRankOrder<double>(reduced);
        StopAgreed = reduced[2] > 0;
        double recon = reduced[0], kl = reduced[1], mmd = t.Mmd.Item(), c = Config.MmdWeight;
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

    internal static StepMetrics Read(LossTerms<float> t) =>
        new(t.Total.Item(), t.Recon.Item(), t.Kl.Item(), t.Mmd.Item(),
        t.Adversarial?.Item() ?? 0, t.Discriminator?.Item() ?? 0);

    /// <summary>Copies the chosen images into a batch tensor kept per batch size (a step allocates nothing).</summary>
    Tensor<float> Gather(ReadOnlySpan<int> rows, LabeledImages data)
    {
        int p = data.PixelsPerImage, b = rows.Length;
        if (!batchTensors.TryGetValue(b, out var x))
            batchTensors[b] = x = Tensor<float>.Zeros(new Shape(b, p), Net.Backend);
        var host = b * p <= hostBatch.Length ? hostBatch.AsSpan(0, b * p) : new float[b * p];
        for (int i = 0; i < b; i++) data.Image(rows[i]).CopyTo(host.Slice(i * p, p));
        x.CopyFrom(host);
        return x;
    }

    public StepMetrics Evaluate(LabeledImages data) => Evaluation.LossTerms(Net, data);
}
