using InfoVae.Model.IO;
using static InfoVae.Model.IO.OnnxGraph;

namespace InfoVae.Model;

/// <summary>
/// A trained net as two ONNX models (opset 17, float32, dynamic batch) for any ONNX runtime:
/// <list type="bullet">
/// <item>encoder.onnx: x (batch, D) → mu, logvar (batch, Z);</item>
/// <item>decoder.onnx: z (batch, Z) → logits, probabilities = sigmoid(logits) (batch, D) (the Bernoulli means; for
/// a run with --recon gaussian, the Gaussian means).</item>
/// </list>
/// Both sides are flat rows, as the IDX data are: an image is its pixels in [0, 1], row after row (D = 784 for
/// 28 × 28). The conv net reshapes that row to NCHW (batch, 1, 28, 28) inside the graph (one channel: the same
/// bytes as our NHWC) and runs PyTorch's layouts (<see cref="Parameters{T}.TorchState"/>), with batch norm in
/// evaluation mode as BatchNormalization nodes over the running statistics. Tensors carry the PyTorch twin's
/// names: initializers its state-dict keys, each node's output its module (encoder.0, encoder.1, …).
/// </summary>
public static class OnnxExport
{
    public const string EncoderFile = "encoder.onnx", DecoderFile = "decoder.onnx";

