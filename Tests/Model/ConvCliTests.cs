using System.Text.Json;
using InfoVae.Model.IO;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// `infovae train --arch conv` end to end on a tiny 28 × 28 data set (channels 2,3,4): the run folder, eval,
/// export (PyTorch's layouts), the picture commands, resume; and the flags it refuses with one line.
/// </summary>
public class ConvCliTests
{
    TempFolder root = null!;
    string data = null!, run = null!;

    [OneTimeSetUp]
    public void Up()
    {
        root = new TempFolder();
        data = root["data"];
        IdxFiles.WriteDataSet(data, train: 24, test: 10);
        run = root["run"];
        var r = Cli.Run(["train", "--arch", "conv", "--channels", "2,3,4", "--latent", "2", "--data", data, "--out",
            run, "--epochs", "1", "--batch", "8", "--log-every", "1"]);
        Assert.That(r.Code, Is.Zero, r.Err + r.Out);
    }

    [OneTimeTearDown] public void Down() => root.Dispose();

    [Test]
    public void The_run_folder_holds_a_conv_config_a_checkpoint_with_running_statistics_and_the_pictures()
    {
        var config = File.ReadAllText(Path.Combine(run, "config.json"));
        Assert.That(config, Does.Contain("\"arch\": \"conv\""));
        var ckpt = SafeTensors.Read(Path.Combine(run, "checkpoint.safetensors"));
        Assert.That(ckpt.Get("encoder.3.weight", DType.F32, 3, 4, 4, 2), Is.Not.Null, "channels-last (OC, KH, KW, C)");
        Assert.That(ckpt.Get("decoder.2.running_var", DType.F32, 4).As<float>(), Has.Some.Not.EqualTo(1f),
            "running variance moved");
        Assert.That(ckpt.Get("encoder.1.num_batches_tracked", DType.I64).As<long>(), Is.EqualTo(new[] { 3L }),
            "24 images in batches of 8");
        foreach (var png in new[] { "samples.png", "reconstructions.png", "interpolations.png", "traversal.png",
            "latent.png", "loss.png" })
            Assert.That(File.Exists(Path.Combine(run, png)), png);
    }

    [Test]
    public void Eval_reports_finite_consistent_numbers()
    {
        var r = Cli.Run("eval", "--run", run, "--data", data, "--iw-samples", "5", "--json");
        Assert.That(r.Code, Is.Zero, r.Err);
        using var doc = JsonDocument.Parse(r.Out);
        var e = doc.RootElement;
        double recon = e.GetProperty("recon").GetDouble(), kl = e.GetProperty("kl").GetDouble();
        double mmd = e.GetProperty("mmd").GetDouble(), total = e.GetProperty("total").GetDouble();
        Assert.That(total, Is.EqualTo(recon + kl + 999 * mmd).Within(1e-6 * Math.Abs(recon)));
        Assert.That(double.IsFinite(e.GetProperty("iw_nll").GetDouble()));
        Assert.That(e.GetProperty("images").GetInt32(), Is.EqualTo(10));
    }

    [Test]
    public void Export_writes_pytorch_layouts_and_every_batch_norm_buffer()
    {
        var file = root["conv-" + Guid.NewGuid().ToString("N")[..6] + ".safetensors"];
        var r = Cli.Run("export", "--run", run, "--out", file);
        Assert.That(r.Code, Is.Zero, r.Err);
        var f = SafeTensors.Read(file);
        var ckpt = SafeTensors.Read(Path.Combine(run, "checkpoint.safetensors"));
        Assert.That(f.GetMetadata("model"), Is.EqualTo("infovae-conv"));
        // Conv2d (OC, C, KH, KW), ConvTranspose2d (Cin, Cout, KH, KW): our (OC, KH, KW, C) element [o, kh, kw, c] is
        // theirs [o, c, kh, kw].
        var ours = ckpt.Get("encoder.3.weight", DType.F32, 3, 4, 4, 2).As<float>();
        var theirs = f.Get("encoder.3.weight", DType.F32, 3, 2, 4, 4).As<float>();
        Assert.That(theirs[((2 * 2 + 1) * 4 + 3) * 4 + 0], Is.EqualTo(ours[((2 * 4 + 3) * 4 + 0) * 2 + 1]));
        var oursT = ckpt.Get("decoder.4.weight", DType.F32, 4, 3, 3, 3).As<float>();
        var theirsT = f.Get("decoder.4.weight", DType.F32, 4, 3, 3, 3).As<float>();
        Assert.That(theirsT[((3 * 3 + 2) * 3 + 1) * 3 + 0], Is.EqualTo(oursT[((3 * 3 + 1) * 3 + 0) * 3 + 2]),
            "[cin 3, cout 2, kh 1, kw 0]");
        // The linear layer after the flatten reads PyTorch's NCHW columns: ours (p·c3 + c), theirs (c·16 + p).
        var lin = ckpt.Get("encoder.10.weight", DType.F32, 4, 64).As<float>();
        var linT = f.Get("encoder.10.weight", DType.F32, 4, 64).As<float>();
        Assert.That(linT[1 * 64 + 3 * 16 + 5], Is.EqualTo(lin[1 * 64 + 5 * 4 + 3]));
        var dec = ckpt.Get("decoder.0.weight", DType.F32, 64, 2).As<float>();
        var decT = f.Get("decoder.0.weight", DType.F32, 64, 2).As<float>();
        Assert.That(decT[(2 * 16 + 7) * 2 + 1], Is.EqualTo(dec[(7 * 4 + 2) * 2 + 1]));
        foreach (var bn in new[] { "encoder.1", "encoder.4", "encoder.7", "decoder.2", "decoder.5", "decoder.8" })
        {
            foreach (var buffer in new[] { ".running_mean", ".running_var" })
            {
                Assert.That(f.TryGet(bn + buffer, out var exported), bn + buffer);
                Assert.That(ckpt.TryGet(bn + buffer, out var saved), bn + buffer);
                Assert.That(exported.Data, Is.EqualTo(saved.Data), bn + buffer);
            }
            Assert.That(f.Get(bn + ".num_batches_tracked", DType.I64).As<long>(), Is.EqualTo(new[] { 3L }), bn);
        }
        Assert.That(f.Tensors.Any(t => t.Name.StartsWith("adam.")), Is.False, "weights only");
    }

