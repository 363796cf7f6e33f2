#!/usr/bin/env bash
# The main job on the embedded default: builds, then runs squeeze-compress on the sample.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh
out=build/samples
mkdir -p "$out"
build/samples/make_demo_model "$out/demo.onnx" "$out/demo.png" "$out/demo_labels.txt"
build/cli/squeeze-compress info "$out/demo.onnx"
build/cli/squeeze-compress run "$out/demo.onnx" "$out/demo.png" --labels "$out/demo_labels.txt" --top 3
