// The InfoVAE workload: data, model, loss, training. Mirror of anchors/pytorch/infovae_anchor.py.
using System.Buffers.Binary;
using System.IO.Compression;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InfoVaeAnchor;

/// <summary>Command-line settings; names match the PyTorch anchor's (Lam is lambda).</summary>
sealed class Config
{
    public string Only { get; set; } = "quick";
    public int Threads { get; set; } = 2;
    public int Batch { get; set; } = 256;
    public int Epochs { get; set; } = 10;
    public int Seed { get; set; } = 0;
    public double Lr { get; set; } = 1e-3;
    public int Z { get; set; } = 32;
    public double Alpha { get; set; } = 0.0;
    public double Lam { get; set; } = 1000.0;
    public string Kernel { get; set; } = "imq";
    public string Data { get; set; } = "/usr/share/datasets/fashion-mnist";

    public static Config Parse(string[] args)
    {
        var c = new Config();
        for (int i = 0; i < args.Length; i += 2) {
            string v = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"missing value for {args[i]}");
            switch (args[i]) {
                case "--only": c.Only = v; break;
                case "--threads": c.Threads = int.Parse(v); break;
                case "--batch": c.Batch = int.Parse(v); break;
                case "--epochs": c.Epochs = int.Parse(v); break;
                case "--seed": c.Seed = int.Parse(v); break;
                case "--lr": c.Lr = double.Parse(v); break;
                case "--z": c.Z = int.Parse(v); break;
                case "--alpha": c.Alpha = double.Parse(v); break;
                case "--lambda": c.Lam = double.Parse(v); break;
                case "--kernel": c.Kernel = v is "imq" or "rbf" ? v : throw new ArgumentException("--kernel imq|rbf");
                    break;
                case "--data": c.Data = v; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        return c;
    }
}

static class Data
{
    /// <summary>IDX3 ubyte images (gzip) to float32 [n, rows*cols] in [0, 1].</summary>
    public static Tensor LoadImages(string path)
    {
        using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
        using var buffer = new MemoryStream();
        gz.CopyTo(buffer);
        var raw = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        int magic = BinaryPrimitives.ReadInt32BigEndian(raw);
        if (magic != 0x803) throw new InvalidDataException($"{path}: not an IDX3 ubyte file (magic {magic:x})");
        int n = BinaryPrimitives.ReadInt32BigEndian(raw[4..]);
        int pixels = BinaryPrimitives.ReadInt32BigEndian(raw[8..]) * BinaryPrimitives.ReadInt32BigEndian(raw[12..]);
        using var bytes = torch.tensor(raw.Slice(16, n * pixels).ToArray(), new long[] { n, pixels });
        return bytes.to(ScalarType.Float32).div_(255);
    }
}

sealed class InfoVae : nn.Module
{
    readonly Sequential enc, dec;

    public InfoVae(int zDim) : base(nameof(InfoVae))
    {
        enc = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                            nn.Linear(256, 2 * zDim));
        dec = nn.Sequential(nn.Linear(zDim, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(),
                            nn.Linear(512, 784), nn.Sigmoid());
        RegisterComponents();
    }

    public (Tensor xhat, Tensor mu, Tensor logvar, Tensor z) Forward(Tensor x, Generator? gen = null)
    {
        var h = enc.call(x).chunk(2, 1);
        var (mu, logvar) = (h[0], h[1]);
        var z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator: gen);
        return (dec.call(z), mu, logvar, z);
    }
}

