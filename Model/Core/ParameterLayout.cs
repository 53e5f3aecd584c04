using InfoVae.Engine;
using InfoVae.Kernels;

namespace InfoVae.Model;

/// <summary>
/// A named tensor: our shape, where it lies, how PyTorch initialises it and PyTorch's shape and layout.
/// </summary>
public sealed record ParameterEntry(string Name, Shape Shape, int Offset, int FanIn, InitKind Init, int[] TorchShape,
    TorchOrder Order);

/// <summary>
/// The layout table of a <see cref="Parameters{T}"/>: the named tensors in construction order (which is PyTorch's
/// initialisation order), the batch-norm buffers and layer names. Built layer by layer with PyTorch's module
/// conventions (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm), so any net described with it gets
/// PyTorch's initialisation and state-dict names. <see cref="For(TrainConfig)"/> is the InfoVAE's.
/// </summary>
public sealed class ParameterLayout
{
    readonly List<ParameterEntry> entries = [], buffers = [];
    readonly List<string> normNames = [];

    public IReadOnlyList<ParameterEntry> Entries => entries;
    public IReadOnlyList<ParameterEntry> Buffers => buffers;
    public IReadOnlyList<string> NormNames => normNames;
    /// <summary>Elements of all parameters, and of all buffers.</summary>
    public int Count { get; private set; }
    public int BufferCount { get; private set; }

    public void Add(string name, int[] shape, int fanIn, InitKind init, int[]? torchShape = null,
        TorchOrder? order = null)
    {
        var s = new Shape(shape);
        entries.Add(new ParameterEntry(name, s, Count, fanIn, init, torchShape ?? shape,
            order ?? TorchOrder.Same(s.Length)));
        Count = Sizes.Checked((long)Count + s.Length, $"the parameters up to {name}");
    }

    /// <summary>nn.Linear: weight (out, in), then bias (out).</summary>
    public void Linear(string prefix, int inSize, int outSize, bool bias = true, TorchOrder? order = null)
    {
        Add(prefix + ".weight", [outSize, inSize], inSize, InitKind.KaimingUniform, order: order);
        if (bias) Add(prefix + ".bias", [outSize], inSize, InitKind.FanInUniform);
    }

    /// <summary>nn.Conv2d: (OC, KH, KW, C) is PyTorch's (OC, C, KH, KW); fan_in = C·KH·KW.</summary>
    public void Conv(string prefix, ConvLayer l, bool bias)
    {
        int k = l.Kernel;
        Add(prefix + ".weight", [l.Out, k, k, l.In], l.In * k * k, InitKind.KaimingUniform, [l.Out, l.In, k, k],
            new TorchOrder(l.Out, k * k, l.In, 1));
        if (bias) Add(prefix + ".bias", [l.Out], l.In * k * k, InitKind.FanInUniform);
    }

    /// <summary>
    /// nn.ConvTranspose2d: (Cin, KH, KW, Cout) is PyTorch's (Cin, Cout, KH, KW); PyTorch's fan_in is
    /// weight.size(1)·KH·KW = Cout·KH·KW.
    /// </summary>
    public void ConvT(string prefix, ConvLayer l, bool bias)
    {
        int k = l.Kernel;
        Add(prefix + ".weight", [l.In, k, k, l.Out], l.Out * k * k, InitKind.KaimingUniform, [l.In, l.Out, k, k],
            new TorchOrder(l.In, k * k, l.Out, 1));
        if (bias) Add(prefix + ".bias", [l.Out], l.Out * k * k, InitKind.FanInUniform);
    }

    /// <summary>
    /// nn.BatchNorm: gamma (ones) and beta (zeros) as parameters, running mean (0) and variance (1) as buffers.
    /// </summary>
    public void Norm(string prefix, int channels)
    {
        Add(prefix + ".weight", [channels], 0, InitKind.Ones);
        Add(prefix + ".bias", [channels], 0, InitKind.Zeros);
        foreach (var (name, init) in new[] { ("running_mean", InitKind.Zeros), ("running_var", InitKind.Ones) })
        {
            buffers.Add(new ParameterEntry($"{prefix}.{name}", new Shape(channels), BufferCount, 0, init, [channels],
                TorchOrder.Same(channels)));
            BufferCount += channels;
        }
        normNames.Add(prefix);
    }

    /// <summary>The InfoVAE of <paramref name="config"/>: the MLP, or the conv net of <see cref="ConvArch"/>.</summary>
    public static ParameterLayout For(TrainConfig config)
    {
        var p = new ParameterLayout();
        if (config.Arch == Architecture.Conv)
        {
            var c = config.Channels; int hw = ConvArch.Bottom * ConvArch.Bottom, z = config.Latent;
            var enc = ConvArch.Encoder(c); var dec = ConvArch.Decoder(c);
            for (int i = 0; i < enc.Length; i++)
            {
                p.Conv(ConvArch.EncoderConv(i), enc[i], bias: false);
                p.Norm(ConvArch.EncoderNorm(i), enc[i].Out);
            }
            // PyTorch flattens (N, c3, 4, 4): its input column c·HW + p is our column p·c3 + c.
            p.Linear(ConvArch.EncoderLinear, ConvArch.Flat(c), 2 * z, order: new TorchOrder(2 * z, hw, c[2], 1));
            // PyTorch unflattens the output row c·HW + p into (c, p); ours is row p·c3 + c.
            p.Linear(ConvArch.DecoderLinear, z, ConvArch.Flat(c), bias: false, order: new TorchOrder(1, hw, c[2], z));
            p.Norm(ConvArch.DecoderLinearNorm, c[2]);
            for (int i = 0; i < dec.Length; i++)
            {
                bool last = i == dec.Length - 1;
                p.ConvT(ConvArch.DecoderConv(i), dec[i], bias: last);
                if (!last) p.Norm(ConvArch.DecoderNorm(i), dec[i].Out);
            }
        }
        else
        {
            // Encoder D → H1 → … → 2Z, decoder Z → …reversed… → D; ReLU modules sit at the odd Sequential indices.
            int[] enc = [config.InputSize, .. config.Hidden, 2 * config.Latent];
            for (int i = 0; i + 1 < enc.Length; i++) p.Linear($"encoder.{2 * i}", enc[i], enc[i + 1]);
            int[] dec = [config.Latent, .. config.Hidden.Reverse(), config.InputSize];
            for (int i = 0; i + 1 < dec.Length; i++) p.Linear($"decoder.{2 * i}", dec[i], dec[i + 1]);
        }
        return p;
    }
}
