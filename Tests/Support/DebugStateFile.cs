using System.Globalization;
using System.Numerics;
using InfoVae.Engine;
using InfoVae.Kernels.Cpu;
using InfoVae.Model;
using InfoVae.Model.IO;

namespace InfoVae.Tests.Support;

/// <summary>
/// What the MLP's and the conv net's PyTorch debug states (Tests/Data/make_*debug_state.py) share: the loss settings in
/// their metadata, the batch and noise, and their float64 references.
/// </summary>
public static class DebugStateFile
{
    /// <summary>The loss and optimiser settings the twin wrote; the caller adds the architecture.</summary>
    public static TrainConfig LossConfig(SafeTensorsFile f) => new()
    {
        Latent = int.Parse(f.GetMetadata("latent")),
        InputSize = 784,
        Alpha = double.Parse(f.GetMetadata("alpha"), CultureInfo.InvariantCulture),
        Lambda = double.Parse(f.GetMetadata("lambda"), CultureInfo.InvariantCulture),
        Kernel = MmdKernel.Imq,
        Scales = f.GetMetadata("scales").Split(',')
            .Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray(),
        UnbiasedMmd = f.GetMetadata("estimator") == "unbiased",
        LearningRate = double.Parse(f.GetMetadata("lr"), CultureInfo.InvariantCulture),
        Batch = int.Parse(f.GetMetadata("batch")), PriorSamples = int.Parse(f.GetMetadata("prior_samples")),
    };

    public static T[] Convert<T>(float[] v) where T : INumberBase<T> => Array.ConvertAll(v, x => T.CreateTruncating(x));

    /// <summary>x (B, 784), eps (B, Z) and prior (M, Z) as the twin drew them, converted to T.</summary>
    public static (Tensor<T> X, Tensor<T> Eps, Tensor<T> Prior) Inputs<T>(SafeTensorsFile f, TrainConfig cfg)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Tensor<T> Read(string name, int rows, int cols)
            => Tensor<T>.From(Convert<T>(f.Get(name, DType.F32, rows, cols).As<float>()), new Shape(rows, cols));
        return (Read("x", cfg.Batch, 784), Read("eps", cfg.Batch, cfg.Latent),
            Read("prior", cfg.PriorCount(cfg.Batch), cfg.Latent));
    }

    public static double[] F64(SafeTensorsFile f, string name) =>
        f.TryGet(name, out var t)
            && t.DType == DType.F64 ? t.As<double>()
            : throw new AssertionException($"no F64 tensor {name} in the debug state");
}
