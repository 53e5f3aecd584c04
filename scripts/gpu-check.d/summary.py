#!/usr/bin/env python3
"""gpu-check's summary.md: ours next to PyTorch's, with the targets of issue #13 / docs/benchmarks.md.

Usage: summary.py OUTDIR [--tiny]. Reads what gpu-check wrote there (phases.jsonl, doctor.jsonl, train.jsonl,
bench.jsonl, pytorch.jsonl) and prints markdown; any file may be missing or cut short (a phase that was stopped).
Python 3 standard library only.
"""
import json
import os
import sys

# The CPU run with the same seed, from the README (seed 0, 10 epochs; 252.0 with the AVX-512 GEMM, 254.1 with AVX2):
# the reference for the test total when this machine's own --device cpu run did not finish.
README_CPU_TOTAL = {"AVX-512": 252.0, "AVX2": 254.1}
README_CPU_STEP_MS = 8.5   # M4 at batch 256 on the 2-vCPU Zen 5 VM (README, 2026-11-24)


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


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def get(row, key):
    return row.get(key) if row else None


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


def header(w, dev, env, tiny):
    title = dev.get("name") or "device unknown (the doctor did not start)"
    w(f"# gpu-check: {title}" + (" — tiny sizes on ILGPU's CPU accelerator" if tiny else ""))
    w("")
    if tiny:
        w("A plumbing run: every phase at tiny sizes on `ilgpu-cpu` (the PyTorch anchor on the CPU, if torch is "
          "there). The targets below are for the GPU run; here they show that each figure is found, not that it is "
          "met.")
        w("")
    facts = [
        f"driver {dev.get('driver')}" if dev.get("driver") else None,
        f"compute {dev.get('compute_capability')}" if dev.get("compute_capability") else None,
        f"PTX {dev.get('ptx_isa')} {dev.get('ptx_target')}" if dev.get("ptx_isa") else None,
        f"{dev.get('multiprocessors')} multiprocessors" if dev.get("multiprocessors") else None,
        f"ILGPU {dev.get('ilgpu')} (math mode {dev.get('math_mode')})" if dev.get("ilgpu") else None,
        f"host {dev.get('cpu')}, {dev.get('cpu_isa')}" if dev.get("cpu") else None,
        f"torch {env.get('torch')} on {env.get('gpu') or env.get('device')}" if env else None,
        f"date {env.get('date')}" if env.get("date") else None,
    ]
    if any(facts):
        w("; ".join(f for f in facts if f) + ".")
        w("")


def phases_table(w, phases):
    w("## Phases")
    w("")
    w("| phase | status | exit | seconds | limit | note |")
    w("|---|---|---:|---:|---:|---|")
    for p in phases:
        w(f"| {p.get('phase')} | {p.get('status')} | {fmt(p.get('rc'))} | {fmt(p.get('seconds'))} "
          f"| {fmt(p.get('limit'))} | {p.get('note') or ''} |")
    w("")


def correctness(w, doctor):
    w("## Correctness: `infovae doctor` against the SIMD CPU backend")
    w("")
    for d, ops in doctor:
        bad = [o for o in ops if not o.get("ok")]
        rated = [o for o in ops if o.get("err_ratio") is not None]
        worst = max(rated, key=lambda o: o["err_ratio"], default=None)
        line = (f"- {d.get('sizes')} sizes on {d.get('device')}: {len(ops)} checks, {len(ops) - len(bad)} within "
                f"tolerance, {len(bad)} not")
        if worst:
            line += f"; largest error / tolerance {worst['err_ratio']:.3g} ({worst['op']} {worst['case']})"
        w(line)
        for o in bad[:40]:
            w(f"  - **{o['op']} {o['case']}**: err/tol {fmt(o.get('err_ratio'))}, {o.get('error') or o.get('worst')}")
        launch = next((o for o in ops if o["op"] == "fill" and o["case"].startswith("n=1 ")), None)
        if launch and launch.get("ms") is not None:
            w(f"  - one launch and its share of a wait (a one-element fill, {launch.get('calls_per_rep')} per wait): "
              f"{launch['ms'] * 1e3:.1f} µs")
    if not doctor:
        w("- no doctor output")
    w("")


