using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using InfoVae.Model.IO;
using InfoVae.Tests.Support;
using static InfoVae.Tests.Support.IdxFiles;

namespace InfoVae.Tests.Model;

/// <summary>
/// Bad input through the entry point (Program.Main, in this process): one line on stderr that names the problem
/// and the fix, exit code 1, no stack trace, and nothing written: no run folder appears, an existing one keeps
/// every byte. Each test builds its own tiny data set (6 × 5 images) or damages a copy of a tiny trained run.
/// </summary>
public class BadInputTests
{
    TempFolder root = null!;
    string ok = null!, run = null!;

    const int Rows = 6, Cols = 5;

    [OneTimeSetUp]
    public void Up()
    {
        root = new TempFolder();
        ok = root["ok"];
        WriteDataSet(ok, train: 40, test: 10, Rows, Cols);
        run = root["run"];
        var r = Cli.Run(["train", "--data", ok, "--out", run, "--hidden", "8", "--latent", "2", "--epochs", "1",
            "--batch", "8", "--no-pictures"]);
        Assert.That(r.Code, Is.Zero, r.Err);
    }

    [OneTimeTearDown] public void Down() => root.Dispose();

    // ---- helpers ----

    /// <summary>
    /// A copy of the good data set under a new name, then <paramref name="spoil"/> applied to the folder.
    /// </summary>
    string Data(string name, Action<string> spoil)
    {
        string folder = root[name + "-" + Guid.NewGuid().ToString("N")[..6]];
        Directory.CreateDirectory(folder);
        foreach (var f in Directory.GetFiles(ok)) File.Copy(f, Path.Combine(folder, Path.GetFileName(f)));
        spoil(folder);
        return folder;
    }

    /// <summary>
    /// `train` of a fresh tiny run on <paramref name="data"/> into a folder that does not exist yet; flags override the
    /// defaults.
    /// </summary>
    (string[] Args, string Out) Train(string data, params string[] flags)
    {
        var options = new Dictionary<string, string>
        {
            ["--data"] = data, ["--out"] = root["out-" + Guid.NewGuid().ToString("N")[..8]],
            ["--hidden"] = "8", ["--latent"] = "2", ["--epochs"] = "1", ["--batch"] = "8"
        };
        for (int i = 0; i + 1 < flags.Length; i += 2) options[flags[i]] = flags[i + 1];
        return (["train", .. options.SelectMany(kv => new[] { kv.Key, kv.Value }), "--no-pictures"], options["--out"]);
    }

    /// <summary>Every file of a folder with its bytes, to prove a refused command wrote nothing there.</summary>
    static Dictionary<string, byte[]> Snapshot(string folder) =>
        Directory.GetFiles(folder).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

    static void AssertUnchanged(string folder, Dictionary<string, byte[]> before)
    {
        var after = Snapshot(folder);
        Assert.That(after.Keys, Is.EquivalentTo(before.Keys), $"files in {folder}");
        foreach (var (name, bytes) in before) Assert.That(after[name], Is.EqualTo(bytes), $"{name} was changed");
    }

    /// <summary>
    /// Runs a fresh `train` that must be refused: checks the one line and that no run folder was made.
    /// </summary>
    static string RefusedTrain((string[] Args, string Out) train, params string[] fragments)
    {
        var line = Refused(train.Args, fragments);
        Assert.That(Directory.Exists(train.Out), Is.False, "a refused run must not create its folder");
        return line;
    }

    static string Refused(string[] args, params string[] fragments)
    {
        var r = Cli.Run(args);
        Assert.That(r.Code, Is.EqualTo(1), $"exit code; stderr: {r.Err}");
        var line = r.OneLine();
        foreach (var f in fragments) Assert.That(line, Does.Contain(f));
        TestContext.Out.WriteLine("infovae: " + line);
        return line;
    }

    // ---- the data ----

