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
for t in 1 2; do
  ort=$(node bench/ort/ort_bench.js "$model/squeezenet_v1.0_dc.onnx" "$t" 50)
  ours=$(build/cli/squeeze-compress bench "$sqz" --threads "$t" --runs 50 | awk '/^median/ {print $2}')
  dense=$(build/cli/squeeze-compress bench "$model/squeezenet_v1.0_dc.onnx" --threads "$t" --runs 50 --kernels dense | awk '/^median/ {print $2}')
  ort_ms=$(echo "$ort" | sed -E 's/.*median ([0-9.]+) ms.*/\1/')
  echo "$ort"
  printf 'squeeze-compress threads %d: compressed .sqz median %s ms, dense ONNX median %s ms\n' "$t" "$ours" "$dense"
  awk -v a="$ours" -v b="$ort_ms" -v t="$t" 'BEGIN {printf "ratio (compressed / onnxruntime), %d thread(s): %.2fx\n", t, a / b}'
done
