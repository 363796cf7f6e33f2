#!/usr/bin/env bash
# How much each engine slows when another core streams through memory (a noisy neighbour on a
# shared host): 1 thread, ours (the rule; and SQZ_ISA=avx2) and ONNX Runtime pinned to the
# first CPU, alternated for ROUNDS rounds without and with bench/stream_corunner writing through
# MIB MiB on the last CPU. Prints each engine's median of round medians in both states and the
# slowdown; an engine bound by memory traffic slows more than one bound by its FMAs.
# usage: bench/contention.sh [SHARED_DIR]   (ROUNDS=5, MIB=64 in the environment)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared}
model=$shared/models/squeezenet_v1.0_deep_compression
onnx=$model/squeezenet_v1.0_dc.onnx
source bench/peer_setup.sh contention.sh
rounds=$(count_setting ROUNDS "${ROUNDS:-5}")
mib=$(count_setting MIB "${MIB:-64}")
[ "$(nproc)" -ge 2 ] || { echo "contention.sh: needs 2 CPUs (one for the co-runner)" >&2; exit 1; }
peer_setup
# The first and the last CPU this script may run on (e.g. "0-1", "2,5,7"): the engines on one,
# the co-runner on the other.
allowed=$(taskset -pc $$ | sed -E 's/.*: *//')
first=$(echo "$allowed" | sed -E 's/^([0-9]+).*/\1/')
last=$(echo "$allowed" | sed -E 's/.*[-,]([0-9]+)$/\1/')
[ "$first" != "$last" ] || { echo "contention.sh: needs 2 CPUs it may run on, has $allowed" >&2; exit 1; }
corunner=""
trap '[ -n "$corunner" ] && kill "$corunner" 2>/dev/null; true' EXIT
"$tool" bench "$sqz" -v --runs 1 | grep -E '^(cpu|caches):'

declare -A times
for r in $(seq "$rounds"); do
  for state in quiet contended; do
    if [ "$state" = contended ]; then
      taskset -c "$last" build/bench/stream_corunner "$mib" & corunner=$!
      sleep 0.3
    fi
    ours=$(taskset -c "$first" "$tool" bench "$sqz" --threads 1 --runs 30 | awk '/^median/ {print $2}')
    avx2=$(SQZ_ISA=avx2 taskset -c "$first" "$tool" bench "$sqz" --threads 1 --runs 30 | awk '/^median/ {print $2}')
    ort=$(taskset -c "$first" node bench/ort/ort_bench.js "$onnx" 1 30 | sed -E 's/.*median ([0-9.]+) ms.*/\1/')
    if [ "$state" = contended ]; then kill "$corunner"; wait "$corunner" 2>/dev/null || true; corunner=""; fi
    printf 'round %d, %s: squeeze-compress %s ms, AVX2 %s ms, onnxruntime %s ms\n' "$r" "$state" "$ours" "$avx2" "$ort"
    times[ours,$state]+="$ours "; times[avx2,$state]+="$avx2 "; times[ort,$state]+="$ort "
  done
done
for engine in ours avx2 ort; do
  q=$(printf '%s\n' ${times[$engine,quiet]} | median)
  c=$(printf '%s\n' ${times[$engine,contended]} | median)
  awk -v e="$engine" -v q="$q" -v c="$c" -v m="$mib" 'BEGIN {
    name = e == "ours" ? "squeeze-compress" : e == "avx2" ? "squeeze-compress SQZ_ISA=avx2" : "onnxruntime"
    printf "%s: %.2f ms quiet, %.2f ms beside a %d MiB co-runner: %.2fx\n", name, q, c, m, c / q }'
done
