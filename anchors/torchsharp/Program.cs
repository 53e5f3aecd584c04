// InfoVAE anchor, TorchSharp side: fixed Fashion-MNIST workload, JSON lines on stdout.
// Mirror of anchors/pytorch/infovae_anchor.py (same model, loss, seeds, timing rules, output keys).
// Run: dotnet run -c Release --project anchors/torchsharp -- --only quick|all|gemm,dist,mmd,step,epoch,train
using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using InfoVaeAnchor;
using TorchSharp;
using static TorchSharp.torch;

string[] quick = ["gemm", "dist", "mmd", "step"];
string[] all = [.. quick, "epoch", "train"];
var jsonOptions = new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

var cfg = Config.Parse(args);
string[] modes = cfg.Only switch { "quick" => quick, "all" => all, _ => cfg.Only.Split(',') };
var unknown = modes.Except(all).ToArray();
if (unknown.Length > 0) throw new ArgumentException($"unknown mode(s) {string.Join(",", unknown)}");

torch.set_num_threads(cfg.Threads);
Emit("env",
    ("date", DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'")),
    ("torchsharp",
        typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion),
    ("libtorch", torch.__version__),
    ("dotnet", Environment.Version.ToString()),
    ("threads", torch.get_num_threads()),
    ("interop_threads", torch.get_num_interop_threads()),
    ("native", File.ReadLines("/proc/self/maps").Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).Last())
        .Where(p => p.EndsWith("libtorch_cpu.so") || p.EndsWith("libLibTorchSharp.so")).Distinct().Order().ToArray()),
    ("cpus", Environment.ProcessorCount),
    ("modes", modes),
    ("config", cfg));

torch.manual_seed(cfg.Seed);
Tensor? xTrain = null, xTest = null;
if (modes.Intersect(["step", "epoch", "train"]).Any())
    xTrain = Data.LoadImages(Path.Combine(cfg.Data, "train-images-idx3-ubyte.gz"));
if (modes.Contains("train"))
    xTest = Data.LoadImages(Path.Combine(cfg.Data, "t10k-images-idx3-ubyte.gz"));

foreach (var mode in modes) {
    long t0 = Stopwatch.GetTimestamp();
    switch (mode) {
        case "gemm": RunGemm(); break;
        case "dist": RunDist(); break;
        case "mmd": RunMmd(); break;
        case "step": RunStep(xTrain!); break;
        case "epoch": RunEpoch(xTrain!); break;
        case "train": RunTrain(xTrain!, xTest!); break;
    }
    Emit("mode_done", ("mode", mode), ("seconds", Math.Round(Stopwatch.GetElapsedTime(t0).TotalSeconds, 2)));
}
return 0;

void RunGemm()
{
    foreach (int n in new[] { 256, 512, 1024, 2048 }) {
        using var a = torch.randn(n, n);
        using var b = torch.randn(n, n);
        var (ms, reps) = Bench(() => torch.mm(a, b), warmup: 3, minReps: 10, minSeconds: 0.5);
        Emit("gemm", ("n", n), ("ms", ms), ("gflops", Math.Round(2.0 * n * n * n / ms / 1e6, 2)), ("reps", reps));
    }
}

void RunDist()
{
    foreach (int n in new[] { 256, 1024, 4096 })
    foreach (int d in new[] { 32, 128 }) {
        using var a = torch.randn(n, d);
        using var b = torch.randn(n, d);
        var (ms, reps) = Bench(() => Loss.SqDist(a, b), warmup: 3, minReps: 10, minSeconds: 0.5, maxSeconds: 10);
        Emit("sqdist", ("n", n), ("d", d), ("ms", ms), ("reps", reps));
    }
}

void RunMmd()
{
    foreach (int n in new[] { 256, 1024, 4096 })
    foreach (int d in new[] { 32, 128 }) {
        using var z = torch.randn(n, d, requires_grad: true);
        using var p = torch.randn(n, d);
        var (ms, reps) = Bench(() => torch.autograd.grad([Loss.Mmd(z, p, cfg.Kernel)], [z]),
                               warmup: 1, minReps: 10, minSeconds: 0.5, maxSeconds: 10);
        Emit("mmd_fwd_bwd", ("n", n), ("d", d), ("kernel", cfg.Kernel), ("ms", ms), ("reps", reps));
    }
}

