using System.Globalization;
using System.Text.Json;
using InfoVae.Engine;
using InfoVae.Kernels.Cpu;
using InfoVae.Model.IO;

namespace InfoVae.Model;

/// <summary>
/// A training checkpoint in safetensors: every parameter under its PyTorch name (in our layout: conv weights are
/// channels-last), Adam's moments under adam.m.* and adam.v.*, batch norm's running statistics and
/// num_batches_tracked (conv net only; resuming needs them bit for bit), the adversarial divergence's discriminator
/// (discriminator.0.weight, …) and its Adam moments under the same prefixes, the noise generator's state under
/// rng.torch_generator (the epoch order is recomputed from the epoch number), and in the metadata the position
/// (step, epoch, next batch) and the config. Written to a temporary file and renamed, so a crash mid-write leaves
/// the previous checkpoint whole.
/// </summary>
public static class Checkpoint
{
    public const string Format = "infovae-checkpoint", Version = "2";
    const string GeneratorName = "rng.torch_generator";

    /// <summary>Where training stands: Adam steps taken, the epoch in progress and its next batch.</summary>
    public readonly record struct Position(long Step, int Epoch, int NextBatch);

    /// <summary>
    /// What the numbers were computed on (metadata "device" and "simd"): the backend (cpu, cuda, ilgpu-cpu) and the
    /// CPU kernels' vector width (<see cref="SimdWidth"/>). A resume on another one goes on, but not bit for bit.
    /// </summary>
    public readonly record struct ComputedOn(string Device, string Simd)
    {
        public static ComputedOn This(IBackend<float> backend) => new(backend.Name, SimdWidth.Current);
        public override string ToString() =>
            $"{Device} ({Simd switch { "avx512" => "AVX-512", "avx2" => "AVX2", var other => other }})";
    }

    public static void Save(string path, Trainer t) => Save(path, t.Net, new Position(t.Step, t.Epoch, t.NextBatch),
        t.Noise);

    /// <summary>Tests put a failing stream (a full disk) between the writer and the file, on this thread.</summary>
    [ThreadStatic] internal static Func<Stream, Stream>? WrapWrites;

    /// <summary>What to do about a damaged checkpoint, at the end of the reader's messages.</summary>
    const string Fix = "restore checkpoint.safetensors from a backup, or train the run again";

    public static void Save(string path, InfoVaeNet<float> net, Position at, TorchGenerator? noise = null)
    {
        var p = net.Params;
        var tensors = new List<SafeTensor>(3 * p.Layout.Count);
        foreach (var ps in net.Disc is { } disc ? [p, disc.Params] : new[] { p })
        {
            float[] values = ps.All.ToArray(), m = ps.AllM.ToArray(), v = ps.AllV.ToArray();
            foreach (var (prefix, data) in new[] { ("", values), ("adam.m.", m), ("adam.v.", v) })
                foreach (var e in ps.Layout)
                {
                    var span = data.AsSpan(e.Offset, e.Shape.Length);
                    tensors.Add(SafeTensor.From<float>(prefix + e.Name, span, e.Shape.ToArray()));
                }
        }
        if (noise != null)
        {
            var state = new uint[TorchGenerator.StateLength];
            noise.SaveState(state);
            tensors.Add(SafeTensor.From<int>(GeneratorName, Array.ConvertAll(state, w => (int)w), state.Length));
        }
        if (p.AllBuffers is { } all)
        {
            var buffers = all.ToArray();
            foreach (var e in p.BufferLayout)
                tensors.Add(SafeTensor.From<float>(e.Name, buffers.AsSpan(e.Offset, e.Shape.Length),
                    e.Shape.ToArray()));
            for (int i = 0; i < p.NormNames.Count; i++)
                tensors.Add(SafeTensor.From<long>(p.NormNames[i] + ".num_batches_tracked", [p.BatchesTracked[i]]));
        }
        var meta = new Dictionary<string, string>
        {
            ["format"] = Format, ["version"] = Version,
            ["step"] = at.Step.ToString(CultureInfo.InvariantCulture),
            ["epoch"] = at.Epoch.ToString(CultureInfo.InvariantCulture),
            ["next_batch"] = at.NextBatch.ToString(CultureInfo.InvariantCulture),
            ["device"] = ComputedOn.This(net.Backend).Device,
            ["simd"] = ComputedOn.This(net.Backend).Simd,
            ["config"] = RunJson.Write(net.Config),
        };
        SafeTensors.Write(path, tensors, meta, WrapWrites ?? (s => s));
    }

