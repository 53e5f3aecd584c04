#!/usr/bin/env python3
"""InfoVAE anchor, PyTorch side: fixed Fashion-MNIST workload, JSON lines on stdout.

Mirror of anchors/torchsharp (the TorchSharp anchor; same model, loss, seeds, timing rules, output keys).
Run (from the repository root): /usr/bin/python3 anchors/pytorch/infovae_anchor.py --only quick|all|gemm,dist,mmd,step,epoch,train
On a GPU machine (any recent torch with CUDA): python3 infovae_anchor.py --device cuda --only all
  --gemm-sizes 1024,4096,8192 --data DIR; FP32 throughout (TF32 off); on a GPU the noise comes from the
  device's generator, so draws differ from the CPU run (losses agree in distribution, not bit for bit).
"""
import argparse
import datetime
import functools
import gzip
import itertools
import json
import os
import platform
import statistics
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

QUICK = ["gemm", "dist", "mmd", "step"]
ALL = QUICK + ["epoch", "train"]
IMQ_SCALES = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]


def emit(metric, **fields):
    print(json.dumps({"anchor": "pytorch", "metric": metric, **fields}), flush=True)


DEVICE = torch.device("cpu")


def sync():
    """On a GPU, wait for queued kernels so that a wall-clock time covers the work, not just its launch."""
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def bench(fn, warmup, min_reps, min_seconds, max_seconds=float("inf")):
    """Median wall ms of fn() after warm-up: runs until there are min_reps runs and min_seconds
    have passed, or, for slow cases, until there are 3 runs and max_seconds have passed."""
    for _ in range(warmup):
        fn()
    sync()
    times, start = [], time.perf_counter()
    while True:
        elapsed = time.perf_counter() - start
        if (len(times) >= min_reps and elapsed >= min_seconds) or (len(times) >= 3 and elapsed >= max_seconds):
            break
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times) * 1e3, 4), len(times)


# ---- data -------------------------------------------------------------------

