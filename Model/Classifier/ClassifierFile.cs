using System.Globalization;
using System.Runtime.Intrinsics;
using System.Security.Cryptography;
using System.Text.Json;
using InfoVae.Engine.Cpu;

namespace InfoVae.Model;

/// <summary>What a classifier file says about itself besides its weights.</summary>
/// <param name="TestSha256">the test set it was scored on (<see cref="LabeledImages.Sha256"/>): the one FID compares
/// against.</param>
public sealed record ClassifierInfo(ClassifierConfig Config, string DataName, string TrainSha256, string TestSha256,
    double TestAccuracy, string Command);

/// <summary>
/// A trained classifier in safetensors: its parameters and batch norm's running statistics (our layout:
/// convolution weights channels-last, (OC, KH, KW, C)), and in the metadata its config, the data it learnt from and
/// was scored on (names and SHA-256s), its test accuracy and the command that made it.
/// The Fashion-MNIST classifier ships next to the program (<see cref="ShippedName"/>) and is checked against
/// <see cref="ShippedSha256"/> whenever it is loaded.
/// </summary>
public static class ClassifierFile
{
    public const string Format = "infovae-classifier", Version = "1";
    public const string ShippedName = "fashion-mnist-classifier.safetensors";
    /// <summary>SHA-256 of the shipped file's bytes (Model/Classifier/fashion-mnist-classifier.safetensors).</summary>
    public const string ShippedSha256 = "345b9eae9885f5a5fddef248ff7f1f20c3b4d839c9258df6b4cb4d527ca6c412";

    /// <summary>Where the shipped weights lie: next to the program (the build copies them there).</summary>
    public static string ShippedPath => Path.Combine(AppContext.BaseDirectory, ShippedName);

    const string Fix = "remake it with infovae classifier train (README, \"Sample quality\")";

    public static void Save(string path, Classifier<float> net, ClassifierInfo info)
    {
        var p = net.Params;
        var values = p.All.ToArray();
        var tensors = new List<SafeTensor>();
        foreach (var e in p.Layout) tensors.Add(SafeTensor.From<float>(e.Name, values.AsSpan(e.Offset, e.Shape.Length),
            e.Shape.ToArray()));
        var buffers = p.AllBuffers!.ToArray();
        foreach (var e in p.BufferLayout)
            tensors.Add(SafeTensor.From<float>(e.Name, buffers.AsSpan(e.Offset, e.Shape.Length), e.Shape.ToArray()));
        for (int i = 0; i < p.NormNames.Count; i++)
            tensors.Add(SafeTensor.From<long>(p.NormNames[i] + ".num_batches_tracked", [p.BatchesTracked[i]]));
        var meta = new Dictionary<string, string>
        {
            ["format"] = Format, ["version"] = Version,
            ["config"] = JsonSerializer.Serialize(info.Config, RunJson.Options),
            ["data"] = info.DataName, ["train_sha256"] = info.TrainSha256, ["test_sha256"] = info.TestSha256,
            ["test_accuracy"] = info.TestAccuracy.ToString("R", CultureInfo.InvariantCulture),
            ["command"] = info.Command,
            // The SIMD width decides the GEMMs' rounding: a remake matches bit for bit on the same one.
            ["simd"] = Vector512.IsHardwareAccelerated ? "avx512" : Vector256.IsHardwareAccelerated ? "avx2" : "scalar",
        };
        SafeTensors.Write(path, tensors, meta);
    }

    /// <summary>The shipped Fashion-MNIST classifier, after checking its SHA-256.</summary>
    public static (Classifier<float> Net, ClassifierInfo Info) LoadShipped() => LoadChecked(ShippedPath, ShippedSha256);

    /// <summary>
    /// The classifier at <paramref name="path"/>, whose bytes must have the SHA-256 <paramref name="sha256"/>.
    /// </summary>
    internal static (Classifier<float> Net, ClassifierInfo Info) LoadChecked(string path, string sha256)
    {
        if (!File.Exists(path))
            throw new UserError($"the Fashion-MNIST classifier {path} is missing (the build copies it from "
                + $"Model/Classifier/{ShippedName}); rebuild, or give --classifier FILE");
        string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
        if (sha != sha256)
            throw new UserError($"{path} has SHA-256 {sha}, not the shipped weights' {sha256}: the file was changed; "
                + $"restore Model/Classifier/{ShippedName} from git, or give the new file with --classifier FILE");
        return Load(path);
    }

    public static (Classifier<float> Net, ClassifierInfo Info) Load(string path)
    {
        var file = SafeTensors.Read(path, Fix);
        if (!file.Metadata.TryGetValue("format", out var format) || format != Format)
            throw new UserError($"{path} is not an infovae classifier (its format is '{format ?? "not given"}'); "
                + "give a file written by infovae classifier train");
        if (file.Metadata.GetValueOrDefault("version") != Version)
        {
            string version = file.Metadata.GetValueOrDefault("version") ?? "(none)";
            throw new UserError($"{path} is a classifier of version {version}, which this infovae (version {Version}) "
                + $"does not read; {Fix}");
        }
        ClassifierConfig config;
        try
        {
            config = JsonSerializer.Deserialize<ClassifierConfig>(file.GetMetadata("config"), RunJson.Options)
                ?? throw new JsonException("it is empty");
        }
        catch (JsonException e)
        {
            throw new UserError($"{path}: its config is not valid ({e.Message.TrimEnd('.')}); {Fix}");
        }
        if (config.Channels is null) throw new UserError($"{path}: its config has no channels; {Fix}");
        try { config.Validate(); }
        catch (UserError e)
        {
            throw new UserError($"{path}: its config cannot describe a classifier ({e.Message}); {Fix}");
        }
        if (!double.TryParse(file.GetMetadata("test_accuracy"), NumberStyles.Float, CultureInfo.InvariantCulture,
            out double accuracy))
            throw new UserError($"{path}: metadata 'test_accuracy' is not a number; {Fix}");
        var info = new ClassifierInfo(config, file.GetMetadata("data"), file.GetMetadata("train_sha256"),
            file.GetMetadata("test_sha256"), accuracy, file.GetMetadata("command"));

        var net = new Classifier<float>(config, CpuBackend<float>.Instance);
        var p = net.Params;
        var values = new float[p.Count];
        foreach (var e in p.Layout) file.Get(e.Name, DType.F32, e.Shape.ToArray()).CopyTo<float>(values.AsSpan(e.Offset,
            e.Shape.Length));
        p.All.CopyFrom(values);
        var buffers = new float[p.BufferCount];
        foreach (var e in p.BufferLayout)
            file.Get(e.Name, DType.F32, e.Shape.ToArray()).CopyTo<float>(buffers.AsSpan(e.Offset, e.Shape.Length));
        p.AllBuffers!.CopyFrom(buffers);
        for (int i = 0; i < p.NormNames.Count; i++)
            p.BatchesTracked[i] = file.Get(p.NormNames[i] + ".num_batches_tracked", DType.I64).As<long>()[0];
        return (net, info);
    }
}