void RunStep(Tensor x)
{
    foreach (int batch in new[] { 64, 256, 1024 }) {
        var (model, opt) = Training.NewModel(cfg);
        using var gen = new Generator((ulong)cfg.Seed);
        using var perm = torch.randperm(x.shape[0], generator: gen);
        var batches =
            Enumerable.Range(0, 20).Select(i => x.index_select(0, perm.narrow(0, i * batch, batch))).ToArray();
        int next = 0;
        var (ms, reps) = Bench(() => Training.Step(model, opt, batches[next++ % batches.Length], cfg),
                               warmup: 10, minReps: 50, minSeconds: 1.0);
        Emit("train_step", ("batch", batch), ("ms", ms), ("reps", reps));
        foreach (var b in batches) b.Dispose();
        opt.Dispose();
        model.Dispose();
    }
}

void RunEpoch(Tensor x)
{
    var (model, opt) = Training.NewModel(cfg);
    using var gen = new Generator((ulong)cfg.Seed);
    long t0 = Stopwatch.GetTimestamp();
    float loss = Training.Epoch(model, opt, x, cfg.Batch, gen, cfg);
    double seconds = Stopwatch.GetElapsedTime(t0).TotalSeconds;
    Emit("epoch", ("batch", cfg.Batch), ("images", x.shape[0]), ("seconds", Math.Round(seconds, 3)),
         ("images_per_s", Math.Round(x.shape[0] / seconds, 1)), ("last_loss", loss));
}

void RunTrain(Tensor x, Tensor xTest)
{
    var (model, opt) = Training.NewModel(cfg);
    double initSum = model.parameters().Sum(p => p.to(ScalarType.Float64).sum().item<double>());
    using var shuffle = new Generator((ulong)cfg.Seed);
    double trainSeconds = 0;
    (double recon, double kl, double mmd, double total) r = default;
    for (int epoch = 1; epoch <= cfg.Epochs; epoch++) {
        long t0 = Stopwatch.GetTimestamp();
        Training.Epoch(model, opt, x, cfg.Batch, shuffle, cfg);
        trainSeconds += Stopwatch.GetElapsedTime(t0).TotalSeconds;
        if (epoch is 1 or 5 || epoch == cfg.Epochs) {
            r = Training.Evaluate(model, xTest, cfg);
            Emit("eval", ("epoch", epoch), ("train_seconds", Math.Round(trainSeconds, 3)),
                 ("recon", r.recon), ("kl", r.kl), ("mmd", r.mmd), ("total", r.total));
        }
    }
    Emit("train", ("epochs", cfg.Epochs), ("batch", cfg.Batch), ("train_seconds", Math.Round(trainSeconds, 3)),
         ("init_param_sum", initSum), ("recon", r.recon), ("kl", r.kl), ("mmd", r.mmd), ("total", r.total));
}

// Median wall ms of fn() after warm-up: runs until there are minReps runs and minSeconds have
// passed, or, for slow cases, until there are 3 runs and maxSeconds have passed.
// Each call runs in a dispose scope, so freeing its temporaries is timed, as in Python.
static (double ms, int reps) Bench(Func<object> fn, int warmup, int minReps, double minSeconds,
                                   double maxSeconds = double.PositiveInfinity)
{
    for (int i = 0; i < warmup; i++)
        using (NewDisposeScope()) fn();
    var times = new List<double>();
    long start = Stopwatch.GetTimestamp();
    while (true) {
        double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
        if ((times.Count >= minReps && elapsed >= minSeconds) || (times.Count >= 3 && elapsed >= maxSeconds))
            break;
        long t0 = Stopwatch.GetTimestamp();
        using (NewDisposeScope()) fn();
        times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
    }
    times.Sort();
    int mid = times.Count / 2;
    double median = times.Count % 2 == 1 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
    return (Math.Round(median * 1e3, 4), times.Count);
}

void Emit(string metric, params (string key, object? value)[] fields)
{
    var record = new Dictionary<string, object?> { ["anchor"] = "torchsharp", ["metric"] = metric };
    foreach (var (key, value) in fields) record[key] = value;
    Console.WriteLine(JsonSerializer.Serialize(record, jsonOptions));
}