def targets(w, dev, ours, ours_cpu, torch, train, tiny):
    walls = {r["run"]: r for r in train if r.get("kind") == "wall"}
    epochs = {r["run"]: r for r in train if r.get("kind") == "epoch"}   # the last epoch of each run
    torch_train = pick(torch, "train")
    w("## Targets (ours and PyTorch-CUDA on the same GPU, FP32, TF32 off)")
    w("")
    w("| case | ours | PyTorch | ours / PyTorch | target | |")
    w("|---|---:|---:|---:|---|---|")

    def row(case, a, b, r, target, ok):
        w(f"| {case} | {a} | {b} | {fmt(r)} | {target} | {met(ok)} |")

    step, step_t = pick(ours, "train_step", batch=256), pick(torch, "train_step", batch=256)
    cpu_step = pick(ours_cpu, "train_step", batch=256) or pick(ours_cpu, "train_step")
    if step or step_t:
        r = ratio(get(step, "ms"), get(step_t, "ms"))
        speedup = ratio(get(cpu_step, "ms"), get(step, "ms"))
        vm = ratio(README_CPU_STEP_MS, get(step, "ms"))
        ok = None if r is None or speedup is None else r <= 0.7 and speedup >= 10
        row("MLP training step, batch 256", f"{fmt(get(step, 'ms'))} ms", f"{fmt(get(step_t, 'ms'))} ms", r,
            f"≤ 0.7× PyTorch, and ≥ 10× faster than our 2-thread CPU step ({fmt(get(cpu_step, 'ms'))} ms on this "
            f"host: {fmt(speedup)}×; {README_CPU_STEP_MS} ms on the 2-vCPU VM: {fmt(vm)}×)", ok)
    mmd, mmd_t = pick(ours, "mmd_fwd_bwd", n=4096, d=32), pick(torch, "mmd_fwd_bwd", n=4096, d=32)
    if mmd or mmd_t:
        r = ratio(get(mmd, "ms"), get(mmd_t, "ms"))
        row("MMD² fwd + bwd, n = 4096, d = 32", f"{fmt(get(mmd, 'ms'))} ms", f"{fmt(get(mmd_t, 'ms'))} ms", r,
            "≤ 0.2× PyTorch", None if r is None else r <= 0.2)
    gemm, gemm_t = pick(ours, "gemm", n=4096), pick(torch, "gemm", n=4096)
    if gemm or gemm_t:
        r = ratio(get(gemm, "gflops"), get(gemm_t, "gflops"))
        row("GEMM N = 4096 (throughput)", f"{fmt(get(gemm, 'gflops'))} GFLOP/s",
            f"{fmt(get(gemm_t, 'gflops'))} GFLOP/s", r, "≥ 40 % of torch.mm", None if r is None else r >= 0.4)
    mlp = walls.get("mlp")
    if mlp or torch_train:
        ours_s = mlp["wall_s"] if mlp and mlp.get("rc") == 0 else None
        torch_s = get(torch_train, "train_seconds")
        n_ep = epochs.get("mlp", {}).get("epoch") or 10
        row(f"{n_ep} MLP epochs, wall, test evaluation included", f"{fmt(ours_s)} s (process start and data load too)",
            f"{fmt(torch_s)} s (training only)", ratio(ours_s, torch_s), "≤ 10 s",
            None if ours_s is None or tiny else ours_s <= 10)
    if "mlp" in epochs:
        total = epochs["mlp"].get("test_loss")
        ref, src = epochs.get("mlp-cpu", {}).get("test_loss"), "this host's --device cpu run"
        if ref is None and not tiny:
            ref, src = README_CPU_TOTAL.get(dev.get("cpu_isa")), f"the README's CPU run ({dev.get('cpu_isa')})"
        diff = abs(total - ref) / abs(ref) if total is not None and ref else None
        shown = "—" if diff is None else f"{100 * diff:.2f} %"
        row(f"MLP test total after {epochs['mlp'].get('epoch')} epochs, seed 0", fmt(total, 5),
            f"{fmt(get(torch_train, 'total'), 5)} (the device's own noise)", None,
            f"within 1 % of {src}: {fmt(ref, 5)} ({shown})", None if diff is None else diff <= 0.01)
    conv = walls.get("conv")
    if conv:
        n_ep = epochs.get("conv", {}).get("epoch") or 2
        est = conv["wall_s"] * 10 / n_ep if conv.get("rc") == 0 else None
        conv_step = pick(ours, "conv_step")
        alone = (f"; the conv step alone: {fmt(conv_step['ms'])} ms × 2,350 steps = "
                 f"{fmt(conv_step['ms'] * 2.35)} s" if conv_step and not tiny else "")
        row("10 conv epochs, wall", f"≈ {fmt(est)} s ({n_ep} epochs took {fmt(conv['wall_s'])} s, scaled: an upper "
            f"bound{alone})", "—", None, "≤ 60 s", None if est is None or tiny else est <= 60)
    w("")