static class Loss
{
    static readonly double[] ImqScales = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0];

    /// <summary>[n, m] squared distances ||a_i||^2 + ||b_j||^2 - 2 a_i.b_j (one GEMM), clamped at 0.</summary>
    public static Tensor SqDist(Tensor a, Tensor b) => Scoped(() => {
        var a2 = a.pow(2).sum(1, keepdim: true);
        var b2 = b.pow(2).sum(1, keepdim: true);
        return torch.addmm(a2 + b2.t(), a, b.t(), beta: 1, alpha: -2).clamp_min(0);
    });

    public static Tensor Kernel(Tensor d2, long dim, string kind) => Scoped(() => {
        if (kind == "rbf") return torch.exp(d2 * (-1.0 / (2 * dim)));
        double c = 2.0 * dim;  // IMQ: C = 2 * dim * sigma^2, sigma^2 = 1, summed over scales
        return ImqScales.Select(s => (c * s) / (d2 + c * s)).Aggregate((x, y) => x + y);
    });

    /// <summary>Unbiased MMD^2 between samples z and prior samples p, both [n, dim].</summary>
    public static Tensor Mmd(Tensor z, Tensor p, string kind) => Scoped(() => {
        long n = z.shape[0], dim = z.shape[1];
        Tensor MeanOffDiagonal(Tensor k) => (k.sum() - k.diagonal().sum()) / (n * (n - 1));

        var kPP = Kernel(SqDist(p, p), dim, kind);
        var kZZ = Kernel(SqDist(z, z), dim, kind);
        var kPZ = Kernel(SqDist(p, z), dim, kind);
        return MeanOffDiagonal(kPP) + MeanOffDiagonal(kZZ) - 2 * kPZ.mean();
    });

    /// <summary>Runs body in its own dispose scope and keeps only its result, so that n x n
    /// temporaries are freed when the function returns, close to when Python's refcounting frees them
    /// (autograd keeps what backward needs either way).</summary>
    static Tensor Scoped(Func<Tensor> body)
    {
        using var scope = NewDisposeScope();
        return body().MoveToOuterDisposeScope();
    }

    public static (Tensor total, Tensor recon, Tensor kl, Tensor mmd) InfoVae(
        Tensor x, (Tensor xhat, Tensor mu, Tensor logvar, Tensor z) f, Config cfg, Generator? gen = null)
    {
        long b = x.shape[0];
        var recon = nn.functional.binary_cross_entropy(f.xhat, x, reduction: nn.Reduction.Sum) / b;
        var kl = -0.5 * (1 + f.logvar - f.mu.pow(2) - f.logvar.exp()).sum() / b;
        var m = Mmd(f.z, torch.randn(f.z.shape, generator: gen), cfg.Kernel);
        var total = recon + (1 - cfg.Alpha) * kl + (cfg.Alpha + cfg.Lam - 1) * m;
        return (total, recon, kl, m);
    }
}

static class Training
{
    public static (InfoVae model, optim.Optimizer opt) NewModel(Config cfg)
    {
        torch.manual_seed(cfg.Seed);
        var model = new InfoVae(cfg.Z);
        return (model, optim.Adam(model.parameters(), lr: cfg.Lr));
    }

    public static float Step(InfoVae model, optim.Optimizer opt, Tensor x, Config cfg)
    {
        using var scope = NewDisposeScope();
        model.zero_grad(set_to_none: true);
        var total = Loss.InfoVae(x, model.Forward(x), cfg).total;
        total.backward();
        opt.step();
        return total.item<float>();
    }

    public static float Epoch(InfoVae model, optim.Optimizer opt, Tensor xTrain, int batch, Generator shuffle,
        Config cfg)
    {
        long n = xTrain.shape[0];
        using var perm = torch.randperm(n, generator: shuffle);
        float loss = float.NaN;
        for (long i = 0; i < n; i += batch) {
            using var scope = NewDisposeScope();
            loss = Step(model, opt, xTrain.index_select(0, perm.narrow(0, i, Math.Min(batch, n - i))), cfg);
        }
        return loss;
    }

    /// <summary>Test-set means per image (recon BCE, KL) and mean MMD over batches of 1000; fixed noise.</summary>
    public static (double recon, double kl, double mmd, double total) Evaluate(InfoVae model, Tensor xTest, Config cfg,
        int batch = 1000)
    {
        using var noGrad = torch.no_grad();
        using var gen = new Generator((ulong)cfg.Seed);
        using var sums = torch.zeros(4, dtype: ScalarType.Float64);
        int count = 0;
        for (long i = 0; i < xTest.shape[0]; i += batch) {
            using var batchScope = NewDisposeScope();
            var x = xTest.narrow(0, i, Math.Min(batch, xTest.shape[0] - i));
            var (total, recon, kl, m) = Loss.InfoVae(x, model.Forward(x, gen), cfg, gen);
            sums.add_(torch.stack([total, recon, kl, m]).to(ScalarType.Float64));
            count++;
        }
        var r = sums.div_(count).data<double>().ToArray();
        return (r[1], r[2], r[3], r[0]);
    }
}
