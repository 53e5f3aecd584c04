#!/usr/bin/env python3
"""gpu-check's summary.md: ours next to PyTorch's, with the targets of issue #13 / docs/benchmarks.md.

Usage: summary.py OUTDIR [--tiny]. Reads what gpu-check wrote there (phases.jsonl, doctor.jsonl, train.jsonl,
bench.jsonl, pytorch.jsonl) and prints markdown; any file may be missing or cut short (a phase that was stopped).
Python 3 standard library only.
"""
import json
import os
import sys

# The CPU run with the same seed, from the README (seed 0, 10 epochs, AVX-512 GEMM; 254.1 with AVX2): the reference
# for the test total when this machine's own --device cpu run did not finish.
README_CPU_TOTAL = {"AVX-512": 252.0, "AVX2": 254.1}
README_CPU_STEP_MS = 8.5   # M4 at batch 256, 2 vCPU Zen 5 (README, 2026-11-24)


def read_jsonl(out, name):
    rows = []
    try:
        with open(os.path.join(out, name)) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError:
                        pass   # a line cut short by a stop
    except OSError:
        pass
    return rows


def fmt(v, digits=3):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"
    return str(v)


def met(ok):
    return "—" if ok is None else ("**met**" if ok else "**missed**")


def doctor_runs(rows):
    """doctor.jsonl holds one or more runs, each a device line followed by its op lines."""
    runs = []
    for r in rows:
        if r.get("kind") == "device":
            runs.append((r, []))
        elif r.get("kind") == "op" and runs:
            runs[-1][1].append(r)
    return runs


