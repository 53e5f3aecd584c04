#!/usr/bin/python3
"""Conv InfoVAE debug state: the PyTorch twin of `--arch conv`, one batch, every intermediate saved for the C# engine.

The twin (ConvInfoVAE below) is the module whose state dict `infovae export` writes for a conv run: same names,
PyTorch's own NCHW layouts. Writes conv_debug_state.safetensors next to this script with
  F32: the initial state dict (weights, biases, BN weight/bias/running_mean/running_var; I64 num_batches_tracked),
       x (B, 784), eps (B, Z), prior (M, Z);
  F64, training mode (batch statistics; float64 model): mu, logvar, z (B, Z), logits (B, 784), recon, kl, mmd, total
       (shape []), grad.<name> for every parameter; after.<bn>.running_mean/running_var: the running averages after
       that one training forward;
  F64, evaluation mode right after it (model.eval(): the running averages): eval.mu, eval.logvar, eval.logits,
       eval.recon, eval.kl, eval.mmd, eval.total;
  F64 adam_losses (4,): the training-mode total before each of 3 Adam steps and after the last.
Metadata: the config, and init_sum.<seed>: the sum of all initial parameters of the default `--arch conv` model
(channels 32,64,128, latent 32) after torch.manual_seed(seed), for seeds 0, 1, 2.

Run with Debian's PyTorch (apt-get install python3-torch dataset-fashion-mnist):
  /usr/bin/python3 Tests/Data/make_conv_debug_state.py
It borrows the data reader, the MMD and the safetensors writer of make_debug_state.py (same folder).

  /usr/bin/python3 Tests/Data/make_conv_debug_state.py --check-export conv.safetensors [t10k-images-idx3-ubyte.gz]
loads the output of `infovae export` for a conv run into the twin instead, and prints its test-set terms.
"""
import argparse
import copy
import hashlib
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_debug_state as mds  # noqa: E402

mds.DTYPES[torch.int64] = "I64"
mds.TORCH_DTYPES["I64"] = torch.int64

SIDE = 28
ADAM_STEPS = 3


class ConvInfoVAE(nn.Module):
    """Encoder: [Conv (no bias), BN, LeakyReLU(0.2)] x 3 (28 -> 14 -> 7 -> 4), Flatten, Linear -> 2Z.
    Decoder: Linear (no bias) -> c3*4*4, Unflatten, BN, LeakyReLU, [ConvT (no bias), BN, LeakyReLU] x 2 (4 -> 7 -> 14),
    ConvT -> (N, 1, 28, 28) logits. Construction order = init order under manual_seed."""

    def __init__(self, c1, c2, c3, z_dim):
        super().__init__()
        self.z_dim = z_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 4, 2, 1, bias=False), nn.BatchNorm2d(c1), nn.LeakyReLU(0.2),
            nn.Conv2d(c1, c2, 4, 2, 1, bias=False), nn.BatchNorm2d(c2), nn.LeakyReLU(0.2),
            nn.Conv2d(c2, c3, 3, 2, 1, bias=False), nn.BatchNorm2d(c3), nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(c3 * 16, 2 * z_dim))
        self.decoder = nn.Sequential(
            nn.Linear(z_dim, c3 * 16, bias=False), nn.Unflatten(1, (c3, 4, 4)), nn.BatchNorm2d(c3), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(c3, c2, 3, 2, 1, bias=False), nn.BatchNorm2d(c2), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(c2, c1, 4, 2, 1, bias=False), nn.BatchNorm2d(c1), nn.LeakyReLU(0.2),
            nn.ConvTranspose2d(c1, 1, 4, 2, 1))

    def forward(self, x, eps):
        b = x.shape[0]
        h = self.encoder(x.reshape(b, 1, SIDE, SIDE))         # (B, 2Z)
        mu, logvar = h[:, :self.z_dim], h[:, self.z_dim:]
        z = mu + torch.exp(0.5 * logvar) * eps
        return self.decoder(z).reshape(b, SIDE * SIDE), mu, logvar, z


def losses(model, x, eps, prior, alpha, lam):
    logits, mu, logvar, z = model(x, eps)
    b = x.shape[0]
    recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / b
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / b
    m = mds.mmd(z, prior)
    total = recon + (1 - alpha) * kl + (alpha + lam - 1) * m
    return dict(logits=logits, mu=mu, logvar=logvar, z=z, recon=recon, kl=kl, mmd=m, total=total)


def check_gradients(model, x, eps, prior, alpha, lam, grads, per_tensor=3, h=1e-6):
    """Central differences on a few entries of every parameter, float64, training mode: worst relative error.
    Training-mode outputs do not read the running averages, so the forwards here may update them."""
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
                worst = max(worst, abs(numeric - analytic) / max(1.0, abs(analytic)))
    return worst


