using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using InfoVae.Engine;
using InfoVae.Engine.Gpu;
using InfoVae.Kernels.Cpu;
using InfoVae.Model.Cli;

namespace InfoVae.Model.Doctor;

/// <summary>
/// `infovae bench`: our side of the benchmark workloads (docs/benchmarks.md) on one device, timed with the anchors'
/// rules and printed as JSON lines with the anchors' metric names and keys (gemm, mmd_fwd_bwd, train_step, epoch;
/// plus conv_step), so that a GPU machine without the .NET SDK (no BenchmarkDotNet) can put them next to PyTorch's
/// from the same command. Medians of synchronised calls; every measurement after its own warm-up. Not a replacement
/// for Bench/: no statistics beyond the median, no peer in the same process.
/// </summary>
public static class BenchCommand
{
    static readonly string[] Workloads = ["gemm", "mmd", "step", "epoch", "conv"];

    static Option<string> List(string name, string description, string defaults) =>
        new(name) { Description = description, DefaultValueFactory = _ => defaults };

    public static Command Build()
    {
        var device = List("--device", "auto | cpu | cuda | ilgpu-cpu", "auto");
        var only = List("--only", "Comma-separated: gemm, mmd, step, epoch, conv", string.Join(",", Workloads));
        var gemm = List("--gemm-sizes", "GEMM N values (square, FP32)", "1024,4096,8192");
        var mmdN = List("--mmd-sizes", "MMD² forward + backward: n values", "1024,4096");
        var mmdD = List("--mmd-dims", "MMD² forward + backward: d values", "32,128");
        var batches = List("--batches", "Training-step batch sizes (the MLP)", "64,256,1024");
        var data = List("--data", "Folder with the IDX files (step, epoch, conv)", DataSet.DefaultFolder);
        var hidden = List("--hidden", "The MLP's hidden layer sizes (step, epoch)", "512,256");
        var channels = List("--channels", "The conv net's channels (conv)", "32,64,128");
        var latent = new Option<int>("--latent") { Description = "Latent size Z", DefaultValueFactory = _ => 32 };
        var convBatch = new Option<int>("--conv-batch")
        {
            Description = "Batch of the conv net's step", DefaultValueFactory = _ => 256,
        };
        var quick = new Option<bool>("--quick") { Description = "Few repetitions, to try the path (sizes as given)" };
        var threads = new Option<int>("--threads")
        {
            Description = "CPU threads (default: all cores)", DefaultValueFactory = _ => Environment.ProcessorCount,
        };
        var cmd = new Command("bench", "Time the benchmark workloads (GEMM, MMD², training step, epoch, conv step) on "
            + "one device; JSON lines")
            { device, only, gemm, mmdN, mmdD, batches, convBatch, data, hidden, channels, latent, quick, threads };
        cmd.SetAction(r =>
        {
            int t = r.GetValue(threads);
            Workers.MaxThreads = t >= 1 ? t : throw new UserError($"--threads must be at least 1, not {t}");
            var chosen = r.GetValue(only)!.Split(',',
                StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (chosen.FirstOrDefault(w => !Workloads.Contains(w)) is { } bad)
                throw new UserError($"unknown workload '{bad}' in --only; use a comma-separated list of "
                    + string.Join(", ", Workloads));
            int[] Sizes(Option<string> o) => Ints(r.GetValue(o)!, o.Name);
            var (gemmSizes, mmdSizes, mmdDims, stepBatches) = (Sizes(gemm), Sizes(mmdN), Sizes(mmdD), Sizes(batches));
            int z = r.GetValue(latent);
            var mlp = new TrainConfig { Hidden = Ints(r.GetValue(hidden)!, "--hidden", 1), Latent = z };
            var convNet = new TrainConfig
            {
                Arch = Architecture.Conv, Channels = Ints(r.GetValue(channels)!, "--channels", 1), Latent = z,
            };
            mlp.Validate();
            convNet.Validate();
            int cb = r.GetValue(convBatch);
            if (cb < 2) throw new UserError($"--conv-batch must be at least 2 (batch norm needs 2 rows), not {cb}");
            var ds = chosen.Intersect(["step", "epoch", "conv"]).Any() ? DataSet.Load(r.GetValue(data)!) : null;
            var selected = DeviceOption.Select(r.GetValue(device)!);
            var be = selected.Backend;
            bool q = r.GetValue(quick);
            var emit = new Emitter(Console.Out, be.Name);
            emit.Write("env", ("description", JsonSerializer.SerializeToNode(selected.Description, DoctorCommand.Json)),
                ("quick", q), ("date", DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)));
            try
            {
                foreach (var w in chosen)
                {
                    var clock = Stopwatch.StartNew();
                    switch (w)
                    {
                        case "gemm": foreach (int n in gemmSizes) Gemm(be, n, q, emit); break;
                        case "mmd":
                            foreach (int n in mmdSizes) foreach (int d in mmdDims) Mmd(be, n, d, q, emit);
                            break;
                        case "step":
                            foreach (int b in stepBatches) Step(be, mlp with { Batch = b }, ds!, q, emit, "train_step");
                            break;
                        case "epoch": Epoch(be, mlp, ds!, emit); break;
                        case "conv": Step(be, convNet with { Batch = cb }, ds!, q, emit, "conv_step"); break;
                    }
                    emit.Write("mode_done", ("mode", w), ("seconds", Math.Round(clock.Elapsed.TotalSeconds, 2)));
                }
            }
            finally
            {
                Tape<float>.Current.Reset();
                (be as IDisposable)?.Dispose();
            }
            return 0;
        });
        return cmd;
    }

