using InfoVae.Engine.Cpu;

namespace InfoVae.Model;

/// <summary>
/// A finished (or stopped) run for programs that use InfoVae.NET as a library (see examples/AnomalyScore): its
/// config and last checkpoint's weights on the CPU, and per-image encodings and anomaly scores. The CLI's eval,
/// export and picture commands load runs through <see cref="Load"/> too. Bad input (no run folder, a damaged
/// checkpoint, images of another size) throws <see cref="UserError"/> with a message that names the fix.
/// </summary>
public sealed class TrainedModel
{
    /// <summary>The net in evaluation mode (batch norm uses its running statistics) on the CPU backend.</summary>
    public InfoVaeNet<float> Net { get; }
    public TrainConfig Config => Net.Config;

    TrainedModel(InfoVaeNet<float> net) => Net = net;

    /// <summary>Reads config.json and checkpoint.safetensors from the folder that <c>infovae train</c> wrote.</summary>
    public static TrainedModel Load(string runFolder)
    {
        var folder = RunFolder.Open(runFolder);
        var net = new InfoVaeNet<float>(folder.ReadConfig(), CpuBackend<float>.Instance);
        Checkpoint.Load(folder.CheckpointPath, net);
        return new TrainedModel(net);
    }

    /// <summary>mu and logvar of q(z|x) for every image, (N, Z) each, row-major.</summary>
    public (float[] Mu, float[] Logvar) Encode(LabeledImages images)
    {
        Check(images);
        int z = Config.Latent;
        var mu = new float[images.Count * z]; var logvar = new float[images.Count * z];
        Evaluation.Encode(Net, images, mu, logvar);
        return (mu, logvar);
    }

    /// <summary>−log p(x | z = mu) per image, nats: how badly the posterior mean reconstructs it.</summary>
    public double[] ReconstructionError(LabeledImages images)
    {
        Check(images);
        return Evaluation.ReconstructionErrors(Net, images);
    }

    /// <summary>
    /// The importance-weighted bound on −log p(x) per image with <paramref name="samples"/> draws from q(z|x)
    /// (Burda et al. 2015), nats: the model's surprise at the image; eval's IW-NLL is its mean over the test set.
    /// </summary>
    public double[] ImportanceWeightedNll(LabeledImages images, int samples = 100)
    {
        Check(images);
        if (samples < 1)
            throw new UserError($"the IW-NLL needs at least 1 sample per image, not {samples}; 100 is usual");
        return Evaluation.IwNll(Net, images, samples);
    }

    void Check(LabeledImages images)
    {
        bool conv = Config.Arch == Architecture.Conv;
        if (images.PixelsPerImage != Config.InputSize || (conv && images.Rows != ConvArch.Side))
        {
            string trained = conv ? $"{ConvArch.Side}×{ConvArch.Side} images" : $"{Config.InputSize} pixels per image";
            throw new UserError($"the images are {images.Rows}×{images.Cols} but the run was trained on {trained}; "
                + "score images of the size it was trained on");
        }
    }
}
