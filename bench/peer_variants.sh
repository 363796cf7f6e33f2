#!/usr/bin/env bash
# SqueezeNets other than the release against ONNX Runtime: each variant that
# tests/variants/make_variants.py generates (v1.0 and v1.1 layouts, bypass, BatchNorm, ...;
# random weights) is compressed as a user would (`compress --density D --bits B`), and our
# runtime on the .sqz is timed against ONNX Runtime on the dense ONNX file at batch 1, 1 and 2
# threads, the two engines alternated for ROUNDS rounds; the figure is the median of the
# per-round ratios (ours / ONNX Runtime's time), as in bench/peer.sh.
# usage: bench/peer_variants.sh [VARIANT...]   (default: v10 v11 v11_batchnorm v10_complex_bypass;
#        ROUNDS=5, DENSITY=0.4, BITS=5 in the environment; OPTIONS="..." adds options to our
#        `bench`, e.g. OPTIONS="--sparse-max-density 0.45")
# Needs Node.js and Debian's python3-onnx (scripts/install-deps.sh --tests).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peer_setup.sh peer_variants.sh
rounds=$(count_setting ROUNDS "${ROUNDS:-5}")
peer_setup
density=${DENSITY:-0.4}
bits=${BITS:-5}
read -r -a options <<< "${OPTIONS:-}"
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(v10 v11 v11_batchnorm v10_complex_bypass)
py=$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || command -v python3 || echo python3)
"$py" -c 'import onnx' 2>/dev/null ||
  { echo "peer_variants.sh: python3-onnx is needed (scripts/install-deps.sh --tests)" >&2; exit 1; }
dir=build/peer-variants
mkdir -p "$dir"
"$py" tests/variants/make_variants.py "$dir" > "$dir/shapes.txt"
"$tool" bench "$dir/$(head -1 "$dir/shapes.txt" | cut -d' ' -f1).onnx" -v --runs 1 |
  grep -E '^(cpu|isa|caches|cores|rule):'
echo "lscpu: $(lscpu | sed -nE 's/^Model name: *//p') ($(nproc) CPUs)"

for v in "${variants[@]}"; do
  shape=$(awk -v v="$v" '$1 == v {print $2}' "$dir/shapes.txt")
  [ -n "$shape" ] || { echo "peer_variants.sh: no variant '$v' (see $dir/shapes.txt)" >&2; exit 1; }
  size=${shape##*,}
  "$py" bench/ort/batch_onnx.py "$dir/$v.onnx" "$dir/$v.b1.onnx" 1
  "$tool" compress "$dir/$v.onnx" -o "$dir/$v.sqz" --density "$density" --bits "$bits" --force -q >/dev/null
  echo "$v: $(stat -c %s "$dir/$v.onnx") -> $(stat -c %s "$dir/$v.sqz") bytes, input 1x3x${size}x${size}"
  for t in 1 2; do
    ratios=()
    for r in $(seq "$rounds"); do
      ort_ms=$(node bench/ort/ort_bench.js "$dir/$v.b1.onnx" "$t" 30 --size "$size" |
               sed -E 's/.*median ([0-9.]+).*/\1/')
      ours_ms=$("$tool" bench "$dir/$v.sqz" --threads "$t" --runs 30 "${options[@]}" | awk '/^median/ {print $2}')
      ratios+=("$(awk -v a="$ours_ms" -v b="$ort_ms" 'BEGIN {printf "%.3f", a / b}')")
      printf '%s threads %d round %d: onnxruntime %s ms, squeeze-compress .sqz %s ms\n' "$v" "$t" "$r" "$ort_ms" "$ours_ms"
    done
    printf 'ratio (compressed / onnxruntime), %s, %d thread(s): %.2fx (median of %d rounds)\n' "$v" "$t" \
      "$(printf '%s\n' "${ratios[@]}" | median)" "$rounds"
  done
done