    static int[] Ints(string text, string flag, int least = 2)
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var r = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out r[i]) || r[i] < least)
                throw new UserError($"{flag} takes a comma-separated list of sizes of at least {least}, not '{text}'");
        return parts.Length > 0 ? r : throw new UserError($"{flag} needs at least one size");
    }

    /// <summary>One JSON object per line: {"source": "infovae", "metric": …, "device": …, …fields}.</summary>
    sealed class Emitter(TextWriter output, string device)
    {
        public void Write(string metric, params (string Key, object? Value)[] fields)
        {
            var o = new JsonObject { ["source"] = "infovae", ["metric"] = metric, ["device"] = device };
            foreach (var (k, v) in fields) o[k] = v as JsonNode ?? JsonSerializer.SerializeToNode(v);
            output.WriteLine(o.ToJsonString(DoctorCommand.Json));
            output.Flush();
        }
    }

    static double Round(double v, int digits = 4) => Math.Round(v, digits);

    /// <summary>M1: C = A·B, square, FP32, into a fresh C (beta = 0). 3 warm-up calls, ≥ 10 runs and ≥ 0.5 s.</summary>
    static void Gemm(IBackend<float> be, int n, bool quick, Emitter emit)
    {
        var a = new Arena(be);
        try
        {
            var x = a.Random(1, -1, 1, n, n);
            var y = a.Random(2, -1, 1, n, n);
            var c = a.Poisoned(n, n);
            var plan = quick ? TimingPlan.Quick : new TimingPlan(3, 10, 0.5, 10, 0, 1);
            var t = plan.Measure(() => be.Matmul(x, false, y, false, c, 1f, 0f), be);
            double gflops = 2.0 * n * n * n / t.Ms / 1e6;
            emit.Write("gemm", ("n", n), ("ms", Round(t.Ms)), ("gflops", Round(gflops, 2)), ("reps", t.Reps));
        }
        finally { a.Dispose(); }
    }

    /// <summary>M3: unbiased IMQ MMD²(z, prior) forward and its gradient with respect to z. 1 warm-up, ≥ 10 runs and
    /// ≥ 0.5 s, or 3 after 10 s.</summary>
    static void Mmd(IBackend<float> be, int n, int d, bool quick, Emitter emit)
    {
        var a = new Arena(be);
        try
        {
            var spec = MmdSpec.Default;
            var z = a.Random(3, -2, 2, n, d);
            var p = a.Random(4, -2.5, 2.5, n, d);
            var value = a.Own(Tensor<float>.Scalar(0f, be));
            var one = a.Own(Tensor<float>.Scalar(1f, be));
            var dz = a.Random(5, 0, 0, n, d);
            var plan = quick ? TimingPlan.Quick : new TimingPlan(1, 10, 0.5, 10, 0, 1);
            var t = plan.Measure(() => { be.Mmd(z, p, spec, value); be.MmdBackward(z, p, spec, one, dz, null); }, be);
            emit.Write("mmd_fwd_bwd", ("n", n), ("d", d), ("kernel", "imq"), ("ms", Round(t.Ms)), ("reps", t.Reps));
        }
        finally { a.Dispose(); }
    }

    /// <summary>
    /// M4 (or the conv step): one training step on real batches, a Trainer over the first 20·B images (as
    /// Bench/TrainStepBench does). MLP: 10 warm-up steps, ≥ 50 steps and ≥ 1 s; conv: 5 warm-up, ≥ 20 and ≥ 1 s.
    /// </summary>
    static void Step(IBackend<float> be, TrainConfig cfg, DataSet ds, bool quick, Emitter emit, string metric)
    {
        var train = ds.Train.Take(20 * cfg.Batch);
        if (train.Count < cfg.Batch)
            throw new UserError($"{metric} at batch {cfg.Batch} needs {cfg.Batch} training images; {ds.Folder} has "
                + $"{train.Count}; give a smaller batch");
        var config = cfg with { Epochs = int.MaxValue, InputSize = train.PixelsPerImage };
        config.CheckImageShape(train.Rows, train.Cols, ds.Folder);
        var trainer = new Trainer(config, train, be);
        trainer.InitializeWeights();
        bool conv = cfg.Arch == Architecture.Conv;
        var plan = quick ? TimingPlan.Quick
            : conv ? new TimingPlan(5, 20, 1, 30, 0, 1) : new TimingPlan(10, 50, 1, 30, 0, 1);
        var t = plan.Measure(() => trainer.TrainStep(), be);
        double flop = ModelChecks.StepFlop(config, cfg.Batch);
        emit.Write(metric, ("batch", cfg.Batch), ("ms", Round(t.Ms)), ("gflops", Round(flop / t.Ms / 1e6, 2)),
            ("images_per_s", Round(cfg.Batch / t.Ms * 1e3, 1)), ("reps", t.Reps));
    }

    /// <summary>M5: one pass over the training images at batch 256 from a fresh model, shuffling and batching
    /// included.</summary>
    static void Epoch(IBackend<float> be, TrainConfig mlp, DataSet ds, Emitter emit)
    {
        var config = mlp with { Batch = 256, InputSize = ds.Train.PixelsPerImage, Epochs = 1 };
        var trainer = new Trainer(config, ds.Train, be);
        trainer.InitializeWeights();
        var clock = Stopwatch.StartNew();
        double last = 0;
        while (!trainer.Finished) last = trainer.TrainStep().Total;
        TimingPlan.Sync(be);
        double s = clock.Elapsed.TotalSeconds;
        emit.Write("epoch", ("batch", 256), ("images", ds.Train.Count), ("seconds", Round(s, 3)),
            ("images_per_s", Round(ds.Train.Count / s, 1)), ("last_loss", last));
    }
}