def check_batch_norm(model, x, eps):
    """The first BN's training output written out from its definition, and its running update (momentum 0.1,
    unbiased variance), against nn.BatchNorm2d."""
    conv, bn = model.encoder[0], copy.deepcopy(model.encoder[1])
    with torch.no_grad():
        h = conv(x.reshape(-1, 1, SIDE, SIDE))
        mean = h.mean(dim=(0, 2, 3))
        var = h.var(dim=(0, 2, 3), unbiased=False)
        expect = (h - mean[None, :, None, None]) / torch.sqrt(var[None, :, None, None] + 1e-5)
        expect = expect * bn.weight[None, :, None, None] + bn.bias[None, :, None, None]
        rm, rv = bn.running_mean.clone(), bn.running_var.clone()
        bn.train()
        got = bn(h)
        n = h.numel() // h.shape[1]
        assert torch.allclose(got, expect, rtol=1e-10, atol=1e-10)
        assert torch.allclose(bn.running_mean, 0.9 * rm + 0.1 * mean, rtol=1e-12, atol=1e-14)
        assert torch.allclose(bn.running_var, 0.9 * rv + 0.1 * var * n / (n - 1), rtol=1e-12, atol=1e-14)


def init_sums(seeds, latent=32, channels=(32, 64, 128)):
    sums = {}
    for s in seeds:
        torch.manual_seed(s)
        m = ConvInfoVAE(*channels, latent)
        sums[s] = sum(float(p.detach().double().sum()) for p in m.parameters())
    return sums


