// The peer's InfoVAE model, loss and training step, copied from anchors/torchsharp/Workload.cs
// (the TorchSharp anchor, itself a mirror of anchors/pytorch/infovae_anchor.py) with only what the
// benchmarks need: same ops, same dispose scopes, so the timed work is exactly the anchor's.
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace InfoVae.Bench.Peer;

/// <summary>
/// The anchor's settings that the loss and the optimiser read (docs/benchmarks.md: the canonical values).
/// </summary>
sealed class PeerConfig
{
    public int Seed { get; init; }
    public double Lr { get; init; } = 1e-3;
    public int Z { get; init; } = 32;
    public double Alpha { get; init; }
    public double Lam { get; init; } = 1000.0;
    public string Kernel { get; init; } = "imq";
}

sealed class TorchInfoVae : nn.Module
{
    readonly Sequential enc, dec;

    public TorchInfoVae(int zDim) : base(nameof(TorchInfoVae))
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

static class TorchLoss
{
    static readonly double[] ImqScales = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0];

    /// <summary>[n, m] squared distances ||a_i||^2 + ||b_j||^2 - 2 a_i.b_j (one GEMM), clamped at 0.</summary>
    public static Tensor SqDist(Tensor a, Tensor b) => Scoped(() =>
    {
        var a2 = a.pow(2).sum(1, keepdim: true);
        var b2 = b.pow(2).sum(1, keepdim: true);
        return torch.addmm(a2 + b2.t(), a, b.t(), beta: 1, alpha: -2).clamp_min(0);
    });

    public static Tensor Kernel(Tensor d2, long dim, string kind) => Scoped(() =>
    {
        if (kind == "rbf") return torch.exp(d2 * (-1.0 / (2 * dim)));
        double c = 2.0 * dim;  // IMQ: C = 2 * dim * sigma^2, sigma^2 = 1, summed over scales
        return ImqScales.Select(s => (c * s) / (d2 + c * s)).Aggregate((x, y) => x + y);
    });

    /// <summary>Unbiased MMD^2 between samples z and prior samples p, both [n, dim].</summary>
    public static Tensor Mmd(Tensor z, Tensor p, string kind) => Scoped(() =>
    {
        long n = z.shape[0], dim = z.shape[1];
        Tensor MeanOffDiagonal(Tensor k) => (k.sum() - k.diagonal().sum()) / (n * (n - 1));

        var kPP = Kernel(SqDist(p, p), dim, kind);
        var kZZ = Kernel(SqDist(z, z), dim, kind);
        var kPZ = Kernel(SqDist(p, z), dim, kind);
        return MeanOffDiagonal(kPP) + MeanOffDiagonal(kZZ) - 2 * kPZ.mean();
    });

    /// <summary>Runs body in its own dispose scope and keeps only its result (the anchor's rule: n x n temporaries
    /// are freed when the function returns, close to when Python's refcounting frees them).</summary>
    static Tensor Scoped(Func<Tensor> body)
    {
        using var scope = NewDisposeScope();
        return body().MoveToOuterDisposeScope();
    }

    public static Tensor Total(Tensor x, (Tensor xhat, Tensor mu, Tensor logvar, Tensor z) f, PeerConfig cfg)
    {
        long b = x.shape[0];
        var recon = nn.functional.binary_cross_entropy(f.xhat, x, reduction: nn.Reduction.Sum) / b;
        var kl = -0.5 * (1 + f.logvar - f.mu.pow(2) - f.logvar.exp()).sum() / b;
        var m = Mmd(f.z, torch.randn(f.z.shape), cfg.Kernel);
        return recon + (1 - cfg.Alpha) * kl + (cfg.Alpha + cfg.Lam - 1) * m;
    }
}

static class TorchTraining
{
    public static (TorchInfoVae model, optim.Optimizer opt) NewModel(PeerConfig cfg)
    {
        torch.manual_seed(cfg.Seed);
        var model = new TorchInfoVae(cfg.Z);
        return (model, optim.Adam(model.parameters(), lr: cfg.Lr));
    }

    public static float Step(TorchInfoVae model, optim.Optimizer opt, Tensor x, PeerConfig cfg)
    {
        using var scope = NewDisposeScope();
        model.zero_grad(set_to_none: true);
        var total = TorchLoss.Total(x, model.Forward(x), cfg);
        total.backward();
        opt.step();
        return total.item<float>();
    }

    public static float Epoch(TorchInfoVae model, optim.Optimizer opt, Tensor xTrain, int batch, Generator shuffle,
        PeerConfig cfg)
    {
        long n = xTrain.shape[0];
        using var perm = torch.randperm(n, generator: shuffle);
        float loss = float.NaN;
        for (long i = 0; i < n; i += batch)
        {
            using var scope = NewDisposeScope();
            loss = Step(model, opt, xTrain.index_select(0, perm.narrow(0, i, Math.Min(batch, n - i))), cfg);
        }
        return loss;
    }
}