    /// <summary>
    /// Writes encoder.onnx and decoder.onnx into <paramref name="folder"/> (created if needed), each to a temporary
    /// file renamed into place. <paramref name="configJson"/> (the run's config.json) goes into both files'
    /// metadata with the version and commit of this build.
    /// </summary>
    public static (string Encoder, string Decoder) Write(InfoVaeNet<float> net, string folder, string configJson)
    {
        var c = net.Config;
        var w = new Weights(net.Params);
        var meta = new Dictionary<string, string>
        {
            ["infovae_version"] = BuildInfo.Version,
            ["infovae_commit"] = BuildInfo.Commit ?? "unknown",
            ["model"] = c.Arch == Architecture.Conv ? "infovae-conv" : "infovae-mlp",
            ["architecture"] = c.Describe(),
            ["latent"] = c.Latent.ToString(),
            ["input_size"] = c.InputSize.ToString(),
            ["layout"] = "flat rows: x and the decoder's outputs are (batch, D), pixels in [0, 1] row after row",
            ["config"] = configJson,
        };
        var encoder = Encoder(net, w).ToModel(BuildInfo.Version, meta);
        var decoder = Decoder(net, w).ToModel(BuildInfo.Version, meta);
        string encoderPath = Path.Combine(folder, EncoderFile), decoderPath = Path.Combine(folder, DecoderFile);
        try
        {
            if (File.Exists(folder))
                throw new UserError($"--out {folder} is a file; ONNX export writes two files, so give a folder");
            Directory.CreateDirectory(folder);
            AtomicFile.WriteAllBytes(encoderPath, Google.Protobuf.MessageExtensions.ToByteArray(encoder));
            AtomicFile.WriteAllBytes(decoderPath, Google.Protobuf.MessageExtensions.ToByteArray(decoder));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"cannot write the ONNX files into {folder}: {e.Message.TrimEnd('.')}; "
                + "choose an --out folder that you can write to");
        }
        return (encoderPath, decoderPath);
    }

    /// <summary>x → hidden layers or convolutions → h (batch, 2Z) → mu = h[:, :Z], logvar = h[:, Z:].</summary>
    static OnnxGraph Encoder(InfoVaeNet<float> net, Weights w)
    {
        var c = net.Config;
        var g = new OnnxGraph("infovae_encoder", $"InfoVAE encoder ({c.Describe()}): x → q(z|x)");
        string h = g.Input("x", c.InputSize, "images (batch, D): pixels in [0, 1], row after row");
        if (c.Arch == Architecture.Conv)
        {
            h = g.Node("Reshape", [h, g.Int64s("image_shape", -1, 1, ConvArch.Side, ConvArch.Side)], "image");
            var layers = ConvArch.Encoder(c.Channels);
            for (int i = 0; i < layers.Length; i++)
            {
                h = Conv(g, w, h, ConvArch.EncoderConv(i), layers[i], transpose: false, bias: false);
                h = NormAndActivate(g, w, h, ConvArch.EncoderNorm(i), $"encoder.{3 * i + 2}");
            }
            h = g.Node("Flatten", [h], "encoder.9", Attribute("axis", 1L));
            h = Linear(g, w, h, ConvArch.EncoderLinear, bias: true);
        }
        else
        {
            for (int i = 0; i <= c.Hidden.Length; i++)
            {
                h = Linear(g, w, h, $"encoder.{2 * i}", bias: true);
                if (i < c.Hidden.Length) h = g.Node("Relu", [h], $"encoder.{2 * i + 1}");
            }
        }
        string axis = g.Int64s("latent_axis", 1);
        g.Node("Slice", [h, g.Int64s("mu_start", 0), g.Int64s("mu_end", c.Latent), axis], "mu");
        g.Node("Slice", [h, g.Int64s("logvar_start", c.Latent), g.Int64s("logvar_end", 2 * c.Latent), axis], "logvar");
        g.Output("mu", c.Latent, "mean of q(z|x) (batch, Z)");
        g.Output("logvar", c.Latent, "log variance of q(z|x) (batch, Z)");
        return g;
    }

    /// <summary>z → hidden layers or transposed convolutions → logits (batch, D), probabilities = σ(logits).</summary>
    static OnnxGraph Decoder(InfoVaeNet<float> net, Weights w)
    {
        var c = net.Config;
        var g = new OnnxGraph("infovae_decoder", $"InfoVAE decoder ({c.Describe()}): z → p(x|z)");
        string h = g.Input("z", c.Latent, "latent codes (batch, Z)");
        if (c.Arch == Architecture.Conv)
        {
            h = Linear(g, w, h, ConvArch.DecoderLinear, bias: false);
            string bottom = g.Int64s("bottom_shape", -1, c.Channels[2], ConvArch.Bottom, ConvArch.Bottom);
            h = g.Node("Reshape", [h, bottom], "decoder.1");
            h = NormAndActivate(g, w, h, ConvArch.DecoderLinearNorm, "decoder.3");
            var layers = ConvArch.Decoder(c.Channels);
            for (int i = 0; i < layers.Length; i++)
            {
                bool last = i == layers.Length - 1;
                h = Conv(g, w, h, ConvArch.DecoderConv(i), layers[i], transpose: true, bias: last);
                if (!last) h = NormAndActivate(g, w, h, ConvArch.DecoderNorm(i), $"decoder.{6 + 3 * i}");
            }
            g.Node("Reshape", [h, g.Int64s("flat_shape", -1, c.InputSize)], "logits");
        }
        else
        {
            for (int i = 0; i <= c.Hidden.Length; i++)
            {
                bool last = i == c.Hidden.Length;
                h = Linear(g, w, h, $"decoder.{2 * i}", bias: true, output: last ? "logits" : null);
                if (!last) h = g.Node("Relu", [h], $"decoder.{2 * i + 1}");
            }
        }
        g.Node("Sigmoid", ["logits"], "probabilities");
        g.Output("logits", c.InputSize, "logits of each pixel (batch, D)");
        g.Output("probabilities", c.InputSize, "sigmoid(logits) (batch, D): the means of p(x|z)");
        return g;
    }

    /// <summary>The state dict (parameters, running statistics) by name, in PyTorch's shapes and layouts.</summary>
    sealed class Weights(Parameters<float> p)
    {
        readonly Dictionary<string, (int[] Shape, float[] Values)> byName =
            p.TorchState().Where(t => t.Values != null).ToDictionary(t => t.Name, t => (t.Shape, t.Values!));

        /// <summary>Adds the tensor to <paramref name="g"/> as an initializer and returns its name.</summary>
        public string Put(OnnxGraph g, string name) => g.Weight(name, byName[name].Values, byName[name].Shape);
    }

    /// <summary>y = h·Wᵀ + b (Gemm with transB: W stays PyTorch's (out, in)).</summary>
    static string Linear(OnnxGraph g, Weights w, string h, string layer, bool bias, string? output = null)
    {
        string weight = w.Put(g, layer + ".weight");
        string[] inputs = bias ? [h, weight, w.Put(g, layer + ".bias")] : [h, weight];
        return g.Node("Gemm", inputs, output ?? layer, Attribute("transB", 1L));
    }

    /// <summary>Conv (weight (OC, C, K, K)) or ConvTranspose (weight (Cin, Cout, K, K)), NCHW, even pads.</summary>
    static string Conv(OnnxGraph g, Weights w, string h, string layer, ConvLayer l, bool transpose, bool bias)
    {
        string weight = w.Put(g, layer + ".weight");
        string[] inputs = bias ? [h, weight, w.Put(g, layer + ".bias")] : [h, weight];
        return g.Node(transpose ? "ConvTranspose" : "Conv", inputs, layer,
            Attribute("kernel_shape", l.Kernel, l.Kernel), Attribute("strides", l.Stride, l.Stride),
            Attribute("pads", l.Pad, l.Pad, l.Pad, l.Pad));
    }

    /// <summary>Batch norm in evaluation mode over the channels (axis 1), then leaky ReLU: as InfoVaeNet.</summary>
    static string NormAndActivate(OnnxGraph g, Weights w, string h, string norm, string activation)
    {
        string[] inputs =
        [
            h, w.Put(g, norm + ".weight"), w.Put(g, norm + ".bias"),
            w.Put(g, norm + ".running_mean"), w.Put(g, norm + ".running_var"),
        ];
        h = g.Node("BatchNormalization", inputs, norm, Attribute("epsilon", (float)ConvArch.NormEps));
        return g.Node("LeakyRelu", [h], activation, Attribute("alpha", (float)ConvArch.LeakySlope));
    }
}
