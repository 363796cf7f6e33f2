#!/usr/bin/env bash
# The main job on the embedded default: installs what is missing, builds, then compresses the
# committed Fashion-MNIST SqueezeNet with retraining and prints the paper-style table.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== installing dependencies and building" >&2
# Only the sample's program: the CLI, which takes longer to build, is not needed for the table;
# `bash scripts/build.sh` or the test command builds everything.
SQZ_TARGETS="compress_fashion" bash scripts/build.sh
echo "== Deep Compression of samples/fashion_squeezenet.onnx" >&2
build/samples/compress_fashion --model samples/fashion_squeezenet.onnx --out build/samples --threads "$(nproc)"
