using InfoVae.Engine;
using InfoVae.Kernels.Cpu;

namespace InfoVae.Model;

/// <summary>
/// The training loop's state and one step of it. Everything random is a Philox stream keyed by the seed and
/// indexed by the step (noise) or the epoch (shuffle), so the position (epoch, batch, step) plus the weights and
/// Adam moments is the whole state: a resumed run continues bit for bit.
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

    readonly int[] order;
    int orderEpoch = -1;
    readonly float[] hostBatch;
    readonly Dictionary<int, Tensor<float>> batchTensors = [];

    public Trainer(TrainConfig config, LabeledImages train, IBackend<float> backend)
    {
        Config = config; Train = train;
        Net = new InfoVaeNet<float>(config, backend);
        order = new int[train.Count];
        hostBatch = new float[Math.Min(config.Batch, train.Count) * train.PixelsPerImage];
    }

    public int BatchesPerEpoch => Batches.Count(Train.Count, Config.Batch);
    public bool Finished => Epoch >= Config.Epochs;

    /// <summary>Runs the next batch: forward, loss, backward, Adam. Returns the batch's loss terms.</summary>
    public StepMetrics TrainStep()
    {
        if (orderEpoch != Epoch) { Batches.Shuffle(order, Config.Seed, Epoch); orderEpoch = Epoch; }
        int start = NextBatch * Config.Batch, b = Math.Min(Config.Batch, Train.Count - start);
        var x = Gather(order.AsSpan(start, b), Train);
        int z = Config.Latent, m = Config.PriorCount(b);
        var be = Net.Backend;
        StepMetrics metrics;
        try
        {
            var eps = Ops.Normal<float>(new Shape(b, z), RandomStreams.Key(Config.Seed, RandomStreams.Eps), (ulong)Step << 24, be);
            var prior = Ops.Normal<float>(new Shape(m, z), RandomStreams.Key(Config.Seed, RandomStreams.Prior), (ulong)Step << 24, be);
            Net.Params.ZeroGrad();
            Net.Training = true;                      // batch norm: batch statistics, running averages updated
            var terms = Net.Loss(x, eps, prior);
            Tape<float>.Current.CheckAnomalies();     // anomaly mode: the last ops too, before the loss is read
            metrics = Read(terms);
            if (metrics.IsFinite)
            {
                terms.Total.Backward();
                Net.AdamStep(Step + 1);
                Step++;
            }
        }
        finally { Net.Training = false; Tape<float>.Current.Reset(); }     // also when anomaly mode throws mid-step: the next user of this thread's tape starts clean
        if (!metrics.IsFinite) return metrics;
        if (++NextBatch == BatchesPerEpoch) { NextBatch = 0; Epoch++; }
        return metrics;
    }

    internal static StepMetrics Read(LossTerms<float> t) => new(t.Total.Item(), t.Recon.Item(), t.Kl.Item(), t.Mmd.Item());

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
