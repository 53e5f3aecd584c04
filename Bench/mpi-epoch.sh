#!/usr/bin/env bash
# Epoch time of one process with 2 threads against 2 MPI ranks with 1 thread each (README, "Training on several
# machines"). BenchmarkDotNet cannot sit under mpirun, so this times whole CLI runs: each configuration trains
# --epochs 1 and --epochs 2 (Fashion-MNIST, MLP defaults, seed 0, no pictures), and one epoch is the difference of the
# two wall times (start-up, data loading and MPI start cancel; the test-set evaluation and checkpoint of an epoch stay).
# Runs alternate between the configurations, REPEATS times. Usage: Bench/mpi-epoch.sh [REPEATS] [extra train flags]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}; shift || true
dll=Model/bin/Release/net10.0/infovae.dll
[ -f "$dll" ] || dotnet build Model -c Release >/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
wall() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc; }
for i in $(seq 1 "$repeats"); do
  for epochs in 1 2; do
    flags=(train --epochs "$epochs" --seed 0 --no-pictures)
    one=$(wall dotnet "$dll" "${flags[@]}" --threads 2 --out "$out/one-$i-$epochs" "$@")
    two=$(wall mpirun --allow-run-as-root --oversubscribe -np 2 dotnet "$dll" "${flags[@]}" --threads 1 \
      --out "$out/two-$i-$epochs" "$@")
    load=$(cut -d' ' -f1 /proc/loadavg)
    echo "repeat $i, $epochs epoch(s): 1 rank x 2 threads ${one} s, 2 ranks x 1 thread ${two} s (load $load)"
  done
done
