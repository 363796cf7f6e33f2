#!/usr/bin/env bash
# The size/accuracy frontier of the real SqueezeNet v1.0 (../shared): for every target size,
# calibrate on one half of the 500 images and measure on the other, then swapped; then one
# report over all the files (each measured on the half it did not calibrate on) as Markdown,
# JSON, HTML and an SVG chart in build/frontier/.
# usage: scripts/frontier.sh [TARGET_BYTES ...]   (default: 470000 440000 400000 370000 340000)
#        RESUME=1 scripts/frontier.sh   keeps the points an interrupted run finished
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
[ ${#targets[@]} -gt 0 ] || targets=(470000 440000 400000 370000 340000)
mkdir -p "$out"
files=()
failed=0
for target in "${targets[@]}"; do
  for fold in 1 2; do
    file=$out/squeezenet_${target}_calib${fold}of2.sqz
    if [ -n "${RESUME:-}" ] && [ -s "${file%.sqz}.json" ] && [ -s "$file" ]; then
      files+=("$file")  # RESUME=1: keep a point an earlier run finished
      continue
    fi
    echo "== $target bytes, calibrating on half $fold of 2" >&2
    if "$tool" compress "$model" --calib "$images" --calib-split "$fold/2" \
      --target-bytes "$target" --threads 2 -o "$file" --force --json > "${file%.sqz}.json"; then
      files+=("$file")
    else
      echo "frontier.sh: the $target-byte point on half $fold failed (above); going on" >&2
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