def pick(rows, metric, **keys):
    for r in rows:
        if r.get("metric") == metric and all(r.get(k) == v for k, v in keys.items()):
            return r
    return None


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def main():
    out = sys.argv[1]
    tiny = "--tiny" in sys.argv[2:]
    phases = read_jsonl(out, "phases.jsonl")
    doctor = doctor_runs(read_jsonl(out, "doctor.jsonl"))
    train = read_jsonl(out, "train.jsonl")
    ours = [r for r in read_jsonl(out, "bench.jsonl") if r.get("device") != "cpu"]
    ours_cpu = [r for r in read_jsonl(out, "bench.jsonl") if r.get("device") == "cpu"]
    torch = read_jsonl(out, "pytorch.jsonl")
    lines = []
    w = lines.append

    dev = doctor[-1][0] if doctor else {}
    env = pick(torch, "env") or {}
    title = dev.get("name") or "device unknown (the doctor did not start)"
    w(f"# gpu-check: {title}" + (" — tiny sizes on ILGPU's CPU accelerator" if tiny else ""))
    w("")
    if tiny:
        w("A plumbing run: every phase at tiny sizes on `ilgpu-cpu` (the PyTorch anchor on the CPU, if torch is there). "
          "The targets below are for the GPU run; here they show that each figure is found, not that it is met.")
        w("")
    facts = [f"driver {dev.get('driver')}" if dev.get("driver") else None,
             f"compute {dev.get('compute_capability')}" if dev.get("compute_capability") else None,
             f"PTX {dev.get('ptx_isa')} {dev.get('ptx_target')}" if dev.get("ptx_isa") else None,
             f"{dev.get('multiprocessors')} multiprocessors" if dev.get("multiprocessors") else None,
             f"ILGPU {dev.get('ilgpu')} (math mode {dev.get('math_mode')})" if dev.get("ilgpu") else None,
             f"host {dev.get('cpu')}, {dev.get('cpu_isa')}" if dev.get("cpu") else None,
             f"torch {env.get('torch')} on {env.get('gpu') or env.get('device')}" if env else None,
             f"date {env.get('date')}" if env.get("date") else None]
    w("; ".join(f for f in facts if f) + ".")
    w("")

    w("## Phases")
    w("")
    w("| phase | status | exit | seconds | limit | note |")
    w("|---|---|---:|---:|---:|---|")
    for p in phases:
        w(f"| {p.get('phase')} | {p.get('status')} | {fmt(p.get('rc'))} | {fmt(p.get('seconds'))} | {fmt(p.get('limit'))} | {p.get('note') or ''} |")
    w("")

    w("## Correctness: `infovae doctor` against the SIMD CPU backend")
    w("")
    for d, ops in doctor:
        bad = [o for o in ops if not o.get("ok")]
        worst = max((o for o in ops if o.get("err_ratio") is not None), key=lambda o: o["err_ratio"], default=None)
        w(f"- {d.get('sizes')} sizes on {d.get('device')}: {len(ops)} checks, {len(ops) - len(bad)} within tolerance, {len(bad)} not"
          + (f"; largest error / tolerance {worst['err_ratio']:.3g} ({worst['op']} {worst['case']})" if worst else ""))
        for o in bad[:40]:
            w(f"  - **{o['op']} {o['case']}**: err/tol {fmt(o.get('err_ratio'))}, {o.get('error') or o.get('worst')}")
        launch = next((o for o in ops if o["op"] == "fill" and o["case"].startswith("n=1 ")), None)
        if launch and launch.get("ms") is not None:
            w(f"  - one launch plus its share of a wait (fill of one element, blocks of {launch.get('calls_per_rep')}): {launch['ms'] * 1e3:.1f} µs")
    if not doctor:
        w("- no doctor output")
    w("")

    # ---- targets ----
    step = pick(ours, "train_step", batch=256)
    step_t = pick(torch, "train_step", batch=256)
    cpu_step = pick(ours_cpu, "train_step", batch=256) or pick(ours_cpu, "train_step")
    mmd = pick(ours, "mmd_fwd_bwd", n=4096, d=32)
    mmd_t = pick(torch, "mmd_fwd_bwd", n=4096, d=32)
    gemm = pick(ours, "gemm", n=4096)
    gemm_t = pick(torch, "gemm", n=4096)
    walls = {r["run"]: r for r in train if r.get("kind") == "wall"}
    epochs = {}
    for r in train:
        if r.get("kind") == "epoch":
            epochs[r["run"]] = r
    torch_train = pick(torch, "train")

    w("## Targets (ours and PyTorch-CUDA on the same GPU, FP32, TF32 off)")
    w("")
    w("| case | ours | PyTorch | ours / PyTorch | target | |")
    w("|---|---:|---:|---:|---|---|")
    if step or step_t:
        r = ratio(step and step["ms"], step_t and step_t["ms"])
        cpu_ms = cpu_step["ms"] if cpu_step else None
        speedup = ratio(cpu_ms, step and step["ms"])
        ok = None if r is None or speedup is None else (r <= 0.7 and speedup >= 10)
        w(f"| MLP training step, batch 256 | {fmt(step and step['ms'])} ms | {fmt(step_t and step_t['ms'])} ms | {fmt(r)} "
          f"| ≤ 0.7× PyTorch, and ≥ 10× our 2-thread CPU step ({fmt(cpu_ms)} ms on this host: {fmt(speedup)}×; "
          f"{README_CPU_STEP_MS} ms on the 2-vCPU VM: {fmt(ratio(README_CPU_STEP_MS, step and step['ms']))}×) | {met(ok)} |")
    if mmd or mmd_t:
        r = ratio(mmd and mmd["ms"], mmd_t and mmd_t["ms"])
        w(f"| MMD² fwd + bwd, n = 4096, d = 32 | {fmt(mmd and mmd['ms'])} ms | {fmt(mmd_t and mmd_t['ms'])} ms | {fmt(r)} | ≤ 0.2× PyTorch | {met(None if r is None else r <= 0.2)} |")
    if gemm or gemm_t:
        r = ratio(gemm and gemm["gflops"], gemm_t and gemm_t["gflops"])
        w(f"| GEMM N = 4096 | {fmt(gemm and gemm['gflops'])} GFLOP/s | {fmt(gemm_t and gemm_t['gflops'])} GFLOP/s | {fmt(r)} (throughput) "
          f"| ≥ 40 % of torch.mm | {met(None if r is None else r >= 0.4)} |")
    mlp = walls.get("mlp")
    if mlp or torch_train:
        ours_s = mlp["wall_s"] if mlp and mlp.get("rc") == 0 else None
        torch_s = torch_train.get("train_seconds") if torch_train else None
        w(f"| 10 MLP epochs, wall, test evaluation included | {fmt(ours_s)} s (process start and data load included) "
          f"| {fmt(torch_s)} s (training only) | {fmt(ratio(ours_s, torch_s))} | ≤ 10 s | {met(None if ours_s is None or tiny else ours_s <= 10)} |")
    if "mlp" in epochs:
        total = epochs["mlp"].get("test_loss")
        ref = epochs.get("mlp-cpu", {}).get("test_loss")
        src = "this host's --device cpu run"
        if ref is None and not tiny:
            ref, src = README_CPU_TOTAL.get(dev.get("cpu_isa")), f"the README's CPU run ({dev.get('cpu_isa')})"
        diff = abs(total - ref) / abs(ref) if total is not None and ref else None
        t_total = torch_train.get("total") if torch_train else None
        w(f"| MLP test total after {epochs['mlp'].get('epoch')} epochs, seed 0 | {fmt(total, 5)} | {fmt(t_total, 5)} (device noise) "
          f"| — | within 1 % of {src}: {fmt(ref, 5)} ({'—' if diff is None else f'{100 * diff:.2f} %'}) | {met(None if diff is None else diff <= 0.01)} |")
    conv = walls.get("conv")
    if conv:
        conv_step = pick(ours, "conv_step")
        n_ep = epochs.get("conv", {}).get("epoch") or 2
        est = conv["wall_s"] * 10 / n_ep if conv.get("rc") == 0 else None
        per_step = f"; the conv step alone: {fmt(conv_step['ms'])} ms × 2,350 steps = {fmt(conv_step['ms'] * 2.35)} s" if conv_step else ""
        w(f"| 10 conv epochs, wall | ≈ {fmt(est)} s ({n_ep} epochs took {fmt(conv['wall_s'])} s, scaled; an upper bound{per_step}) | — | — "
          f"| ≤ 60 s | {met(None if est is None or tiny else est <= 60)} |")
    w("")

    # ---- every timing ----
    w("## All timings (median ms unless said)")
    w("")
    w("| metric | case | ours | PyTorch | ours / PyTorch |")
    w("|---|---|---:|---:|---:|")

    def row(metric, case, a, b, unit=""):
        w(f"| {metric} | {case} | {fmt(a)}{unit} | {fmt(b)}{unit} | {fmt(ratio(a, b))} |")

    sizes = sorted({r["n"] for r in ours + torch if r.get("metric") == "gemm"})
    for n in sizes:
        a, b = pick(ours, "gemm", n=n), pick(torch, "gemm", n=n)
        row("gemm", f"N = {n} (GFLOP/s)", a and a["gflops"], b and b["gflops"])
    for n, d in sorted({(r["n"], r["d"]) for r in ours + torch if r.get("metric") == "mmd_fwd_bwd"}):
        a, b = pick(ours, "mmd_fwd_bwd", n=n, d=d), pick(torch, "mmd_fwd_bwd", n=n, d=d)
        row("mmd_fwd_bwd", f"n = {n}, d = {d}", a and a["ms"], b and b["ms"])
    for n, d in sorted({(r["n"], r["d"]) for r in torch if r.get("metric") == "sqdist"}):
        b = pick(torch, "sqdist", n=n, d=d)
        row("sqdist", f"n = {n}, d = {d} (PyTorch only; ours is fused into the MMD)", None, b and b["ms"])
    for bt in sorted({r["batch"] for r in ours + torch if r.get("metric") == "train_step"}):
        a, b = pick(ours, "train_step", batch=bt), pick(torch, "train_step", batch=bt)
        row("train_step", f"batch {bt}", a and a["ms"], b and b["ms"])
    for r in ours_cpu:
        if r.get("metric") == "train_step":
            row("train_step", f"batch {r['batch']}, ours on the CPU, {cpu_threads(ours_cpu)} threads", r["ms"], None)
    a, b = pick(ours, "epoch"), pick(torch, "epoch")
    if a or b:
        row("epoch", "batch 256, fresh model (s)", a and a["seconds"], b and b["seconds"])
    a = pick(ours, "conv_step")
    if a:
        row("conv_step", f"batch {a['batch']} (no PyTorch peer)", a["ms"], None)
    w("")
    w("Raw data: doctor.jsonl, train.jsonl, bench.jsonl (ours), pytorch.jsonl (the anchor); the machine: env.txt; all output: log.txt.")
    print("\n".join(lines))


def cpu_threads(rows):
    env = pick(rows, "env")
    return (env or {}).get("description", {}).get("threads", "?")


if __name__ == "__main__":
    main()
