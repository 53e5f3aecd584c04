using System.Numerics;
using InfoVae.Engine;

namespace InfoVae.Model;

/// <summary>The logits (B, classes) and penultimate features (B, hidden) of one batch, on the tape.</summary>
public readonly record struct ClassifierOutput<T>(Tensor<T> Logits, Tensor<T> Features)
    where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>
/// The LeNet-like classifier behind the sample-quality metrics, channels-last (NHWC), for one-channel images of
/// any size (28 × 28 below), c = <see cref="ClassifierConfig.Channels"/>, F = <see cref="ClassifierConfig.Hidden"/>:
/// <code>
/// (B,28,28,1) conv k5 s2 p2 → (B,14,14,c1) BN ReLU → conv k4 s2 p1 → (B,7,7,c2) BN ReLU
///             → conv k3 s2 p1 → (B,4,4,c3) BN ReLU → flatten → linear → (B, F) BN ReLU = features
///             → linear → (B, 10) logits
/// </code>
/// Strided convolutions take the place of LeNet's pooling (the engine has no pooling op, and these reach the
/// accuracy); batch norm's running statistics are used outside training, as in the InfoVAE's conv net. Layers
/// followed by batch norm have no bias. Parameters get PyTorch's default initialisation from the seed.
/// </summary>
public sealed class Classifier<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public const double Momentum = 0.1, NormEps = 1e-5;

    public ClassifierConfig Config { get; }
    public Parameters<T> Params { get; }
    public IBackend<T> Backend { get; }
    /// <summary>Batch norm uses the batch's statistics (and updates its running averages) while true.</summary>
    public bool Training { get; set; }

    readonly int[] convW;
    readonly NormIndex[] norms;
    readonly int hiddenW, outW, outB, flat;   // flat: Config.Flat once (it builds an array of sides on each read)

    public static string ConvName(int i) => $"conv{i + 1}";
    public static string NormName(int i) => $"bn{i + 1}";
    public const string HiddenName = "fc1", OutName = "fc2";

    public Classifier(ClassifierConfig config, IBackend<T> backend)
    {
        config.Validate();
        Config = config; Backend = backend;
        Params = new Parameters<T>(Layout(config), backend);
        convW = Enumerable.Range(0, ClassifierConfig.Geometry.Length)
            .Select(i => Params.IndexOf(ConvName(i) + ".weight")).ToArray();
        norms = [.. Params.Norms];
        hiddenW = Params.IndexOf(HiddenName + ".weight");
        outW = Params.IndexOf(OutName + ".weight"); outB = Params.IndexOf(OutName + ".bias");
        flat = config.Flat;
    }

    public static ParameterLayout Layout(ClassifierConfig c)
    {
        var p = new ParameterLayout();
        int inChannels = 1;
        for (int i = 0; i < ClassifierConfig.Geometry.Length; i++)
        {
            var (k, s, pad) = ClassifierConfig.Geometry[i];
            p.Conv(ConvName(i), new ConvLayer(inChannels, c.Channels[i], k, s, pad, 0, 0), bias: false);
            p.Norm(NormName(i), c.Channels[i]);
            inChannels = c.Channels[i];
        }
        p.Linear(HiddenName, c.Flat, c.Hidden, bias: false);
        p.Norm(NormName(ClassifierConfig.Geometry.Length), c.Hidden);
        p.Linear(OutName, c.Hidden, c.Classes);
        return p;
    }

    /// <summary>x (B, rows·cols) pixels in [0, 1] → logits (B, classes) and features (B, F).</summary>
    public ClassifierOutput<T> Forward(Tensor<T> x)
    {
        int b = x.Shape[0];
        var t = Params.Tensors;
        // Shape, not params int[]: no allocation per step
        var h = x.Reshape(new Shape(b, Config.Rows, Config.Cols, 1));
        for (int i = 0; i < convW.Length; i++)
        {
            var (_, stride, pad) = ClassifierConfig.Geometry[i];
            h = NormRelu(Ops.Conv2d(h, t[convW[i]], null, stride, pad), norms[i]);
        }
        h = h.Reshape(new Shape(b, flat));
        var features = NormRelu(Ops.Linear(h, t[hiddenW], null), norms[^1]);
        return new ClassifierOutput<T>(Ops.Linear(features, t[outW], t[outB]), features);
    }

    Tensor<T> NormRelu(Tensor<T> h, NormIndex n)
    {
        var p = Params;
        h = Ops.BatchNorm(h, p.Tensors[n.Gamma], p.Tensors[n.Beta], p.Buffers[n.RunningMean], p.Buffers[n.RunningVar],
            Training, Momentum, NormEps);
        if (Training) p.BatchesTracked[n.Layer]++;
        return h.Relu();
    }
}
