#!/usr/bin/env python3
"""Side-by-side markdown table of anchor runs.

Usage: python3 anchors/summarize.py NAME=results-a.jsonl NAME=results-b.jsonl ...
Each file is the JSON-lines output of one anchor run (any anchor that writes the same keys).
"""
import json
import sys

# metric -> (fields naming the case, field holding the value, unit)
MEASURES = {
    "gemm": (["n"], "gflops", "GFLOP/s"),
    "sqdist": (["n", "d"], "ms", "ms"),
    "mmd_fwd_bwd": (["n", "d"], "ms", "ms"),
    "train_step": (["batch"], "ms", "ms"),
    "epoch": (["batch"], "seconds", "s"),
    "eval": (["epoch"], "recon", "test recon BCE/image"),
    "train": (["epochs"], None, None),
}
TRAIN_FIELDS = [("train_seconds", "s"), ("recon", "BCE/image"), ("kl", ""), ("mmd", ""), ("total", "")]


def rows_of(path):
    rows = {}
    with open(path) as f:
        for line in f:
            rec = json.loads(line)
            metric = rec["metric"]
            if metric == "env":
                rows[("threads", "")] = rec["threads"]
            elif metric == "epoch":
                rows[(f"M5 epoch batch {rec['batch']}", "s")] = rec["seconds"]
                rows[(f"M5 epoch batch {rec['batch']}", "images/s")] = rec["images_per_s"]
            elif metric == "train":
                for field, unit in TRAIN_FIELDS:
                    rows[(f"M6 {rec['epochs']} epochs {field}", unit)] = rec[field]
            elif metric in MEASURES:
                keys, value, unit = MEASURES[metric]
                case = " ".join(f"{k}={rec[k]}" for k in keys)
                rows[(f"{metric} {case}", unit)] = rec[value]
    return rows


def fmt(v):
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def main(args):
    runs = [(a.split("=", 1) if "=" in a else (a, a)) for a in args]
    tables = [(name, rows_of(path)) for name, path in runs]
    keys = []
    for _, rows in tables:
        keys += [k for k in rows if k not in keys]
    print("| measurement | unit | " + " | ".join(name for name, _ in tables) + " |")
    print("|---|---|" + "---:|" * len(tables))
    for key in keys:
        print(f"| {key[0]} | {key[1]} | " + " | ".join(fmt(rows.get(key, "")) for _, rows in tables) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
