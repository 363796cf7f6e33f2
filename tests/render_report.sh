#!/usr/bin/env bash
# The HTML report renders in headless Chromium (Debian's chromium) without console errors,
# and its rendered page holds the three charts (the accuracy chart pooled over two
# calibration folds, with intervals). Leaves the screenshot in
# build/tests/report-screenshot.png to look at.
# usage: render_report.sh SQUEEZE_COMPRESS MAKE_FIXTURES OUT_DIR
set -euo pipefail
cli=$1 fixtures=$2 out=$3
browser=$(command -v chromium || true)
if [ -z "$browser" ]; then
  echo "SKIP: chromium is not installed (scripts/install-deps.sh installs it)" >&2
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$fixtures" "$work"
"$cli" compress "$work/m.onnx" --calib "$work/images" --calib-split 1/2 --bits 5 \
  --calib-steps 4 --calib-batch 2 -o "$work/m.sqz" -q > /dev/null
# Two calibration folds of one target: report pools them and draws the change in accuracy
# against size with intervals.
for k in 1 2; do
  "$cli" compress "$work/m.onnx" --calib "$work/images" --calib-split "$k/2" --target-bytes 2200 \
    --calib-steps 4 --calib-batch 2 --probe-images 2 -o "$work/t$k.sqz" -q > /dev/null
done
"$cli" report "$work/m.sqz" "$work/t1.sqz" "$work/t2.sqz" --reference "$work/m.onnx" \
  --images "$work/images" --html "$work/report.html" -q > /dev/null
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$work/profile"
       --enable-logging=stderr --v=0)
mkdir -p "$out"
"$browser" "${flags[@]}" --window-size=1100,2400 --screenshot="$out/report-screenshot.png" \
  "file://$work/report.html" 2> "$work/console.txt" > /dev/null
"$browser" "${flags[@]}" --dump-dom "file://$work/report.html" > "$work/dom.html" 2>> "$work/console.txt"
status=0
if grep -E 'CONSOLE|Uncaught|Failed to load' "$work/console.txt"; then
  echo "FAIL: the page logged console errors (above)" >&2
  status=1
fi
for id in waterfall layers accuracy; do
  if ! grep -q "<figure id=\"$id\"><svg" <(tr -d '\n' < "$work/dom.html"); then
    echo "FAIL: the rendered page has no '$id' chart" >&2
    status=1
  fi
done
flat=$(tr -d '\n' < "$work/dom.html")
for text in 'Pooled over calibration folds' 'paper: 0.47 MB' 'within 1 point' 'Δ top-1, pooled over folds'; do
  if ! grep -qF "$text" <<< "$flat"; then
    echo "FAIL: the rendered page lacks '$text' (the pooled accuracy chart and table)" >&2
    status=1
  fi
done
size=$(stat -c %s "$out/report-screenshot.png" 2>/dev/null || echo 0)
if [ "$size" -lt 20000 ]; then
  echo "FAIL: the screenshot is missing or blank ($size bytes)" >&2
  status=1
fi
[ $status -eq 0 ] && echo "report renders: three charts, no console errors, screenshot $out/report-screenshot.png ($size bytes)"
exit $status
