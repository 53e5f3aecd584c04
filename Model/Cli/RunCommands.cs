using System.CommandLine;
using System.Text.Json;
using InfoVae.Model.IO;
using Spectre.Console;

namespace InfoVae.Model.Cli;

/// <summary>
/// The commands that work on a finished (or stopped) run: eval, sample, reconstruct, interpolate, export.
/// </summary>
public static class RunCommands
{
    static Option<string> RunOption() => new("--run")
    {
        Description = "The run folder (as written by train)",
        Required = true
    };

    public static IEnumerable<Command> Build()
    {
        var run = RunOption(); var data = DataOption();
        var iw = new Option<int>("--iw-samples")
        {
            Description = "Importance samples per image for the NLL bound",
            DefaultValueFactory = _ => 100
        };
        var json = new Option<bool>("--json") { Description = "Print the report as one JSON object" };
        var classifier = new Option<string?>("--classifier")
        {
            Description = "Classifier whose features FID, KID and IS use (default: the shipped Fashion-MNIST one)"
        };
        var semi = new Option<bool>("--semi-supervised")
        {
            Description = "Also classifiers on the posterior means trained with 100, 1,000 and all labels (5 draws)"
        };
        var eval = new Command("eval", "Test-set recon, KL, MMD², ELBO, IW-NLL, active units, mutual information; "
            + "FID, KID and IS of samples; semi-supervised accuracy")
            { run, data, iw, json, classifier, semi };
        eval.SetAction(r =>
        {
            if (r.GetValue(iw) < 1)
                throw new UserError($"--iw-samples must be at least 1, not {r.GetValue(iw)}; the default is 100");
            var net = LoadNet(r.GetValue(run)!);
            var ds = LoadChecked(net, r.GetValue(data), r.GetValue(run)!);
            var (cnet, cinfo) = ClassifierCommand.Load(r.GetValue(classifier));
            var rep = Evaluation.Run(net, ds.Test, r.GetValue(iw));
            var quality = SampleQuality.TryCreate(cnet, cinfo, ds.Test, ds.Folder, out var skipped)?.Measure(net);
            var semiRep = r.GetValue(semi) ? LatentProbe.Measure(net, ds) : null;
            if (r.GetValue(json))
            {
                var o = JsonSerializer.SerializeToNode(rep, RunJson.Options)!.AsObject();
                MetricsJson.Add(o, quality, skipped, semiRep);
                // Why the metrics are left out is the JSON's sample_quality_skipped: stderr stays for the notes
                // about the data (RunData), empty when there is nothing to note.
                Console.WriteLine(o.ToJsonString());
                return 0;
            }
            var table =
                new Table().AddColumn("metric").AddColumn(new TableColumn("value").RightAligned()).AddColumn("meaning");
            // Plain text cells: "E[z|x]" would otherwise be read as Spectre markup (a style named z|x) and throw.
            void Row(string metric, string value, string meaning) => table.AddRow(new Text(metric), new Text(value),
                new Text(meaning));
            Row("images", $"{rep.Images:N0}", "test set");
            Row("recon", $"{rep.Recon:F3}", "−log p(x|z), nats per image");
            Row("KL", $"{rep.Kl:F3}", "KL(q(z|x) ‖ p(z)), nats per image");
            Row("MMD²", $"{rep.Mmd:F6}", "MMD²(q(z), p(z)), mean over batches of 1000");
            Row("total", $"{rep.Total:F3}", "the training objective");
            Row("ELBO", $"{rep.Elbo:F3}", "−(recon + KL)");
            Row($"IW-NLL (K={rep.IwSamples})", $"{rep.IwNll:F3}", "importance-weighted bound on −log p(x)");
            Row("active units", $"{rep.ActiveUnits}/{rep.Latent}", "Var_x(E[z|x]) > 0.01");
            Row("mutual information", $"{rep.MutualInformation:F3}", "I_q(x; z), nats");
            if (quality is { } q)
            {
                Row($"FID ({q.Features})", $"{q.Fid:F3}", $"Fréchet distance, {q.Samples:N0} decoded prior samples vs "
                    + $"{q.Reference:N0} test images");
                Row($"KID ({q.Features})", $"{q.Kid:F5} ± {q.KidStd:F5}",
                    $"unbiased MMD², cubic kernel; mean ± std over {q.KidSubsets} subsets of {q.KidSubsetSize}");
                Row("Inception Score (classifier)", $"{q.InceptionScore:F3}",
                    $"exp E KL(p(y|x) ‖ p(y)) of the samples; the test images score {q.TestInceptionScore:F3}");
            }
            string Method(ProbeAccuracy p) => p.Method == "knn" ? $"{semiRep!.KNeighbours}-NN" : "LR";
            if (semiRep != null)
                foreach (var g in semiRep.Results.GroupBy(x => x.Labels))
                    Row($"semi-supervised, {g.Key:N0} labels", string.Join(", ", g.Select(x =>
                        $"{Method(x)} {100 * x.Mean:F1} ± {100 * x.Std:F1} %")),
                        $"test accuracy on E[z|x], mean ± std over {semiRep.Draws} label draws");
            AnsiConsole.Write(table);
            if (skipped != null) Console.WriteLine(skipped);
            return 0;
        });
        yield return eval;

        var run2 = RunOption();
        var outOpt = new Option<string>("--out")
        {
            Description = "The .safetensors file to write (--format onnx: the folder for the two .onnx files)",
            Required = true,
        };
        var format = new Option<string>("--format")
        {
            Description = "safetensors (PyTorch state dict) or onnx (encoder.onnx and decoder.onnx)",
            DefaultValueFactory = _ => "safetensors",
        };
        format.AcceptOnlyFromAmong("safetensors", "onnx");
        var export = new Command("export", "Write the weights under PyTorch names and layouts (encoder.0.weight, …; "
            + "conv nets: NCHW, with BN running statistics) for load_state_dict, or (--format onnx) the encoder and "
            + "decoder as ONNX models")
        {
            run2, outOpt, format,
        };
        export.SetAction(r =>
        {
            string runPath = r.GetValue(run2)!, output = r.GetValue(outOpt)!;
            var net = LoadNet(runPath);
            if (r.GetValue(format) == "onnx")
            {
                // The config as read (an older run's upgraded to today's snake_case form), with the data's digests.
                var (encoder, decoder) = OnnxExport.Write(net, output, RunJson.Write(net.Config));
                Console.WriteLine($"wrote {encoder} and {decoder}");
            }
            else { Export.Write(net, output); Console.WriteLine($"wrote {output}"); }
            return 0;
        });
        yield return export;

        foreach (var (name, what) in new[] { ("sample", "samples.png: decoded prior samples"),
            ("reconstruct", "reconstructions.png: test images above their reconstructions"),
                     ("interpolate",
                         "interpolations.png: walks between test images in latent space, and traversal.png") })
        {
            var r3 = RunOption(); var d3 = DataOption();
            var o3 = new Option<string?>("--out") { Description = "Output PNG (default: in the run folder)" };
            var c = new Command(name, $"Write {what}") { r3, o3 };
            if (name != "sample") c.Options.Add(d3);
            c.SetAction(r =>
            {
                var folder = RunFolder.Open(r.GetValue(r3)!);
                var net = LoadNet(folder.Path);
                // sample reads no data
                var test = name == "sample" ? null : LoadChecked(net, r.GetValue(d3), folder.Path).Test;
                var written = name switch
                {
                    "sample" => RunPictures.Samples(net, r.GetValue(o3) ?? folder.Picture("samples.png")),
                    "reconstruct" => RunPictures.Reconstructions(net, test!,
                        r.GetValue(o3) ?? folder.Picture("reconstructions.png")),
                    _ => RunPictures.Interpolations(net, test!, r.GetValue(o3) ?? folder.Picture("interpolations.png")),
                };
                if (name == "interpolate")
                {
                    var traversal = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(written))!, "traversal.png");
                    Console.WriteLine($"wrote {RunPictures.Traversal(net, test!, traversal)}");
                }
                Console.WriteLine($"wrote {written}");
                return 0;
            });
            yield return c;
        }
    }

    /// <summary>The net of a run folder with its checkpoint's weights, on the CPU.</summary>
    public static InfoVaeNet<float> LoadNet(string runPath) => TrainedModel.Load(runPath).Net;

    static Option<string?> DataOption() => new("--data")
    {
        Description = "Folder with the IDX files (default: the one the run was trained on; "
            + $"{DataSet.DefaultFolder} for runs that do not record it)",
    };

    /// <summary>The run's data, or the folder given (a note when it differs), checked against the model.</summary>
    static DataSet LoadChecked(InfoVaeNet<float> net, string? given, string runPath)
    {
        var ds = RunData.ForCommand(net.Config, given, runPath);
        CheckImageSize(net, ds);
        return ds;
    }

    static void CheckImageSize(InfoVaeNet<float> net, DataSet ds)
    {
        if (ds.Test.PixelsPerImage != net.Config.InputSize)
            throw new UserError($"the data in {ds.Folder} are {ds.Test.Rows}×{ds.Test.Cols} images but the run was "
                + $"trained on {net.Config.InputSize} "
                + "pixels per image; give the --data it was trained on");
        net.Config.CheckImageShape(ds.Test.Rows, ds.Test.Cols, ds.Folder);
        net.Config.CheckTestImages(ds.Test.Count);
    }
}