    [Test]
    public void Missing_data_folder() =>
        RefusedTrain(Train(root["no-such-folder"]), root["no-such-folder"], "does not exist",
            "apt-get install dataset-fashion-mnist");

    [TestCase(TrainImages)]
    [TestCase(TrainLabels)]
    [TestCase(TestImages)]
    [TestCase(TestLabels)]
    public void Missing_one_of_the_four_files(string name)
    {
        var data = Data("missing", d => File.Delete(Path.Combine(d, name)));
        RefusedTrain(Train(data), $"has no {name}", Path.Combine(data, name) + ".gz",
            "put the MNIST/Fashion-MNIST IDX files there");
    }

    [Test]
    public void A_gz_name_on_a_file_that_is_not_gzip()
    {
        var data = Data("notgz", d => File.Move(Path.Combine(d, TrainLabels), Path.Combine(d, TrainLabels + ".gz")));
        RefusedTrain(Train(data), TrainLabels + ".gz", "named .gz but is not gzip", "gunzip it");
    }

    [Test]
    public void A_truncated_gzip()
    {
        var data = Data("truncgz", d =>
        {
            File.Delete(Path.Combine(d, TrainImages));
            var gz = Gzip(Bytes([40, Rows, Cols], Pixels(40, Rows, Cols, 1)));
            File.WriteAllBytes(Path.Combine(d, TrainImages + ".gz"), gz[..(gz.Length / 2)]);
        });
        RefusedTrain(Train(data), TrainImages + ".gz", "truncated", "download it again");
    }

    static void Poke(string folder, string name, int offset, params byte[] bytes)
    {
        var path = Path.Combine(folder, name);
        var b = File.ReadAllBytes(path);
        bytes.CopyTo(b, offset);
        File.WriteAllBytes(path, b);
    }

    [Test]
    public void Wrong_idx_magic() =>
        RefusedTrain(Train(Data("magic", d => Poke(d, TrainImages, 0, 0x50, 0x4b))), "not an IDX file",
            "give the MNIST/Fashion-MNIST file");

    [Test]
    public void Wrong_element_type() =>
        RefusedTrain(Train(Data("etype", d => Poke(d, TestImages, 2, 0x0d))), TestImages, "element type 0x0d",
            "convert the file to unsigned bytes");

    [Test]
    public void Wrong_number_of_dimensions() =>
        RefusedTrain(Train(Data("rank", d => File.Copy(Path.Combine(d, TrainLabels), Path.Combine(d, TrainImages),
            overwrite: true))),
            "1 dimensions", "check that image and label files are not swapped");

    [TestCase(41, "truncated")]       // the header counts one image more than the file holds
    [TestCase(39, "trailing data")]   // one fewer
    public void Sizes_that_disagree_with_the_file_length(int count, string what)
    {
        var data = Data("dims",
            d => Poke(d, TrainImages, 4, [.. BitConverter.GetBytes(BinaryPrimitives.ReverseEndianness(count))]));
        RefusedTrain(Train(data), $"{count} × {Rows} × {Cols}", what, "download it again");
    }

    [Test]
    public void Image_and_label_counts_differ() =>
        RefusedTrain(Train(Data("counts", d => File.WriteAllBytes(Path.Combine(d, TrainLabels),
            Bytes([39], Labels(39, 1))))),
            "40 training images", "39 labels", "put matching files there");

    [Test]
    public void An_empty_data_set()
    {
        var data = Data("empty", d =>
        {
            File.WriteAllBytes(Path.Combine(d, TrainImages), Bytes([0, Rows, Cols], []));
            File.WriteAllBytes(Path.Combine(d, TrainLabels), Bytes([0], []));
        });
        RefusedTrain(Train(data), "empty", "at least one image");
    }

    [Test]
    public void Train_and_test_images_of_different_sizes() =>
        RefusedTrain(Train(Data("sizes", d => File.WriteAllBytes(Path.Combine(d, TestImages),
            Bytes([10, Cols, Rows], Pixels(10, Cols, Rows, 2))))),
            $"{Rows} × {Cols}", $"{Cols} × {Rows}", "one data set");

