#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, builds, then compresses the
# committed Fashion-MNIST SqueezeNet with retraining and prints the paper-style table.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== installing dependencies and building" >&2
SQZ_TARGETS="compress_fashion squeeze-compress" bash scripts/build.sh
echo "== Deep Compression of samples/fashion_squeezenet.onnx" >&2
build/samples/compress_fashion --model samples/fashion_squeezenet.onnx --out build/samples --threads "$(nproc)"