    [TestCase("sample")]
    [TestCase("reconstruct")]
    [TestCase("interpolate")]
    public void Picture_commands_work_on_a_conv_run(string command)
    {
        var png = root[command + "-" + Guid.NewGuid().ToString("N")[..6] + ".png"];
        string[] args = command == "sample" ? [command, "--run", run, "--out", png]
            : [command, "--run", run, "--data", data, "--out", png];
        var r = Cli.Run(args);
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(new FileInfo(png).Length, Is.GreaterThan(100));
    }

    [Test]
    public void A_conv_run_resumes_for_more_epochs()
    {
        var copy = root["resumed-" + Guid.NewGuid().ToString("N")[..6]];
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(run)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var r = Cli.Run("train", "--resume", copy, "--data", data, "--epochs", "2", "--no-pictures");
        Assert.That(r.Code, Is.Zero, r.Err);
        var ckpt = SafeTensors.Read(Path.Combine(copy, "checkpoint.safetensors"));
        Assert.That(ckpt.Metadata["epoch"], Is.EqualTo("2"));
        Assert.That(ckpt.Get("decoder.8.num_batches_tracked", DType.I64).As<long>(), Is.EqualTo(new[] { 6L }));
    }

    // ---- refusals: one line, non-zero exit, nothing trained ----

    [TestCase("--channels", "", "--channels must list 3 positive")]
    [TestCase("--channels", "0,3,4", "--channels must list 3 positive")]
    [TestCase("--channels", "2,-3,4", "--channels must list 3 positive")]
    [TestCase("--channels", "32,64", "--channels must list 3 positive")]
    [TestCase("--channels", "2,x,4", "--channels '2,x,4' is not")]
    [TestCase("--hidden", "16", "--hidden sets the MLP's layers")]
    public void Bad_conv_flags_get_one_clear_line(string flag, string value, string phrase)
    {
        var outDir = root["never-" + Guid.NewGuid().ToString("N")[..6]];
        var r = Cli.Run("train", "--arch", "conv", flag, value, "--data", data, "--out", outDir, "--epochs", "1");
        Assert.That(r.Code, Is.Not.Zero);
        Assert.That(r.OneLine(), Does.Contain(phrase));
        Assert.That(Directory.Exists(outDir), Is.False, "refused before the run folder is made");
    }

    [Test]
    public void An_unknown_arch_is_refused()
    {
        var r = Cli.Run("train", "--arch", "resnet", "--data", data, "--out", root["never-arch"]);
        Assert.That(r.Code, Is.Not.Zero);
        Assert.That(r.OneLine(), Does.Contain("unknown --arch 'resnet': use mlp or conv"));
    }

    [Test]
    public void Channels_without_arch_conv_is_refused()
    {
        var r = Cli.Run("train", "--channels", "8,8,8", "--data", data, "--out", root["never-ch"]);
        Assert.That(r.OneLine(), Does.Contain("add --arch conv"));
    }

    [Test]
    public void Conv_on_images_that_are_not_28_by_28_is_refused()
    {
        var small = root["data-10x12"];
        IdxFiles.WriteDataSet(small, train: 12, test: 4, rows: 10, cols: 12);
        var outDir = root["never-10x12"];
        var r = Cli.Run("train", "--arch", "conv", "--channels", "2,3,4", "--latent", "2", "--data", small, "--out",
            outDir);
        Assert.That(r.Code, Is.Not.Zero);
        Assert.That(r.OneLine(), Does.Contain("--arch conv takes 28×28 images").And.Contain("10×12"));
        Assert.That(Directory.Exists(outDir), Is.False);
    }

    [Test]
    public void Resuming_a_conv_run_as_an_mlp_is_refused()
    {
        var r = Cli.Run("train", "--resume", run, "--data", data, "--arch", "mlp");
        Assert.That(r.OneLine(), Does.Contain("--arch mlp disagrees with the run being resumed (conv)"));
        r = Cli.Run("train", "--resume", run, "--data", data, "--channels", "2,3,5");
        Assert.That(r.OneLine(), Does.Contain("--channels 2,3,5 disagrees"));
    }
}
