using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using InfoVae.Model;
using InfoVae.Model.Data;
using InfoVae.Model.IO;
using InfoVae.Tests.Support;

namespace InfoVae.Tests.Model;

/// <summary>
/// Every JSON infovae writes (config.json, run.jsonl, `eval --json`, the checkpoint's config) has snake_case keys,
/// each field once, and null, not 0, for "none / all / the batch size" (issue #14). Old run folders still load:
/// Tests/Data/legacy-run was written by the version before this convention (PascalCase config.json with the MMD
/// settings twice, PriorSamples 0, a version-2 checkpoint whose metadata holds that config), on the data that
/// IdxFiles.WriteDataSet(40, 10, 6, 5) writes, with --hidden 8 --latent 2 --epochs 2 --batch 8 --seed 3.
/// </summary>
public class RunJsonTests
{
    TempFolder root = null!;
    string data = null!, run = null!;

    [OneTimeSetUp]
    public void Up()
    {
        root = new TempFolder();
        data = root["data"];
        IdxFiles.WriteDataSet(data, train: 40, test: 10, rows: 6, cols: 5);
        run = root["run"];
        var r = Cli.Run("train", "--data", data, "--out", run, "--hidden", "8", "--latent", "2", "--epochs", "1",
            "--batch", "8", "--prior-samples", "0", "--log-every", "2", "--no-pictures");
        Assert.That(r.Code, Is.Zero, r.Err);
    }

    [OneTimeTearDown] public void Down() => root.Dispose();

    static readonly Regex SnakeCase = new("^[a-z][a-z0-9]*(_[a-z0-9]+)*$");

    /// <summary>Every key of every object in the document, with its path (data.sha256's keys are file names).</summary>
    static IEnumerable<(string Path, string Key)> Keys(JsonNode? node, string path = "$")
    {
        if (node is JsonObject o)
            foreach (var (key, value) in o)
            {
                yield return (path, key);
                if (key == "sha256") continue;
                foreach (var k in Keys(value, $"{path}.{key}")) yield return k;
            }
        else if (node is JsonArray a)
            foreach (var item in a) foreach (var k in Keys(item, path + "[]")) yield return k;
    }

    static void AssertSnakeCase(JsonNode? doc, string what)
    {
        foreach (var (path, key) in Keys(doc))
            Assert.That(SnakeCase.IsMatch(key), $"{what}: key '{key}' at {path} is not snake_case");
    }

    [Test]
    public void Config_json_is_snake_case_with_each_field_once_and_null_for_defaults()
    {
        var text = File.ReadAllText(Path.Combine(run, "config.json"));
        var config = JsonNode.Parse(text)!.AsObject();
        AssertSnakeCase(config, "config.json");
        Assert.That(config.Select(kv => kv.Key), Is.SupersetOf(new[] { "learning_rate", "unbiased_mmd", "adam_eps" }));
        // The kernel and its settings once, at the top; what follows from α and λ is not written.
        foreach (var key in new[] { "kernel", "scales", "bandwidth" })
            Assert.That(Regex.Matches(text, $"\"{key}\"").Count, Is.EqualTo(1), $"\"{key}\" written more than once");
        Assert.That(config.Select(kv => kv.Key), Has.None.AnyOf("mmd", "kl_weight", "mmd_weight", "Mmd"));
        // --prior-samples 0 and the defaults of --limit and --checkpoint-every mean "the batch size", "all", "none".
        foreach (var key in new[] { "prior_samples", "limit", "checkpoint_every" })
        {
            Assert.That(config.ContainsKey(key), key);
            Assert.That(config[key], Is.Null, $"{key}: null, not 0");
        }
        Assert.That((int)config["log_every"]!, Is.EqualTo(2));
    }

