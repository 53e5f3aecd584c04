#!/usr/bin/python3
"""InfoVAE debug state: one batch through the exact model in PyTorch, every intermediate saved for the C# engine.

In the spirit of llm.c's gpt2_124M_debug_state.bin. Writes debug_state.safetensors next to this script with
  F32: the initial weights (state-dict names, (out, in) layout), x (B, 784), eps (B, Z), prior (M, Z);
  F64: mu, logvar, z (B, Z), logits (B, 784), recon, kl, mmd, total (shape []), grad.<name> for every parameter,
       adam_losses (4,): total before each of 3 Adam steps and after the last.
The float64 reference model is the float32-initialised model converted to double, fed the same float32 x, eps and
prior converted to double, so the C# float32 run starts from exactly these weights and this noise.

Run with Debian's PyTorch (apt-get install python3-torch dataset-fashion-mnist):
  /usr/bin/python3 Tests/Data/make_debug_state.py
No packages beyond torch: the safetensors writer and reader are below.
"""
import argparse
import copy
import gzip
import hashlib
import json
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

IMQ_SCALES = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]
PIXELS = 784
ADAM_STEPS = 3


# ---- data -------------------------------------------------------------------------------------------------------

def load_images(path, count):
    """First `count` IDX3 ubyte images (gzip) -> float32 (count, rows*cols) in [0, 1]."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, n, rows, cols = struct.unpack_from(">IIII", raw, 0)
    if magic != 0x803:
        raise ValueError(f"{path}: not an IDX3 ubyte file (magic {magic:#x})")
    if count > n:
        raise ValueError(f"{path}: {n} images, {count} asked for")
    pixels = torch.frombuffer(bytearray(raw[16:16 + count * rows * cols]), dtype=torch.uint8)
    return pixels.reshape(count, rows * cols).to(torch.float32).div_(255)


# ---- model and loss (the anchor's, with logits out and the spec's layer names) --------------------------------------

class InfoVAE(nn.Module):
    def __init__(self, h1, h2, z_dim):
        super().__init__()
        self.z_dim = z_dim
        # Construction order = init order under manual_seed: encoder.0, .2, .4, then decoder.0, .2, .4.
        self.encoder = nn.Sequential(nn.Linear(PIXELS, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU(),
                                     nn.Linear(h2, 2 * z_dim))
        self.decoder = nn.Sequential(nn.Linear(z_dim, h2), nn.ReLU(), nn.Linear(h2, h1), nn.ReLU(),
                                     nn.Linear(h1, PIXELS))

    def forward(self, x, eps):
        h = self.encoder(x)                                   # (B, 2Z)
        mu, logvar = h[:, :self.z_dim], h[:, self.z_dim:]     # (B, Z) each
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decoder(z), mu, logvar, z                 # logits (B, 784), no sigmoid


def sqdist(a, b):
    """(n, m) squared distances ||a_i||^2 + ||b_j||^2 - 2 a_i.b_j, clamped at 0."""
    a2 = a.pow(2).sum(1, keepdim=True)
    b2 = b.pow(2).sum(1, keepdim=True)
    return torch.addmm(a2 + b2.t(), a, b.t(), beta=1, alpha=-2).clamp_min(0)


def imq(d2, dim):
    c = 2.0 * dim
    k = torch.zeros_like(d2)
    for s in IMQ_SCALES:
        k = k + (s * c) / (s * c + d2)
    return k


def mmd(z, p):
    """Unbiased MMD^2 between z (B, Z) and prior samples p (M, Z), IMQ kernel."""
    b, dim = z.shape
    m = p.shape[0]

    def off_diagonal_sum(k):
        return k.sum() - k.diagonal().sum()

    k_zz = imq(sqdist(z, z), dim)
    k_pp = imq(sqdist(p, p), dim)
    k_zp = imq(sqdist(z, p), dim)
    return off_diagonal_sum(k_zz) / (b * (b - 1)) + off_diagonal_sum(k_pp) / (m * (m - 1)) - 2 * k_zp.mean()


def losses(model, x, eps, prior, alpha, lam):
    logits, mu, logvar, z = model(x, eps)
    b = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / b
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / b
    m = mmd(z, prior)
    total = recon + (1 - alpha) * kl + (alpha + lam - 1) * m
    return dict(logits=logits, mu=mu, logvar=logvar, z=z, recon=recon, kl=kl, mmd=m, total=total)


# ---- independent checks of the loss code (loops straight from the spec, not the code above) ------------------------

def mmd_by_loops(z, p):
    def k(a, b):
        d2 = max(float(((a - b) ** 2).sum()), 0.0)
        c = 2.0 * z.shape[1]
        return sum(s * c / (s * c + d2) for s in IMQ_SCALES)
    b, m = z.shape[0], p.shape[0]
    zz = sum(k(z[i], z[j]) for i in range(b) for j in range(b) if i != j) / (b * (b - 1))
    pp = sum(k(p[i], p[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    zp = sum(k(z[i], p[j]) for i in range(b) for j in range(m)) / (b * m)
    return zz + pp - 2 * zp


def check_recon(out, x):
    """Recon written out as -[x log y + (1-x) log(1-y)], y = sigmoid(logits), must agree with the fused form."""
    with torch.no_grad():
        y = torch.sigmoid(out["logits"])
        recon = -(x * torch.log(y) + (1 - x) * torch.log1p(-y)).sum() / x.shape[0]
        assert abs(float(recon) - float(out["recon"])) < 1e-9 * abs(float(recon)), (float(recon), float(out["recon"]))


def check_gradients(model, x, eps, prior, alpha, lam, grads, per_tensor=3, h=1e-6):
    """Central differences on a few entries of every parameter, float64: worst relative error."""
    gen = torch.Generator().manual_seed(1234)
    worst = 0.0
    with torch.no_grad():
        for name, p in model.named_parameters():
            flat = p.view(-1)
            for i in torch.randint(flat.numel(), (per_tensor,), generator=gen).tolist():
                keep = flat[i].item()
                flat[i] = keep + h
                up = losses(model, x, eps, prior, alpha, lam)["total"].item()
                flat[i] = keep - h
                down = losses(model, x, eps, prior, alpha, lam)["total"].item()
                flat[i] = keep
                numeric = (up - down) / (2 * h)
                analytic = grads[name].view(-1)[i].item()
                err = abs(numeric - analytic) / max(1.0, abs(analytic))
                worst = max(worst, err)
    return worst


# ---- safetensors, by hand -------------------------------------------------------------------------------------------

DTYPES = {torch.float32: "F32", torch.float64: "F64"}
TORCH_DTYPES = {v: k for k, v in DTYPES.items()}


def write_safetensors(path, tensors, metadata):
    """8-byte LE header length, JSON header (__metadata__ first, padded with spaces to a multiple of 8), data.
    Tensors are packed in the given order with no holes, little-endian, row-major."""
    assert sys.byteorder == "little", "tensor bytes are written as they lie in memory"
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        assert offset % 8 == 0, f"{name} would start unaligned"   # lets a reader cast the bytes in place
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)   # data starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack_from("<Q", raw, 0)
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__")
    data = raw[8 + n:]
    tensors, expected = {}, 0
    for name, info in header.items():
        start, end = info["data_offsets"]
        assert start == expected, f"{name}: hole or overlap at {start}"
        dtype = TORCH_DTYPES[info["dtype"]]
        t = torch.frombuffer(bytearray(data[start:end]), dtype=dtype) if end > start else torch.empty(0, dtype=dtype)
        tensors[name] = t.reshape(info["shape"])
        expected = end
    assert expected == len(data), "trailing bytes after the last tensor"
    return tensors, metadata, n


# ---- main -----------------------------------------------------------------------------------------------------------

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "debug_state.safetensors"))
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--h1", type=int, default=128)
    ap.add_argument("--h2", type=int, default=64)
    ap.add_argument("--z", type=int, default=8)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--prior-samples", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=0.0)
    ap.add_argument("--lambda", dest="lam", type=float, default=1000.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    cfg = ap.parse_args()
    torch.set_num_threads(1)   # one fixed summation order for the reference

    # float32 model, initialised exactly as the C# side will load it.
    torch.manual_seed(cfg.seed)
    model32 = InfoVAE(cfg.h1, cfg.h2, cfg.z)
    weights32 = {name: p.detach().clone() for name, p in model32.state_dict().items()}

    # Noise from its own generator so it does not depend on how many draws the init took.
    gen = torch.Generator().manual_seed(cfg.seed)
    eps32 = torch.randn(cfg.batch, cfg.z, generator=gen, dtype=torch.float32)
    prior32 = torch.randn(cfg.prior_samples, cfg.z, generator=gen, dtype=torch.float32)
    x32 = load_images(cfg.data, cfg.batch)

    x, eps, prior = x32.double(), eps32.double(), prior32.double()
    model = copy.deepcopy(model32).double()
    out = losses(model, x, eps, prior, cfg.alpha, cfg.lam)
    out["total"].backward()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}

    # Checks of the reference itself before it is written.
    check_recon(out, x)
    loop_mmd = mmd_by_loops(out["z"].detach(), prior)
    assert abs(loop_mmd - out["mmd"].item()) < 1e-12, (loop_mmd, out["mmd"].item())
    fd_worst = check_gradients(model, x, eps, prior, cfg.alpha, cfg.lam, grads)
    assert fd_worst < 1e-5, f"finite differences disagree with autograd: {fd_worst:.3g}"

    # Adam from the same initial weights, same batch and noise every step.
    adam_model = copy.deepcopy(model32).double()
    opt = torch.optim.Adam(adam_model.parameters(), lr=cfg.lr, betas=(0.9, 0.999), eps=1e-8)
    adam_losses = []
    for _ in range(ADAM_STEPS):
        opt.zero_grad(set_to_none=True)
        total = losses(adam_model, x, eps, prior, cfg.alpha, cfg.lam)["total"]
        total.backward()
        adam_losses.append(total.item())
        opt.step()
    with torch.no_grad():
        adam_losses.append(losses(adam_model, x, eps, prior, cfg.alpha, cfg.lam)["total"].item())
    assert adam_losses[0] == out["total"].item()

    tensors = dict(weights32)
    tensors.update(x=x32, eps=eps32, prior=prior32)
    for key in ("mu", "logvar", "z", "logits", "recon", "kl", "mmd", "total"):
        tensors[key] = out[key].detach()
    tensors.update({"grad." + name: g for name, g in grads.items()})
    tensors["adam_losses"] = torch.tensor(adam_losses, dtype=torch.float64)

    metadata = {
        "format": "infovae-debug-state", "version": "1",
        "hidden": f"{cfg.h1},{cfg.h2}", "latent": str(cfg.z), "batch": str(cfg.batch),
        "prior_samples": str(cfg.prior_samples), "alpha": f"{cfg.alpha:g}", "lambda": f"{cfg.lam:g}",
        "kernel": "imq", "scales": ",".join(f"{s:g}" for s in IMQ_SCALES), "estimator": "unbiased",
        "lr": f"{cfg.lr:g}", "betas": "0.9,0.999", "adam_eps": "1e-08", "adam_steps": str(ADAM_STEPS),
        "seed": str(cfg.seed), "data": f"fashion-mnist train-images-idx3-ubyte, first {cfg.batch} images, /255",
        "torch": torch.__version__,
    }
    write_safetensors(cfg.out, tensors, metadata)

    back, back_meta, header_len = read_safetensors(cfg.out)
    assert back_meta == metadata
    assert list(back) == list(tensors)
    for name, t in tensors.items():
        assert back[name].dtype == t.dtype and back[name].shape == t.shape, name
        assert torch.equal(back[name], t.detach()), name

    size = os.path.getsize(cfg.out)
    with open(cfg.out, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"wrote {cfg.out}: {size} bytes ({size / 2**20:.2f} MiB), header {header_len} bytes, "
          f"{len(tensors)} tensors, sha256 {digest[:16]}, torch {torch.__version__}")
    print(f"config: hidden {cfg.h1},{cfg.h2}  latent {cfg.z}  batch {cfg.batch}  prior {cfg.prior_samples}  "
          f"alpha {cfg.alpha:g}  lambda {cfg.lam:g}  lr {cfg.lr:g}  seed {cfg.seed}")
    for key in ("recon", "kl", "mmd", "total"):
        print(f"  {key:6s} = {out[key].item():.17g}")
    print("  adam_losses = " + ", ".join(f"{v:.17g}" for v in adam_losses))
    print(f"checks: read-back bit-exact; mmd vs loops {abs(loop_mmd - out['mmd'].item()):.1e}; "
          f"finite-difference worst rel err {fd_worst:.1e}")


if __name__ == "__main__":
    main()
