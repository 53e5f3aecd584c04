using InfoVae.Engine;

namespace InfoVae.Model;

/// <summary>
/// Trains a <see cref="Classifier{T}"/>: mean softmax cross-entropy over batches, Adam with a cosine step size
/// from <see cref="ClassifierConfig.LearningRate"/> down to 0. Deterministic from the seed: PyTorch's initialisation
/// and each epoch's order come from <see cref="TorchGenerator"/> (the order as <see cref="Batches.Shuffle"/> draws it
/// for the InfoVAE), so the same seed gives the same weights bit for bit on the same instruction set, on 1 or 2
/// threads. Each epoch runs ⌊N / batch⌋ full batches (the few images left over are not seen that epoch: batch
/// norm needs two images, and equal batches keep the arithmetic the same from step to step).
/// </summary>
public sealed class ClassifierTrainer
{
    public ClassifierConfig Config { get; }
    public Classifier<float> Net { get; }
    public LabeledImages Train { get; }
    /// <summary>Adam steps taken so far.</summary>
    public long Step { get; private set; }

    readonly int[] order;
    readonly float[] hostX, hostT;
    readonly Tensor<float> x, target;

    public ClassifierTrainer(ClassifierConfig config, LabeledImages train, IBackend<float> backend)
    {
        Config = config; Train = train;
        if (train.Count < config.Batch)
            throw new UserError($"the training set holds {train.Count} images, fewer than one batch of "
                + $"{config.Batch}; lower --batch or give more images");
        Net = new Classifier<float>(config, backend);
        Net.Params.Initialize(config.Seed);
        order = new int[train.Count];
        hostX = new float[config.Batch * train.PixelsPerImage];
        hostT = new float[config.Batch * config.Classes];
        x = Tensor<float>.Zeros(new Shape(config.Batch, train.PixelsPerImage), backend);
        target = Tensor<float>.Zeros(new Shape(config.Batch, config.Classes), backend);
    }

    public int BatchesPerEpoch => Train.Count / Config.Batch;
    public long TotalSteps => (long)BatchesPerEpoch * Config.Epochs;

    /// <summary>The step size of step s (0-based): lr·½(1 + cos(π·s/S)) over the run's S steps.</summary>
    public double LearningRate(long step) => Config.LearningRate * 0.5 * (1 + Math.Cos(Math.PI * step / TotalSteps));

    /// <summary>Draws epoch <paramref name="epoch"/>'s order (call once per epoch, before its batches).</summary>
    public void StartEpoch(int epoch) => Batches.Shuffle(order, Config.Seed, epoch);

    /// <summary>One step on batch <paramref name="index"/> of the current epoch; returns its mean loss.</summary>
    public double TrainStep(int index)
    {
        int b = Config.Batch, p = Train.PixelsPerImage, c = Config.Classes;
        Array.Clear(hostT);
        for (int i = 0; i < b; i++)
        {
            int image = order[index * b + i];
            Train.Image(image).CopyTo(hostX.AsSpan(i * p, p));
            hostT[i * c + Train.Labels[image]] = 1;
        }
        x.CopyFrom(hostX); target.CopyFrom(hostT);
        var tape = Tape<float>.Current;
        var ps = Net.Params;
        try
        {
            ps.ZeroGrad();
            Net.Training = true;
            var loss = Ops.SoftmaxCrossEntropy(Net.Forward(x).Logits, target).Mean();
            double value = loss.Item();
            if (!double.IsFinite(value))
                throw new UserError($"the classifier's loss is {value} at step {Step + 1}; try a lower --lr");
            loss.Backward();
            ps.MaterializeGrads();
            Net.Backend.Adam(ps.All, ps.AllGrad, ps.AllM, ps.AllV, LearningRate(Step), 0.9, 0.999, 1e-8, Step + 1);
            Step++;
            return value;
        }
        finally { Net.Training = false; tape.Reset(); }
    }
}