def load_images(path):
    """IDX3 ubyte images (gzip) -> float32 [n, rows*cols] in [0, 1]."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = struct.unpack_from(">IIII", raw, 0)
    if magic != 0x803:
        raise ValueError(f"{path}: not an IDX3 ubyte file (magic {magic:#x})")
    pixels = torch.frombuffer(bytearray(raw[16:16 + n * rows * cols]), dtype=torch.uint8)
    return pixels.reshape(n, rows * cols).to(torch.float32).div_(255).to(DEVICE)


# ---- model and loss -----------------------------------------------------------

class InfoVAE(nn.Module):
    def __init__(self, z_dim):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                                 nn.Linear(256, 2 * z_dim))
        self.dec = nn.Sequential(nn.Linear(z_dim, 256), nn.ReLU(), nn.Linear(256, 512), nn.ReLU(),
                                 nn.Linear(512, 784), nn.Sigmoid())

    def forward(self, x, gen=None):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen, device=mu.device)
        return self.dec(z), mu, logvar, z


def sqdist(a, b):
    """[n, m] squared distances ||a_i||^2 + ||b_j||^2 - 2 a_i.b_j (one GEMM), clamped at 0."""
    a2 = a.pow(2).sum(1, keepdim=True)
    b2 = b.pow(2).sum(1, keepdim=True)
    return torch.addmm(a2 + b2.t(), a, b.t(), beta=1, alpha=-2).clamp_min(0)


def kernel(d2, dim, kind):
    if kind == "rbf":
        return torch.exp(d2 * (-1.0 / (2 * dim)))
    c = 2.0 * dim  # IMQ: C = 2 * dim * sigma^2, sigma^2 = 1, summed over scales
    return functools.reduce(torch.add, ((c * s) / (d2 + c * s) for s in IMQ_SCALES))


def mmd(z, p, kind):
    """Unbiased MMD^2 between samples z and prior samples p, both [n, dim]."""
    n, dim = z.shape

    def mean_off_diagonal(k):
        return (k.sum() - k.diagonal().sum()) / (n * (n - 1))

    k_pp = kernel(sqdist(p, p), dim, kind)
    k_zz = kernel(sqdist(z, z), dim, kind)
    k_pz = kernel(sqdist(p, z), dim, kind)
    return mean_off_diagonal(k_pp) + mean_off_diagonal(k_zz) - 2 * k_pz.mean()


def infovae_loss(x, xhat, mu, logvar, z, cfg, gen=None):
    b = x.shape[0]
    recon = F.binary_cross_entropy(xhat, x, reduction="sum") / b
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / b
    m = mmd(z, torch.randn(z.shape, generator=gen, device=z.device), cfg.kernel)
    total = recon + (1 - cfg.alpha) * kl + (cfg.alpha + cfg.lam - 1) * m
    return total, recon, kl, m


# ---- training -----------------------------------------------------------------

def new_model(cfg):
    torch.manual_seed(cfg.seed)
    model = InfoVAE(cfg.z).to(DEVICE)
    return model, torch.optim.Adam(model.parameters(), lr=cfg.lr)


def train_step(model, opt, x, cfg):
    opt.zero_grad(set_to_none=True)
    total = infovae_loss(x, *model(x), cfg)[0]
    total.backward()
    opt.step()
    return total.item()


def train_epoch(model, opt, x_train, batch, shuffle_gen, cfg):
    perm = torch.randperm(x_train.shape[0], generator=shuffle_gen).to(DEVICE)
    for i in range(0, x_train.shape[0], batch):
        loss = train_step(model, opt, x_train.index_select(0, perm[i:i + batch]), cfg)
    return loss


@torch.no_grad()
def evaluate(model, x_test, cfg, batch=1000):
    """Test-set means per image (recon BCE, KL) and mean MMD over batches of 1000; fixed noise."""
    gen = torch.Generator(device=DEVICE).manual_seed(cfg.seed)
    sums = torch.zeros(4, dtype=torch.float64, device=DEVICE)
    count = 0
    for i in range(0, x_test.shape[0], batch):
        x = x_test[i:i + batch]
        sums += torch.stack(infovae_loss(x, *model(x, gen), cfg, gen)).double()
        count += 1
    total, recon, kl, m = (sums / count).tolist()
    return {"recon": recon, "kl": kl, "mmd": m, "total": total}


# ---- measurements ---------------------------------------------------------------

def run_gemm(cfg):
    for n in cfg.gemm_sizes:
        a, b = torch.randn(n, n, device=DEVICE), torch.randn(n, n, device=DEVICE)
        ms, reps = bench(lambda: torch.mm(a, b), warmup=3, min_reps=10, min_seconds=0.5)
        emit("gemm", n=n, ms=ms, gflops=round(2 * n**3 / ms / 1e6, 2), reps=reps)


def run_dist(cfg):
    for n, d in itertools.product((256, 1024, 4096), (32, 128)):
        a, b = torch.randn(n, d, device=DEVICE), torch.randn(n, d, device=DEVICE)
        ms, reps = bench(lambda: sqdist(a, b), warmup=3, min_reps=10, min_seconds=0.5, max_seconds=10)
        emit("sqdist", n=n, d=d, ms=ms, reps=reps)


def run_mmd(cfg):
    for n, d in itertools.product((256, 1024, 4096), (32, 128)):
        z, p = torch.randn(n, d, device=DEVICE, requires_grad=True), torch.randn(n, d, device=DEVICE)
        ms, reps = bench(lambda: torch.autograd.grad(mmd(z, p, cfg.kernel), z), warmup=1, min_reps=10,
                         min_seconds=0.5, max_seconds=10)
        emit("mmd_fwd_bwd", n=n, d=d, kernel=cfg.kernel, ms=ms, reps=reps)


def run_step(cfg, x_train):
    for batch in (64, 256, 1024):
        model, opt = new_model(cfg)
        perm = torch.randperm(x_train.shape[0], generator=torch.Generator().manual_seed(cfg.seed)).to(DEVICE)
        batches = itertools.cycle([x_train.index_select(0, perm[i * batch:(i + 1) * batch]) for i in range(20)])
        ms, reps = bench(lambda: train_step(model, opt, next(batches), cfg), warmup=10, min_reps=50,
                         min_seconds=1.0)
        emit("train_step", batch=batch, ms=ms, reps=reps)


def run_epoch(cfg, x_train):
    model, opt = new_model(cfg)
    sync()
    t0 = time.perf_counter()
    loss = train_epoch(model, opt, x_train, cfg.batch, torch.Generator().manual_seed(cfg.seed), cfg)
    sync()
    seconds = time.perf_counter() - t0
    emit("epoch", batch=cfg.batch, images=x_train.shape[0], seconds=round(seconds, 3),
         images_per_s=round(x_train.shape[0] / seconds, 1), last_loss=loss)


def run_train(cfg, x_train, x_test):
    model, opt = new_model(cfg)
    init_sum = sum(p.double().sum().item() for p in model.parameters())
    shuffle_gen = torch.Generator().manual_seed(cfg.seed)
    train_seconds = 0.0
    for epoch in range(1, cfg.epochs + 1):
        sync()
        t0 = time.perf_counter()
        train_epoch(model, opt, x_train, cfg.batch, shuffle_gen, cfg)
        sync()
        train_seconds += time.perf_counter() - t0
        if epoch in (1, 5, cfg.epochs):
            result = evaluate(model, x_test, cfg)
            emit("eval", epoch=epoch, train_seconds=round(train_seconds, 3), **result)
    emit("train", epochs=cfg.epochs, batch=cfg.batch, train_seconds=round(train_seconds, 3),
         init_param_sum=init_sum, **result)


def loaded_blas():
    """Path of the BLAS library mapped into this process (Debian's libblas.so.3 alternative)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "blas" in line.rsplit("/", 1)[-1]}
    return sorted(paths)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="quick", help="quick | all | comma list of " + ",".join(ALL))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256, help="batch for epoch/train")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--z", type=int, default=32)
    ap.add_argument("--alpha", type=float, default=0.0)
    ap.add_argument("--lambda", dest="lam", type=float, default=1000.0)
    ap.add_argument("--kernel", choices=["imq", "rbf"], default="imq")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--device", default="cpu", help="cpu | cuda (a GPU: timings then synchronise the device)")
    ap.add_argument("--gemm-sizes", default="256,512,1024,2048", help="M1's N values, comma-separated")
    cfg = ap.parse_args()
    cfg.gemm_sizes = [int(n) for n in cfg.gemm_sizes.split(",")]
    global DEVICE
    DEVICE = torch.device(cfg.device)
    if DEVICE.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False   # plain FP32 GEMMs, as on the CPU side
        torch.backends.cudnn.allow_tf32 = False
    modes = {"quick": QUICK, "all": ALL}.get(cfg.only, cfg.only.split(","))
    unknown = set(modes) - set(ALL)
    if unknown:
        ap.error(f"unknown mode(s) {sorted(unknown)}")

    torch.set_num_threads(cfg.threads)
    emit("env", date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
         torch=torch.__version__, python=platform.python_version(), threads=torch.get_num_threads(),
         interop_threads=torch.get_num_interop_threads(), blas=loaded_blas(), cpus=os.cpu_count(),
         device=str(DEVICE), gpu=torch.cuda.get_device_name() if DEVICE.type == "cuda" else None,
         modes=modes, config=vars(cfg))

    torch.manual_seed(cfg.seed)
    x_train = x_test = None
    if {"step", "epoch", "train"} & set(modes):
        x_train = load_images(os.path.join(cfg.data, "train-images-idx3-ubyte.gz"))
    if "train" in modes:
        x_test = load_images(os.path.join(cfg.data, "t10k-images-idx3-ubyte.gz"))
    runners = {"gemm": lambda: run_gemm(cfg), "dist": lambda: run_dist(cfg), "mmd": lambda: run_mmd(cfg),
               "step": lambda: run_step(cfg, x_train), "epoch": lambda: run_epoch(cfg, x_train),
               "train": lambda: run_train(cfg, x_train, x_test)}
    for mode in modes:
        t0 = time.perf_counter()
        runners[mode]()
        emit("mode_done", mode=mode, seconds=round(time.perf_counter() - t0, 2))


if __name__ == "__main__":
    main()
