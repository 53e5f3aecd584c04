using InfoVae.Engine.Cpu;
using InfoVae.Model;
using InfoVae.Model.IO;

namespace InfoVae.Tests.Model;

/// <summary>export writes exactly the weights, under PyTorch's state-dict names and (out, in) layouts.</summary>
public class ExportTests
{
    [Test]
    public void Exported_file_holds_every_weight_under_its_pytorch_name()
    {
        var cfg = new TrainConfig { InputSize = 20, Hidden = [6, 5], Latent = 3 };
        var net = new InfoVaeNet<float>(cfg, CpuBackend<float>.Instance);
        net.Params.Initialize(9);
        var path = Path.Combine(Path.GetTempPath(), $"infovae-export-{Guid.NewGuid():N}.safetensors");
        try
        {
            Export.Write(net, path);
            var f = SafeTensors.Read(path);
            Assert.That(f.Tensors.Select(t => t.Name), Is.EqualTo(new[]
            {
                "encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias", "encoder.4.weight",
                    "encoder.4.bias",
                "decoder.0.weight", "decoder.0.bias", "decoder.2.weight", "decoder.2.bias", "decoder.4.weight",
                    "decoder.4.bias",
            }));
            Assert.That(f.Get("encoder.0.weight", DType.F32, 6, 20).As<float>(),
                Is.EqualTo(net.Params["encoder.0.weight"].ToArray()));
            Assert.That(f.Get("decoder.4.weight", DType.F32, 20, 6).As<float>(),
                Is.EqualTo(net.Params["decoder.4.weight"].ToArray()));
            Assert.That(f.GetMetadata("format"), Is.EqualTo("pt"));
            Assert.That(File.Exists(path + ".tmp"), Is.False);
        }
        finally { File.Delete(path); }
    }
}
