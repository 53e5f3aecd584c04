#!/usr/bin/env python3
"""The cost model of data-parallel training in the README ("Training on several machines").

Per step on N nodes with a global batch of B rows (b = B/N per rank), one rank per node:
  compute  = c0 + k*b                    the step on b rows, fitted to our measured step times (README, Performance)
           + mmd(B) - mmd(b)             every rank computes the MMD^2 of the whole batch, not of its b rows
  comm     = 2(N-1)/N * G/BW + 2(N-1)*a  ring allreduce of the G bytes of gradients
           + (N-1)/N * 2*B*Z*4/BW + 2*log2(N)*a     all-gather of z and the prior samples (2*B*Z floats)
           + (1 + L)*log2(N)*a           the loss terms and, for the conv net, sync batch norm's L = 14 statistics
Speed-up = step(B on 1 node) / step(b on N nodes); efficiency = speed-up / N. "b*" is the rows per rank below which
communication takes longer than the step's own compute (c0 + k*b).
"""
import math

# Measured here: MLP step on 2 threads at batch 256 / 1024: 8.5 / 32.0 ms (M4); conv training 2,950 images/s
# (86.8 ms per 256 rows, 10-epoch run); MMD^2 forward + backward, Z = 32, n = 256 / 1024 / 4096: 0.18 / 2.1 / 29 ms
# (M3).
MODELS = {"MLP": dict(G=4.37e6, c0=8.5 - 256 * (32.0 - 8.5) / 768, k=(32.0 - 8.5) / 768, L=0),
          "conv": dict(G=1.65e6, c0=0.5, k=(86.8 - 0.5) / 256, L=14)}
NETS = {"100 Gb/s Ethernet": dict(bw=12.5e9, a=10e-6), "200 Gb/s InfiniBand": dict(bw=25e9, a=1.5e-6)}
Z = 32


def mmd(n):
    """ms for MMD^2 forward + backward of n samples: through the measured points, n^2 below 256."""
    if n <= 256:
        return 0.18 * (n / 256) ** 2
    if n <= 1024:
        return 0.18 * (n / 256) ** math.log(2.1 / 0.18, 4)
    return 2.1 * (n / 1024) ** math.log(29 / 2.1, 4)


def comm(m, net, n, batch):
    if n == 1:
        return 0.0
    bw, a = NETS[net]["bw"], NETS[net]["a"]
    ring = 2 * (n - 1) / n * MODELS[m]["G"] / bw + 2 * (n - 1) * a
    gather = (n - 1) / n * 2 * batch * Z * 4 / bw + 2 * math.log2(n) * a
    small = (1 + MODELS[m]["L"]) * math.log2(n) * a
    return 1e3 * (ring + gather + small)


def compute(m, b, batch):
    return MODELS[m]["c0"] + MODELS[m]["k"] * b - mmd(b) + mmd(batch)


def main():
    for batch in (256, 4096):
        print(f"\nglobal batch {batch}: efficiency (communication ms per step)")
        print("| nodes | " + " | ".join(f"{m}, {net}" for m in MODELS for net in NETS) + " |")
        print("|---:|" + "---:|" * (len(MODELS) * len(NETS)))
        for n in (2, 4, 8, 16, 32, 64):
            cells = []
            for m in MODELS:
                for net in NETS:
                    t1 = compute(m, batch, batch)
                    tn = compute(m, batch / n, batch) + comm(m, net, n, batch)
                    cells.append(f"{100 * t1 / (n * tn):.0f} % ({comm(m, net, n, batch):.2f})")
            print(f"| {n} | " + " | ".join(cells) + " |")
    print("\nrows per rank below which communication dominates (b*: c0 + k*b = comm, global batch N*b)")
    print("| nodes | " + " | ".join(f"{m}, {net}" for m in MODELS for net in NETS) + " |")
    print("|---:|" + "---:|" * (len(MODELS) * len(NETS)))
    for n in (2, 4, 8, 16, 32, 64):
        cells = []
        for m in MODELS:
            for net in NETS:
                b = 1
                while b < 100000 and MODELS[m]["c0"] + MODELS[m]["k"] * b < comm(m, net, n, n * b):
                    b += 1
                cells.append(str(b - 1 if b > 1 else 0))
        print(f"| {n} | " + " | ".join(cells) + " |")
    sizes = ", ".join(f"B = {b}: {mmd(b):.1f} ms" for b in (256, 1024, 4096, 16384))
    print("\nMMD^2 of the global batch, per step on every rank: " + sizes)


if __name__ == "__main__":
    main()
