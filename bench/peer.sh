#!/usr/bin/env bash
# Runs SqueezeNet v1.0 dense in ONNX Runtime (the npm package's CPU build) and our runtime on
# the compressed release, in one run, and prints the latency ratios.
# usage: bench/peer.sh [SHARED_DIR]   (default ../shared)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${1:-../shared}
model=$shared/models/squeezenet_v1.0_deep_compression
command -v node >/dev/null || { echo "peer.sh: node (Node.js) is needed for the ONNX Runtime peer" >&2; exit 1; }
if [ ! -d bench/ort/node_modules/onnxruntime-node ]; then
  # --ignore-scripts: the package ships its CPU build; its install script only fetches GPU ones.
  (cd bench/ort && npm install --ignore-scripts --no-audit --no-fund --silent >/dev/null)
fi
bash scripts/build.sh >/dev/null
sqz=build/bench-release.sqz
build/cli/squeeze-compress encode "$model/compressed_SqueezeNet.net" --prototxt "$model/SqueezeNet_deploy.prototxt" \
  -o "$sqz" --force -q >/dev/null
# The two engines alternate for ROUNDS rounds of 30 runs each, so that a slow spell of a shared
# machine hits both; the figure is the median of the per-round ratios.
rounds=${ROUNDS:-5}
for t in 1 2; do
  ratios=()
  for r in $(seq "$rounds"); do
    ort=$(node bench/ort/ort_bench.js "$model/squeezenet_v1.0_dc.onnx" "$t" 30)
    ort_ms=$(echo "$ort" | sed -E 's/.*median ([0-9.]+) ms.*/\1/')
    ours=$(build/cli/squeeze-compress bench "$sqz" --threads "$t" --runs 30 | awk '/^median/ {print $2}')
    ratio=$(awk -v a="$ours" -v b="$ort_ms" 'BEGIN {printf "%.3f", a / b}')
    ratios+=("$ratio")
    printf 'threads %d round %d: onnxruntime %s ms, squeeze-compress .sqz %s ms, ratio %s\n' "$t" "$r" "$ort_ms" "$ours" "$ratio"
  done
  dense=$(build/cli/squeeze-compress bench "$model/squeezenet_v1.0_dc.onnx" --threads "$t" --runs 30 --kernels dense | awk '/^median/ {print $2}')
  printf 'squeeze-compress threads %d: dense ONNX median %s ms (for reference)\n' "$t" "$dense"
  median=$(printf '%s\n' "${ratios[@]}" | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}')
  printf 'ratio (compressed / onnxruntime), %d thread(s): %.2fx (median of %d rounds)\n' "$t" "$median" "$rounds"
done
