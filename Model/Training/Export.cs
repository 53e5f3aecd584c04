using InfoVae.Model.IO;

namespace InfoVae.Model;

/// <summary>
/// The weights (and batch norm's running statistics) alone under PyTorch's state-dict names, shapes and contiguous
/// layouts, so <c>model.load_state_dict(safetensors.torch.load_file(path))</c> works on the twin model: the
/// nn.Sequential MLP, or the conv net of Tests/Data/make_conv_debug_state.py (conv weights go back from
/// channels-last to (OC, C, KH, KW), the linear layers next to the flatten from NHWC to NCHW order).
/// </summary>
public static class Export
{
    public static void Write(InfoVaeNet<float> net, string path)
    {
        var tensors = net.Params.TorchState()
            .Select(t => t.Values is { } v ? SafeTensor.From<float>(t.Name, v, t.Shape)
                : SafeTensor.From<long>(t.Name, [t.Count!.Value], t.Shape))
            .ToList();
        var c = net.Config;
        var meta = new Dictionary<string, string>
        {
            ["format"] = "pt", ["latent"] = c.Latent.ToString(), ["input"] = c.InputSize.ToString(),
            ["decoder_output"] = c.Recon == ReconLoss.Bernoulli ? "logits" : "logits (mean = sigmoid)",
        };
        if (c.Arch == Architecture.Conv)
        {
            meta["model"] = "infovae-conv";
            meta["channels"] = string.Join(",", c.Channels);
            meta["layout"] =
                "NCHW (PyTorch's default); the decoder's (N, 1, 28, 28) output flattens to the (N, 784) image";
        }
        else { meta["model"] = "infovae-mlp"; meta["hidden"] = string.Join(",", c.Hidden); }
        try { SafeTensors.Write(path, tensors, meta); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"cannot write {path}: {e.Message}");
        }
    }
}
