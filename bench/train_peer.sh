#!/usr/bin/env bash
# Training throughput of our training engine (build/bench/bench_train) against PyTorch
# (bench/torch_train.py, Debian's python3-torch) on the same ONNX network, batch and thread
# count, in one run: the two alternate for ROUNDS rounds of STEPS timed steps each, so that a
# slow spell of a shared machine hits both; the figure is the median of the per-round ratios
# (ours / PyTorch images per second: above 1, ours ahead).
# usage: bench/train_peer.sh [MODEL.onnx]   (default samples/fashion_squeezenet.onnx, the
#        embedded default's network; ROUNDS=3, STEPS=20, BATCH=64 in the environment)
# A 224x224 SqueezeNet: bash bench/train_peer.sh build/peer-variants/v11.onnx with BATCH=16
# (tests/variants/make_variants.py writes it; bench/peer_variants.sh does too).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peer_setup.sh train_peer.sh
rounds=$(count_setting ROUNDS "${ROUNDS:-3}" 1000)
steps=$(count_setting STEPS "${STEPS:-20}" 100000)
batch=$(count_setting BATCH "${BATCH:-64}" 1024)
model=${1:-samples/fashion_squeezenet.onnx}
[ $# -le 1 ] || { echo "usage: bench/train_peer.sh [MODEL.onnx]" >&2; exit 2; }
[ -f "$model" ] || { echo "train_peer.sh: $model: no such file" >&2; exit 2; }
py=/usr/bin/python3
"$py" -c 'import torch, onnx' 2>/dev/null ||
  { echo "train_peer.sh: python3-torch and python3-onnx are needed (scripts/install-deps.sh --tests)" >&2; exit 1; }
bash scripts/build.sh >/dev/null
(cd build && make -j"$(nproc)" bench_train >/dev/null)
ours=build/bench/bench_train

rate() {  # the images/s at the end of a program's last line
  tail -1 | sed -E 's#.*: ([0-9.]+) images/s$#\1#'
}

# The machine, as our runtime describes it (libcpuinfo) and as the kernel reports it; the peer.
"$ours" --steps 1 --threads 1 --batch 1 | grep -E '^(cpu|isa|caches|cores):'
echo "lscpu: $(lscpu | sed -nE 's/^Model name: *//p') ($(nproc) CPUs)"
"$py" -c 'import re, torch; c = torch.__config__.show()
print("peer: PyTorch %s (%s; %s)" % (torch.__version__,
      "".join(re.findall(r"CPU capability usage: \w+", c)) or "CPU capability unknown",
      "".join(re.findall(r"MKL-DNN v[\d.]+", c)).replace("MKL-DNN", "oneDNN") or "no oneDNN"))'
echo "model: $model, batch $batch, $steps timed steps a round"

for t in 1 2; do
  ratios=()
  for r in $(seq "$rounds"); do
    a=$("$ours" --model "$model" --batch "$batch" --threads "$t" --steps "$steps" | rate)
    b=$("$py" bench/torch_train.py "$model" --batch "$batch" --threads "$t" --steps "$steps" | rate)
    ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.3f", a / b}')
    ratios+=("$ratio")
    printf 'threads %d round %d: squeeze-compress %s images/s, PyTorch %s images/s, ratio %s\n' \
      "$t" "$r" "$a" "$b" "$ratio"
  done
  printf 'training throughput (ours / PyTorch), %d thread(s): %.2fx (median of %d rounds; above 1: ours ahead)\n' \
    "$t" "$(printf '%s\n' "${ratios[@]}" | median)" "$rounds"
done
