#!/usr/bin/env bash
# Installs the ONNX Runtime peer (npm onnxruntime-node, pinned in package.json) into
# bench/ort/node_modules once. Its callers (bench/peer.sh and the tests that use ONNX Runtime
# as a reference) may run at the same time under `ctest -j`: they take a lock, and the first
# installs while the others wait, so none runs against a half-written node_modules. A marker
# written after npm returns tells a finished install from an interrupted one.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
command -v npm >/dev/null || { echo "bench/ort/install.sh: npm is needed (scripts/install-deps.sh --tests)" >&2; exit 1; }
exec 9>"$dir/.install.lock"
flock 9
if [ ! -f "$dir/node_modules/.squeeze-compress-installed" ]; then
  # --ignore-scripts: the package ships its CPU build; its install script only fetches GPU ones.
  (cd "$dir" && npm install --ignore-scripts --no-audit --no-fund --silent >/dev/null) ||
    { echo "bench/ort/install.sh: npm install of onnxruntime-node failed" >&2; exit 1; }
  touch "$dir/node_modules/.squeeze-compress-installed"
fi