def check_export(path, images):
    """Loads `infovae export` output of a conv run into the twin (strict: every key and shape) and prints the
    evaluation-mode test-set terms. KL depends on mu and logvar only, so it must equal `infovae eval`'s KL to float
    rounding; recon and MMD use PyTorch's noise, not ours, so they agree only to Monte Carlo error."""
    state, meta, _ = mds.read_safetensors(path)
    assert meta.get("model") == "infovae-conv", f"{path} is not an exported conv run ({meta.get('model')})"
    channels = [int(c) for c in meta["channels"].split(",")]
    latent = int(meta["latent"])
    model = ConvInfoVAE(*channels, latent)
    model.load_state_dict(state, strict=True)
    model.eval()
    x_all = mds.load_images(images, 10000)
    gen = torch.Generator().manual_seed(0)
    recon = kl = mmd = 0.0
    batches = 0
    with torch.no_grad():
        for s in range(0, x_all.shape[0], 1000):
            x = x_all[s:s + 1000]
            eps = torch.randn(x.shape[0], latent, generator=gen)
            prior = torch.randn(x.shape[0], latent, generator=gen)
            out = losses(model, x, eps, prior, 0.0, 1000.0)
            recon += out["recon"].item() * x.shape[0]
            kl += out["kl"].item() * x.shape[0]
            mmd += out["mmd"].item()
            batches += 1
    n = x_all.shape[0]
    recon, kl, mmd = recon / n, kl / n, mmd / batches
    print(f"{path}: loaded strictly into ConvInfoVAE({','.join(map(str, channels))}, latent {latent}); eval mode on "
          f"{n} test images: recon {recon:.3f}  kl {kl:.4f}  mmd {mmd:.6f}  total {recon + kl + 999 * mmd:.3f}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    if len(sys.argv) >= 3 and sys.argv[1] == "--check-export":
        images = sys.argv[3] if len(sys.argv) > 3 else "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
        check_export(sys.argv[2], images)
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(here, "conv_debug_state.safetensors"))
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--channels", default="4,6,8")
    ap.add_argument("--z", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--prior-samples", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=0.0)
    ap.add_argument("--lambda", dest="lam", type=float, default=1000.0)
    ap.add_argument("--lr", type=float, default=1e-3)
    cfg = ap.parse_args()
    torch.set_num_threads(1)
    channels = [int(c) for c in cfg.channels.split(",")]

    torch.manual_seed(cfg.seed)
    model32 = ConvInfoVAE(*channels, cfg.z)
    state32 = {name: t.detach().clone() for name, t in model32.state_dict().items()}

    gen = torch.Generator().manual_seed(cfg.seed)
    eps32 = torch.randn(cfg.batch, cfg.z, generator=gen, dtype=torch.float32)
    prior32 = torch.randn(cfg.prior_samples, cfg.z, generator=gen, dtype=torch.float32)
    x32 = mds.load_images(cfg.data, cfg.batch)
    x, eps, prior = x32.double(), eps32.double(), prior32.double()

    # One training-mode forward and backward in float64.
    model = copy.deepcopy(model32).double()
    model.train()
    check_batch_norm(copy.deepcopy(model), x, eps)
    out = losses(model, x, eps, prior, cfg.alpha, cfg.lam)
    out["total"].backward()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
    after = {name: t.detach().clone() for name, t in model.state_dict().items() if "running_" in name}
    assert all(int(t) == 1 for n, t in model.state_dict().items() if n.endswith("num_batches_tracked"))

    # Evaluation mode right after it: the running averages of that one forward.
    model.eval()
    with torch.no_grad():
        ev = losses(model, x, eps, prior, cfg.alpha, cfg.lam)

    loop_mmd = mds.mmd_by_loops(out["z"].detach(), prior)
    assert abs(loop_mmd - out["mmd"].item()) < 1e-12, (loop_mmd, out["mmd"].item())
    fd_model = copy.deepcopy(model32).double()
    fd_model.train()
    fd_worst = check_gradients(fd_model, x, eps, prior, cfg.alpha, cfg.lam, grads)
    assert fd_worst < 1e-5, f"finite differences disagree with autograd: {fd_worst:.3g}"

    adam_model = copy.deepcopy(model32).double()
    adam_model.train()
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

    tensors = dict(state32)
    tensors.update(x=x32, eps=eps32, prior=prior32)
    for key in ("mu", "logvar", "z", "logits", "recon", "kl", "mmd", "total"):
        tensors[key] = out[key].detach()
    tensors.update({"grad." + name: g for name, g in grads.items()})
    tensors.update({"after." + name: t for name, t in after.items()})
    for key in ("mu", "logvar", "logits", "recon", "kl", "mmd", "total"):
        tensors["eval." + key] = ev[key].detach()
    tensors["adam_losses"] = torch.tensor(adam_losses, dtype=torch.float64)

    # The writer keeps every tensor 8-aligned; the last bias (one float) can only go last.
    tensors = {k: v for k, v in tensors.items() if v.numel() * v.element_size() % 8 == 0} | \
              {k: v for k, v in tensors.items() if v.numel() * v.element_size() % 8 != 0}

    sums = init_sums([0, 1, 2])
    metadata = {
        "format": "infovae-conv-debug-state", "version": "1",
        "channels": cfg.channels, "latent": str(cfg.z), "batch": str(cfg.batch),
        "prior_samples": str(cfg.prior_samples), "alpha": f"{cfg.alpha:g}", "lambda": f"{cfg.lam:g}",
        "kernel": "imq", "scales": ",".join(f"{s:g}" for s in mds.IMQ_SCALES), "estimator": "unbiased",
        "lr": f"{cfg.lr:g}", "betas": "0.9,0.999", "adam_eps": "1e-08", "adam_steps": str(ADAM_STEPS),
        "bn_momentum": "0.1", "bn_eps": "1e-05", "leaky_slope": "0.2",
        "seed": str(cfg.seed), "data": f"fashion-mnist train-images-idx3-ubyte, first {cfg.batch} images, /255",
        "torch": torch.__version__,
    }
    metadata.update({f"init_sum.{s}": repr(v) for s, v in sums.items()})
    mds.write_safetensors(cfg.out, tensors, metadata)

    back, back_meta, header_len = mds.read_safetensors(cfg.out)
    assert back_meta == metadata and list(back) == list(tensors)
    for name, t in tensors.items():
        assert back[name].dtype == t.dtype and back[name].shape == t.shape and torch.equal(back[name], t.detach()), name

    # The file's initial state loads into a fresh twin, strictly (every key, every shape).
    fresh = ConvInfoVAE(*channels, cfg.z)
    fresh.load_state_dict({k: back[k] for k in state32}, strict=True)

    size = os.path.getsize(cfg.out)
    with open(cfg.out, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"wrote {cfg.out}: {size} bytes ({size / 2**20:.2f} MiB), header {header_len} bytes, "
          f"{len(tensors)} tensors, sha256 {digest[:16]}, torch {torch.__version__}")
    print(f"config: channels {cfg.channels}  latent {cfg.z}  batch {cfg.batch}  prior {cfg.prior_samples}  "
          f"alpha {cfg.alpha:g}  lambda {cfg.lam:g}  lr {cfg.lr:g}  seed {cfg.seed}")
    for key in ("recon", "kl", "mmd", "total"):
        print(f"  train {key:6s} = {out[key].item():.17g}   eval {ev[key].item():.17g}")
    print("  adam_losses = " + ", ".join(f"{v:.17g}" for v in adam_losses))
    print("  default conv model init sums: " + ", ".join(f"seed {s}: {v!r}" for s, v in sums.items()))
    print(f"checks: read-back bit-exact; strict load_state_dict; BN by hand; mmd vs loops "
          f"{abs(loop_mmd - out['mmd'].item()):.1e}; finite-difference worst rel err {fd_worst:.1e}")


if __name__ == "__main__":
    main()