    /// <summary>
    /// Restores weights, moments and position into a trainer built with the same config; returns what the
    /// checkpoint was computed on (null for checkpoints that do not say).
    /// </summary>
    public static ComputedOn? Load(string path, Trainer t)
    {
        var at = Load(path, t.Net, out var file);
        if (file.Metadata["version"] != Version)
            throw new UserError($"{path} was written by an older infovae (checkpoint version "
                + $"{file.Metadata["version"]}, whose random draws were not "
                + "PyTorch's), so training cannot continue from it; eval, export and the picture commands still read "
                    + "it, or train the run again");
        (t.Step, t.Epoch, t.NextBatch) = (at.Step, at.Epoch, at.NextBatch);
        var words = file.Get(GeneratorName, DType.I32, TorchGenerator.StateLength).As<int>();
        try { t.Noise.RestoreState(Array.ConvertAll(words, w => (uint)w)); }
        catch (ArgumentException e)
        {
            throw new UserError($"{path}: {GeneratorName} is not a generator state ({e.Message}); {Fix}");
        }
        if (t.NextBatch < 0 || t.NextBatch >= t.BatchesPerEpoch || t.Epoch < 0 || t.Step < 0)
            throw new UserError($"{path}: position epoch {t.Epoch}, batch {t.NextBatch} does not fit this data set "
                + $"({t.BatchesPerEpoch} batches per epoch); resume with the --data and --limit the run was started "
                + "with");
        return file.Metadata.TryGetValue("device", out var device) && file.Metadata.TryGetValue("simd", out var simd)
            ? new ComputedOn(device, simd) : null;
    }

    /// <summary>
    /// Restores weights and Adam moments into a net built with the checkpoint's config; returns the position.
    /// </summary>
    public static Position Load(string path, InfoVaeNet<float> net) => Load(path, net, out _);

    static Position Load(string path, InfoVaeNet<float> net, out SafeTensorsFile file)
    {
        if (!File.Exists(path))
            throw new UserError($"no checkpoint at {path}: the run stopped before its first checkpoint; start it "
                + "again without --resume");
        file = SafeTensors.Read(path, Fix);
        if (!file.Metadata.TryGetValue("format", out var format) || format != Format)
            throw new UserError($"{path} is not an infovae checkpoint (its format is '{format ?? "not given"}'); "
                + $"{Fix}");
        // Version 1 differs only in its random state (Philox, nothing saved): its weights serve eval and export.
        if (!file.Metadata.TryGetValue("version", out var version) || version is not ("1" or Version))
            throw new UserError($"{path} is an infovae checkpoint of version {version ?? "(none)"}, which this "
                + $"infovae (version {Version}) does not read; {Fix}");
        CheckModelSize(file, net.Config, path);
        var p = net.Params;
        foreach (var ps in net.Disc is { } disc ? [p, disc.Params] : new[] { p })
        {
            float[] values = new float[ps.Count], m = new float[ps.Count], v = new float[ps.Count];
            foreach (var (prefix, data) in new[] { ("", values), ("adam.m.", m), ("adam.v.", v) })
                foreach (var e in ps.Layout)
                {
                    var tensor = file.Get(prefix + e.Name, DType.F32, e.Shape.ToArray());
                    tensor.CopyTo<float>(data.AsSpan(e.Offset, e.Shape.Length));
                }
            ps.All.CopyFrom(values); ps.AllM.CopyFrom(m); ps.AllV.CopyFrom(v);
        }
        if (p.AllBuffers is { } all)
        {
            var buffers = new float[p.BufferCount];
            foreach (var e in p.BufferLayout)
                file.Get(e.Name, DType.F32, e.Shape.ToArray()).CopyTo<float>(buffers.AsSpan(e.Offset, e.Shape.Length));
            all.CopyFrom(buffers);
            for (int i = 0; i < p.NormNames.Count; i++)
            {
                long n = file.Get(p.NormNames[i] + ".num_batches_tracked", DType.I64).As<long>()[0];
                p.BatchesTracked[i] = n >= 0 ? n
                    : throw new UserError($"{path}: {p.NormNames[i]}.num_batches_tracked is {n}, not a count; {Fix}");
            }
        }
        return new Position(ReadInt(file, "step", path, long.MaxValue), (int)ReadInt(file, "epoch", path, int.MaxValue),
            (int)ReadInt(file, "next_batch", path, int.MaxValue));
    }

    /// <summary>
    /// The checkpoint's own config against the run's: a mismatch means files of two runs were mixed up.
    /// </summary>
    static void CheckModelSize(SafeTensorsFile file, TrainConfig config, string path)
    {
        // the tensors' shapes are checked one by one anyway
        if (!file.Metadata.TryGetValue("config", out var json)) return;
        TrainConfig? saved;
        try { saved = RunJson.ReadConfig(json); }
        catch (JsonException) { return; }
        if (saved?.Hidden == null) return;
        static string Named(TrainConfig c) => (c.Arch == Architecture.Mlp ? "an " : "a ") + c.Describe();
        if (saved.Describe() != config.Describe())
            throw new UserError($"{path} holds {Named(saved)} but the run's config.json describes {Named(config)}: "
                + "the two files come from "
                + "different runs; put the run's own config.json and checkpoint.safetensors together");
    }

    static long ReadInt(SafeTensorsFile f, string key, string path, long max) =>
        f.Metadata.TryGetValue(key, out var text) && long.TryParse(text, NumberStyles.None,
            CultureInfo.InvariantCulture, out var v) && v <= max ? v
            : throw new UserError($"{path}: metadata '{key}' is missing or not a count from 0 to {max}; {Fix}");
}