    [Test]
    public void Images_that_are_not_28_by_28_train_a_model_of_their_size()
    {
        string data = root["ten-by-twelve"];
        WriteDataSet(data, train: 24, test: 6, rows: 10, cols: 12);
        var (args, outDir) = Train(data, "--hidden", "16");
        var r = Cli.Run(args);
        Assert.That(r.Code, Is.Zero, r.Err);
        var ckpt = SafeTensors.Read(Path.Combine(outDir, "checkpoint.safetensors"));
        Assert.That(ckpt.Tensors.First(t => t.Name == "encoder.0.weight").Shape, Is.EqualTo(new[] { 16, 120 }),
            "encoder input = 10·12 pixels");
        Assert.That(ckpt.Tensors.Where(t => t.Name.StartsWith("decoder.")).Last().Shape, Is.EqualTo(new[] { 120 }),
            "decoder output bias");
        Assert.That(ckpt.Metadata["epoch"], Is.EqualTo("1"), "one epoch done");
        Assert.That(File.ReadAllText(Path.Combine(outDir, "config.json")), Does.Contain("\"input_size\": 120"));
    }

    // ---- batch size against the data ----

    [Test]
    public void A_batch_larger_than_the_data_set_is_one_short_batch_per_epoch()
    {
        var (args, outDir) = Train(ok, "--batch", "1000", "--epochs", "2");
        var r = Cli.Run(args);
        Assert.That(r.Code, Is.Zero, r.Err);
        var meta = SafeTensors.Read(Path.Combine(outDir, "checkpoint.safetensors")).Metadata;
        Assert.That((meta["step"], meta["epoch"], meta["next_batch"]), Is.EqualTo(("2", "2", "0")),
            "one step of 40 images per epoch");
    }

    [Test]
    public void Batch_1_with_the_unbiased_mmd() =>
        RefusedTrain(Train(ok, "--batch", "1"), "unbiased MMD", "--batch 2", "--mmd-estimator biased");

    [Test]
    public void A_last_batch_of_one_image_with_the_unbiased_mmd()
    {
        // 41 images in batches of 8 leave 1 over: the step would have no unbiased MMD estimate.
        var data = root["forty-one"];
        WriteDataSet(data, train: 41, test: 10, Rows, Cols);
        RefusedTrain(Train(data), "41 training images in batches of 8 leave a last batch of 1 image", "--batch 9",
            "--mmd-estimator biased");
        var (args, _) = Train(data, "--mmd-estimator", "biased");
        Assert.That(Cli.Run(args).Code, Is.Zero, "the biased estimator takes a batch of 1");
    }

    [Test]
    public void A_test_set_of_one_image_with_the_unbiased_mmd()
    {
        var data = Data("onetest", d =>
        {
            File.WriteAllBytes(Path.Combine(d, TestImages), Bytes([1, Rows, Cols], Pixels(1, Rows, Cols, 2)));
            File.WriteAllBytes(Path.Combine(d, TestLabels), Bytes([1], Labels(1, 2)));
        });
        RefusedTrain(Train(data), "the test set has 1 image", "more images");
    }

    [Test]
    public void Eval_of_a_test_set_whose_last_chunk_would_hold_one_image()
    {
        // Evaluation goes in chunks of 1000: 1001 images used to leave a chunk of 1, which the unbiased MMD refused.
        var data = root["thousand-and-one"];
        WriteDataSet(data, train: 8, test: 1001, Rows, Cols);
        var r = Cli.Run("eval", "--run", run, "--data", data, "--iw-samples", "2", "--json");
        Assert.That(r.Code, Is.Zero, r.Err);
        Assert.That(r.Out, Does.Contain("\"images\":1001"));
    }