    [Test]
    public void Checkpoint_metadata_is_snake_case_and_holds_the_same_config()
    {
        var meta = SafeTensors.Read(Path.Combine(run, "checkpoint.safetensors")).Metadata;
        foreach (var key in meta.Keys) Assert.That(SnakeCase.IsMatch(key), $"metadata key '{key}'");
        var config = JsonNode.Parse(meta["config"])!;
        AssertSnakeCase(config, "the checkpoint's config");
        var file = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "config.json")));
        Assert.That(JsonNode.DeepEquals(config, file), "the checkpoint's config is config.json's");
    }

    [Test]
    public void Run_jsonl_is_snake_case()
    {
        var lines = File.ReadAllLines(Path.Combine(run, "run.jsonl"));
        Assert.That(lines, Has.Length.GreaterThan(1));
        foreach (var line in lines) AssertSnakeCase(JsonNode.Parse(line), "run.jsonl");
    }

    [Test]
    public void Eval_json_is_snake_case()
    {
        var r = Cli.Run("eval", "--run", run, "--iw-samples", "2", "--json");
        Assert.That(r.Code, Is.Zero, r.Err);
        var report = JsonNode.Parse(r.Out)!.AsObject();
        AssertSnakeCase(report, "eval --json");
        Assert.That(report.Select(kv => kv.Key),
            Is.SupersetOf(new[] { "iw_nll", "iw_samples", "active_units", "mutual_information", "elbo" }));
    }

    // As a newer infovae might write them: a key this one does not know, a value of a known key it does not know.
    [TestCase("prior", "vamp", "'prior'")]
    [TestCase("divergence", "sinkhorn", "$.divergence")]
    public void A_config_key_or_value_this_version_does_not_know_is_refused_in_one_line(string key, string value,
        string named)
    {
        var copy = Copy(run, "unknown-" + key);
        var path = Path.Combine(copy, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        config[key] = value;
        File.WriteAllText(path, config.ToJsonString());
        var r = Cli.Run("eval", "--run", copy, "--iw-samples", "2");
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.OneLine(), Does.Contain($"{path} is not a valid run config").And.Contain(named));
    }

    // ---- the old format ----

    static string Legacy => Path.Combine(AppContext.BaseDirectory, "Data", "legacy-run");

    string Copy(string folder, string name)
    {
        var copy = root[name];
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(folder)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        return copy;
    }

    [Test]
    public void The_legacy_fixture_is_in_the_old_format()
    {
        var text = File.ReadAllText(Path.Combine(Legacy, "config.json"));
        Assert.That(text, Does.Contain("\"PriorSamples\": 0").And.Contain("\"Mmd\": {")
            .And.Contain("\"LearningRate\""));
        var meta = SafeTensors.Read(Path.Combine(Legacy, "checkpoint.safetensors")).Metadata;
        Assert.That(meta["version"], Is.EqualTo("2"));
        Assert.That(meta["config"], Does.Contain("\"PriorSamples\":0"));
        Assert.That(meta.Keys, Has.None.EqualTo("simd"));
    }

    [Test]
    public void An_old_config_reads_as_today_s()
    {
        var config = RunJson.ReadConfig(File.ReadAllText(Path.Combine(Legacy, "config.json")));
        Assert.That((config.Hidden, config.Latent, config.InputSize, config.Epochs, config.Batch, config.Seed),
            Is.EqualTo((new[] { 8 }, 2, 30, 2, 8, 3UL)));
        Assert.That((config.LearningRate, config.AdamEps, config.UnbiasedMmd, config.Kernel),
            Is.EqualTo((1e-3, 1e-8, true, InfoVae.Kernels.Cpu.MmdKernel.Imq)));
        Assert.That(config.PriorSamples, Is.Null, "PriorSamples 0 meant the batch size");
        Assert.That(config.Data, Is.Null, "old runs did not record their data");
        var again = JsonNode.Parse(RunJson.Write(config))!;
        AssertSnakeCase(again, "an old config written again");
    }

    [Test]
    public void An_old_run_is_evaluated_as_the_old_version_evaluated_it()
    {
        // `eval --run legacy-run --data <that data> --iw-samples 3 --json` by the version that wrote it, on AVX-512.
        var copy = Copy(Legacy, "legacy-eval");
        var r = Cli.Run("eval", "--run", copy, "--data", data, "--iw-samples", "3", "--json");
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Err, Is.Empty);
        var e = JsonNode.Parse(r.Out)!;
        var then = new Dictionary<string, double>
        {
            ["total"] = 118.90404257178307, ["recon"] = 20.985950469970703, ["kl"] = 0.0967409759759903,
            ["mmd"] = 0.0979192703962326, ["iw_nll"] = 21.012568442154652,
        };
        foreach (var (key, value) in then)     // to rounding: another SIMD width rounds otherwise
            Assert.That((double)e[key]!, Is.EqualTo(value).Within(1e-5 * Math.Abs(value)), key);
        Assert.That((int)e["images"]!, Is.EqualTo(10));
    }

    [Test]
    public void An_old_run_without_data_says_which_folder_eval_reads()
    {
        var r = Cli.Run("eval", "--run", Copy(Legacy, "legacy-default"), "--iw-samples", "2", "--json");
        // Whatever the default folder holds here (Fashion-MNIST, or nothing), the first line says what was assumed.
        Assert.That(r.Err.Split('\n')[0], Does.StartWith("infovae: note: ").And.Contain("does not record its data")
            .And.Contain($"this uses {DataSet.DefaultFolder}; give --data if the run was trained on other data"));
    }

    [Test]
    public void An_old_run_resumes_and_then_records_its_data_in_today_s_format()
    {
        var copy = Copy(Legacy, "legacy-resume");
        var r = Cli.Run("train", "--resume", copy, "--data", data, "--epochs", "3", "--threads", "1", "--no-pictures");
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Err, Is.Empty, "an old checkpoint does not say what it was computed on: nothing to note");
        var meta = SafeTensors.Read(Path.Combine(copy, "checkpoint.safetensors")).Metadata;
        Assert.That((meta["step"], meta["epoch"]), Is.EqualTo(("15", "3")), "5 steps per epoch, 3 epochs");
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(copy, "config.json")))!;
        AssertSnakeCase(config, "the upgraded config.json");
        Assert.That((int)config["epochs"]!, Is.EqualTo(3));
        Assert.That((string?)config["data"]!["folder"], Is.EqualTo(Path.GetFullPath(data)));
        // From now on it is a run like any other: a bare resume finds its data.
        var again = Cli.Run("train", "--resume", copy, "--epochs", "4", "--threads", "1", "--no-pictures");
        Assert.That(again.Code, Is.Zero, again.Err);
    }

    [Test]
    public void An_old_version_1_checkpoint_is_evaluated_but_not_resumed()
    {
        var copy = Copy(Legacy, "legacy-v1");
        var ckpt = Path.Combine(copy, "checkpoint.safetensors");
        var file = SafeTensors.Read(ckpt);
        var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        meta["version"] = "1";
        SafeTensors.Write(ckpt, file.Tensors.Where(t => t.Name != "rng.torch_generator").ToList(), meta);
        var e = Cli.Run("eval", "--run", copy, "--data", data, "--iw-samples", "2", "--json");
        Assert.That(e.Code, Is.Zero, e.Err);
        var r = Cli.Run("train", "--resume", copy, "--data", data, "--no-pictures");
        Assert.That(r.Code, Is.EqualTo(1));
        Assert.That(r.OneLine(), Does.Contain("older infovae (checkpoint version 1"));
    }
}