def timings(w, ours, ours_cpu, torch):
    w("## All timings (median ms unless said)")
    w("")
    w("| metric | case | ours | PyTorch | ours / PyTorch |")
    w("|---|---|---:|---:|---:|")

    def row(metric, case, a, b):
        w(f"| {metric} | {case} | {fmt(a)} | {fmt(b)} | {fmt(ratio(a, b))} |")

    both = ours + torch
    for n in sorted({r["n"] for r in both if r.get("metric") == "gemm"}):
        row("gemm", f"N = {n} (GFLOP/s)", get(pick(ours, "gemm", n=n), "gflops"),
            get(pick(torch, "gemm", n=n), "gflops"))
    for n, d in sorted({(r["n"], r["d"]) for r in both if r.get("metric") == "mmd_fwd_bwd"}):
        row("mmd_fwd_bwd", f"n = {n}, d = {d}", get(pick(ours, "mmd_fwd_bwd", n=n, d=d), "ms"),
            get(pick(torch, "mmd_fwd_bwd", n=n, d=d), "ms"))
    for n, d in sorted({(r["n"], r["d"]) for r in torch if r.get("metric") == "sqdist"}):
        row("sqdist", f"n = {n}, d = {d} (PyTorch only: ours is fused into the MMD)", None,
            get(pick(torch, "sqdist", n=n, d=d), "ms"))
    for b in sorted({r["batch"] for r in both if r.get("metric") == "train_step"}):
        row("train_step", f"batch {b}", get(pick(ours, "train_step", batch=b), "ms"),
            get(pick(torch, "train_step", batch=b), "ms"))
    threads = get(get(pick(ours_cpu, "env"), "description"), "threads")
    for r in ours_cpu:
        if r.get("metric") == "train_step":
            row("train_step", f"batch {r['batch']}, ours on the CPU, {threads} threads", r["ms"], None)
    a, b = pick(ours, "epoch"), pick(torch, "epoch")
    if a or b:
        row("epoch", "batch 256, from a fresh model (s)", get(a, "seconds"), get(b, "seconds"))
    a = pick(ours, "conv_step")
    if a:
        row("conv_step", f"batch {a['batch']} (no PyTorch peer)", a["ms"], None)
    w("")


def main():
    out = sys.argv[1]
    tiny = "--tiny" in sys.argv[2:]
    doctor = doctor_runs(read_jsonl(out, "doctor.jsonl"))
    bench = read_jsonl(out, "bench.jsonl")
    ours = [r for r in bench if r.get("device") != "cpu"]
    ours_cpu = [r for r in bench if r.get("device") == "cpu"]
    torch = read_jsonl(out, "pytorch.jsonl")
    train = read_jsonl(out, "train.jsonl")
    lines = []
    w = lines.append
    header(w, doctor[-1][0] if doctor else {}, pick(torch, "env") or {}, tiny)
    phases_table(w, read_jsonl(out, "phases.jsonl"))
    correctness(w, doctor)
    targets(w, doctor[-1][0] if doctor else {}, ours, ours_cpu, torch, train, tiny)
    timings(w, ours, ours_cpu, torch)
    w("Raw data: doctor.jsonl, train.jsonl, bench.jsonl (ours), pytorch.jsonl (the anchor); the machine: env.txt; "
      "all output: log.txt.")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