    [Test]
    public void Eval_prints_its_table()
    {
        // "E[z|x]" in a cell was read as Spectre markup and threw.
        var r = Cli.Run("eval", "--run", run, "--data", ok, "--iw-samples", "2");
        Assert.That(r.Code, Is.Zero, r.Err);
    }

    // ---- flags ----

    [TestCase("0")]
    [TestCase("-1")]
    public void Lambda_not_positive(string lambda) => RefusedTrain(Train(ok, "--lambda", lambda),
        "--lambda must be > 0", "--lambda 1000");

    [Test]
    public void Mmd_weight_negative() =>
        RefusedTrain(Train(ok, "--alpha", "0", "--lambda", "0.5"), "α + λ − 1 = -0.5 is negative",
            "raise --lambda or --alpha");

    [TestCase("NaN", "--lr must be a finite number, not NaN", "--lr 0.001")]
    [TestCase("-0.1", "--lr must be > 0, not -0.1", "the default is 0.001")]
    [TestCase("0", "--lr must be > 0, not 0", "the default is 0.001")]
    public void Bad_learning_rate(string lr, string problem, string fix)
        => RefusedTrain(Train(ok, "--lr", lr), problem, fix);

    [TestCase("0")]
    [TestCase("-3")]
    public void Epochs_not_positive(string epochs) => RefusedTrain(Train(ok, "--epochs", epochs),
        $"--epochs must be at least 1, not {epochs}", "the default is 10");

    [TestCase("--preset", "vae", "unknown preset 'vae'", "use infovae, elbo, beta-vae or mmd-vae")]
    [TestCase("--kernel", "gauss", "unknown --kernel 'gauss'", "use imq or rbf")]
    [TestCase("--device", "tpu", "unknown --device 'tpu'", "use auto|cpu|cuda|ilgpu-cpu")]
    public void Unknown_name(string flag, string value, string problem, string fix)
        => RefusedTrain(Train(ok, flag, value), problem, fix);

    [Test]
    public void Latent_size_0() => RefusedTrain(Train(ok, "--latent", "0"), "--latent must be at least 1, not 0",
        "the default is 32");

    [TestCase("--lr", "abc", "Cannot parse argument 'abc' for option '--lr'")]
    [TestCase("--epochs", "1.5", "Cannot parse argument '1.5' for option '--epochs'")]
    public void A_flag_value_of_the_wrong_type(string flag, string value, string problem) =>
        RefusedTrain(Train(ok, flag, value), problem, "Run 'infovae train --help' for the options");

    [Test]
    public void An_unknown_flag()
    {
        var (args, outDir) = Train(ok);
        Refused([.. args, "--learning-rate", "0.1"], "Unrecognized command or argument '--learning-rate'",
            "infovae train --help");
        Assert.That(Directory.Exists(outDir), Is.False);
    }

    // ---- the output folder ----

    [Test]
    public void An_output_folder_that_cannot_be_written()
    {
        // Under a plain file no folder can be made, even by root (a read-only folder would not stop root).
        var file = root["a-file"];
        File.WriteAllText(file, "keep me");
        var (args, _) = Train(ok, "--out", Path.Combine(file, "run"));
        Refused(args, $"cannot create the run folder {Path.Combine(file, "run")}: {file} is a file, not a folder",
            "choose an --out folder that you can write to");
        Assert.That(File.ReadAllText(file), Is.EqualTo("keep me"));
    }

    [Test]
    public void An_output_folder_on_a_file_system_that_refuses_writes()
    {
        // /proc takes no new folders, whoever asks: the error of the file system itself, with the fix.
        if (!Directory.Exists("/proc/self")) Assert.Ignore("no /proc here");
        var (args, _) = Train(ok, "--out", "/proc/infovae-run");
        Refused(args, "cannot write to the run folder /proc/infovae-run",
            "choose an --out folder that you can write to");
    }

    [Test]
    public void An_output_folder_that_holds_a_run()
    {
        var before = Snapshot(run);
        var (args, _) = Train(ok, "--out", run);
        Refused(args, "already holds a run", $"--resume {run}", "choose another --out");
        AssertUnchanged(run, before);
    }

