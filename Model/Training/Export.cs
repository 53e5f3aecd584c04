using InfoVae.Model.IO;

namespace InfoVae.Model;

/// <summary>
/// The weights alone under PyTorch's state-dict names and layouts, so
/// <c>model.load_state_dict(safetensors.torch.load_file(path))</c> works on the twin nn.Sequential model.
/// </summary>
public static class Export
{
    public static void Write(InfoVaeNet<float> net, string path)
    {
        var p = net.Params;
        var values = p.All.ToArray();
        var tensors = p.Layout.Select(e => SafeTensor.From<float>(e.Name, values.AsSpan(e.Offset, e.Shape.Length), e.Shape.ToArray())).ToList();
        var c = net.Config;
        try
        {
            SafeTensors.Write(path, tensors, new Dictionary<string, string>
            {
                ["format"] = "pt", ["model"] = "infovae-mlp", ["hidden"] = string.Join(",", c.Hidden), ["latent"] = c.Latent.ToString(),
                ["input"] = c.InputSize.ToString(), ["decoder_output"] = c.Recon == ReconLoss.Bernoulli ? "logits" : "logits (mean = sigmoid)",
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserError($"cannot write {path}: {e.Message}");
        }
    }
}
