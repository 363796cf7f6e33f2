#!/usr/bin/env bash
# The size/accuracy frontier of the real SqueezeNet v1.0 (../shared), by k-fold
# cross-validation: for every target size and every fold K of FOLDS, calibrate on the other
# folds and hold fold K out; then one report over all the files, each measured on the fold it
# never saw, pooled (every image measured once per target), as Markdown, JSON, HTML and an
# SVG chart in build/frontier/.
# usage: scripts/frontier.sh [TARGET_BYTES ...]   (default: 400000 370000 340000 310000)
#        FOLDS=2 scripts/frontier.sh            two halves instead of five folds
#        RESUME=1 scripts/frontier.sh           keeps the points an interrupted run finished
#        EXTRA="--codes compensated" ...        more compress options (an ablation)
set -euo pipefail
cd "$(dirname "$0")/.."
shared=${SHARED:-../shared}
model=$shared/models/squeezenet_v1.0_deep_compression/squeezenet_v1.0_dc.onnx
images=$shared/images/calib
out=build/frontier
tool=${TOOL:-build/cli/squeeze-compress}  # TOOL: another build of the tool
[ -f "$model" ] || { echo "frontier.sh: $model is missing (this needs ../shared)" >&2; exit 1; }
[ -x "$tool" ] || bash scripts/build.sh
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(400000 370000 340000 310000)
folds=${FOLDS:-5}
case $folds in ''|*[!0-9]*) echo "frontier.sh: FOLDS must be a number (2..100), not '$folds'" >&2; exit 2;; esac
[ "$folds" -ge 2 ] && [ "$folds" -le 100 ] || { echo "frontier.sh: FOLDS must be 2..100" >&2; exit 2; }
read -r -a extra <<< "${EXTRA:-}"
mkdir -p "$out"
files=()
failed=0
for target in "${targets[@]}"; do
  for fold in $(seq 1 "$folds"); do
    file=$out/squeezenet_${target}_holdout${fold}of${folds}.sqz
    if [ -n "${RESUME:-}" ] && [ -s "${file%.sqz}.json" ] && [ -s "$file" ]; then
      files+=("$file")  # RESUME=1: keep a point an earlier run finished
      continue
    fi
    echo "== $target bytes, fold $fold of $folds held out" >&2
    if "$tool" compress "$model" --calib "$images" --holdout-split "$fold/$folds" \
      --target-bytes "$target" --threads 2 "${extra[@]}" -o "$file" --force --json \
      > "${file%.sqz}.json"; then
      files+=("$file")
    else
      echo "frontier.sh: the $target-byte point with fold $fold held out failed (above); going on" >&2
      failed=1
    fi
  done
done
[ ${#files[@]} -gt 0 ] || exit 1
"$tool" report "${files[@]}" --reference "$model" --images "$images" --threads 2 \
  --html "$out/frontier.html" --chart "$out/frontier.svg" --force > "$out/frontier.md"
"$tool" report "${files[@]}" --reference "$model" --images "$images" --threads 2 --json -q \
  > "$out/frontier.json"
cat "$out/frontier.md"
echo "wrote $out/frontier.{md,json,html,svg}" >&2
exit $failed