    // ---- resume ----

    [TestCase("--hidden", "16")]
    [TestCase("--latent", "3")]
    [TestCase("--lr", "0.01")]
    [TestCase("--batch", "4")]
    [TestCase("--seed", "9")]
    [TestCase("--kernel", "rbf")]
    [TestCase("--mmd-estimator", "biased")]
    [TestCase("--preset", "elbo")]
    public void Resume_with_a_flag_that_disagrees_with_the_run(string flag, string value)
    {
        var before = Snapshot(run);
        Refused(["train", "--resume", run, "--data", ok, flag, value, "--no-pictures"],
            "disagrees with the run being resumed", "drop the flag or start a new run");
        AssertUnchanged(run, before);
    }

    [Test]
    public void Resume_on_data_of_another_image_size()
    {
        var other = root["other-size"];
        WriteDataSet(other, train: 40, test: 10, rows: 7, cols: 5);
        var before = Snapshot(run);
        Refused(["train", "--resume", run, "--data", other, "--no-pictures"],
            $"the data in {other} are not those the run in {run} was trained on ({ok})",
            "40 training and 10 test images of 7×5, not 40 training and 10 test images of 6×5",
            "resume with the same files");
        AssertUnchanged(run, before);
    }

    [Test]
    public void Resume_of_a_folder_that_does_not_exist() =>
        Refused(["train", "--resume", root["no-run-here"], "--data", ok], "does not exist",
            "give the folder that infovae train wrote");

    // ---- damaged checkpoints, through --resume and through eval --run ----

    public enum Damage
    {
        Truncated, HeaderLengthBeyondTheFile, HeaderNotJson, OffsetsOverlap, OffsetsPastTheEnd,
        ShapeDisagreesWithTheModel, WrongDtype
    }

    static readonly Dictionary<Damage, string[]> Says = new()
    {
        [Damage.Truncated] =
            ["runs past the end of the data", "truncated or damaged", "restore checkpoint.safetensors from a backup"],
        [Damage.HeaderLengthBeyondTheFile] = ["the header length 99999 runs past the end of the file",
            "restore checkpoint.safetensors from a backup"],
        [Damage.HeaderNotJson] = ["the header is not valid JSON", "restore checkpoint.safetensors from a backup"],
        [Damage.OffsetsOverlap] = ["tensor 'encoder.0.bias' at [", "overlaps tensor 'encoder.0.weight'",
            "restore checkpoint.safetensors from a backup"],
        [Damage.OffsetsPastTheEnd] = ["runs past the end of the data", "restore checkpoint.safetensors from a backup"],
        [Damage.ShapeDisagreesWithTheModel] = ["tensor 'encoder.0.weight' is F32 [30, 8], expected F32 [8, 30]",
            "a model of another size"],
        [Damage.WrongDtype] = ["tensor 'encoder.0.bias' is I32 [8], expected F32 [8]", "convert it to F32"],
    };

    [Test]
    public void Damaged_checkpoint([Values] Damage damage, [Values("train --resume", "eval --run")] string via)
    {
        string copy = root[$"damaged-{damage}-{via[..4]}"];
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(run)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var ckpt = Path.Combine(copy, "checkpoint.safetensors");
        Spoil(ckpt, damage);
        var before = Snapshot(copy);
        string[] args = via.StartsWith("train") ? ["train", "--resume", copy, "--data", ok, "--no-pictures"]
            : ["eval", "--run", copy, "--data", ok, "--json"];
        Refused(args, [ckpt, .. Says[damage]]);
        AssertUnchanged(copy, before);
    }

    [Test]
    public void A_checkpoint_from_another_run()
    {
        // checkpoint.safetensors of a 30-16-2 model next to the config.json of a 30-8-2 one.
        var (args, other) = Train(ok, "--hidden", "16");
        Assert.That(Cli.Run(args).Code, Is.Zero);
        string copy = root["mixed-up"];
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(run)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        File.Copy(Path.Combine(other, "checkpoint.safetensors"), Path.Combine(copy, "checkpoint.safetensors"),
            overwrite: true);
        Refused(["train", "--resume", copy, "--data", ok],
            "holds an MLP 30-16-2 but the run's config.json describes an MLP 30-8-2", "different runs");
    }

    [Test]
    public void A_checkpoint_of_version_1_is_evaluated_but_not_resumed()
    {
        // Version 1 drew its noise from Philox and saved no generator state: its weights are fine, its training is not
        // resumable.
        string copy = root["version-1"];
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(run)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var ckpt = Path.Combine(copy, "checkpoint.safetensors");
        var file = SafeTensors.Read(ckpt);
        var meta = file.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        meta["version"] = "1";
        SafeTensors.Write(ckpt, file.Tensors.Where(t => t.Name != "rng.torch_generator").ToList(), meta);
        var before = Snapshot(copy);
        Refused(["train", "--resume", copy, "--data", ok, "--no-pictures"], "older infovae (checkpoint version 1",
            "eval, export and the picture commands still read it");
        AssertUnchanged(copy, before);
        var r = Cli.Run("eval", "--run", copy, "--data", ok, "--json", "--iw-samples", "2");
        Assert.That(r.Code, Is.Zero, r.Err);
    }

    [Test]
    public void A_checkpoint_without_the_generator_state_names_it()
    {
        string copy = root["no-generator"];
        Directory.CreateDirectory(copy);
        foreach (var f in Directory.GetFiles(run)) File.Copy(f, Path.Combine(copy, Path.GetFileName(f)));
        var ckpt = Path.Combine(copy, "checkpoint.safetensors");
        var file = SafeTensors.Read(ckpt);
        SafeTensors.Write(ckpt, file.Tensors.Where(t => t.Name != "rng.torch_generator").ToList(), file.Metadata);
        Refused(["train", "--resume", copy, "--data", ok, "--no-pictures"], "no tensor 'rng.torch_generator'",
            "written by this version of infovae");
    }

    /// <summary>Rewrites a safetensors file with one kind of damage, editing its JSON header as text would.</summary>
    static void Spoil(string path, Damage damage)
    {
        var bytes = File.ReadAllBytes(path);
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var header = (JsonObject)JsonNode.Parse(bytes.AsSpan(8, n))!;
        var data = bytes[(8 + n)..];
        JsonArray Offsets(string name) => header[name]!["data_offsets"]!.AsArray();
        void Shift(string name, long by)
        {
            var o = Offsets(name);
            header[name]!["data_offsets"] = new JsonArray((long)o[0]! + by, (long)o[1]! + by);
        }
        switch (damage)
        {
            case Damage.Truncated: File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]); return;
            case Damage.HeaderLengthBeyondTheFile:
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, 99999);
                File.WriteAllBytes(path, bytes); return;
            case Damage.HeaderNotJson:
                bytes[8] = (byte)'x';
                File.WriteAllBytes(path, bytes); return;
            case Damage.OffsetsOverlap: Shift("encoder.0.bias", -4); break;
            case Damage.OffsetsPastTheEnd:
                Shift(header.Where(kv => kv.Key != "__metadata__").MaxBy(kv => (long)Offsets(kv.Key)[1]!).Key, 8);
                break;
            case Damage.ShapeDisagreesWithTheModel: header["encoder.0.weight"]!["shape"] = new JsonArray(30, 8); break;
            case Damage.WrongDtype: header["encoder.0.bias"]!["dtype"] = "I32"; break;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        var result = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)padded);
        json.CopyTo(result, 8);
        result.AsSpan(8 + json.Length, padded - json.Length).Fill((byte)' ');
        data.CopyTo(result, 8 + padded);
        File.WriteAllBytes(path, result);
    }
}
