#!/usr/bin/env bash
# Every SqueezeNet variant of make_variants.py checked against ONNX Runtime, the independent
# reference executor: our runtime on the .onnx, on its lossless .sqz (encode) and ONNX Runtime
# on the .sqz decoded back to ONNX all give ONNX Runtime's outputs within 1e-4 of the largest
# one; a compressed .sqz (compress --bits 6) runs in our runtime as its decoded ONNX runs in
# ONNX Runtime.
# usage: run.sh SQUEEZE_COMPRESS SOURCE_DIR
set -uo pipefail
cli=$(realpath "$1") src=$(realpath "$2")
py=/usr/bin/python3
"$py" -c 'import onnx, numpy' 2>/dev/null || { echo "needs Debian's python3-onnx and python3-numpy (scripts/install-deps.sh --tests)"; exit 1; }
command -v node >/dev/null || { echo "needs node (Node.js) for ONNX Runtime"; exit 1; }
ort=$src/bench/ort/node_modules/onnxruntime-node
if [ ! -d "$ort" ]; then
  # --ignore-scripts: the package ships its CPU build; its install script only fetches GPU ones.
  (cd "$src/bench/ort" && npm install --ignore-scripts --no-audit --no-fund --silent >/dev/null) ||
    { echo "npm install of onnxruntime-node failed"; exit 1; }
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$py" "$src/tests/variants/make_variants.py" "$work" > "$work/list" || exit 1

ortrun() { node "$src/tests/variants/ort_run.js" "$ort" "$@"; }
close() { "$py" "$src/tests/variants/close.py" "$@"; }
passed=0 failed=0
check() {  # check WHAT COMMAND...: runs the command, counts it
  local what=$1; shift
  if "$@" > "$work/out.txt" 2>&1; then passed=$((passed + 1)); cat "$work/out.txt"
  else failed=$((failed + 1)); echo "FAILED: $what"; sed 's/^/    /' "$work/out.txt" | tail -5; fi
}
# The four checks of one variant; each runs the commands it needs.
on_onnx() { "$cli" run "$m.onnx" --input-tensor "$m.input.f32" --output-tensor "$m.a.f32" -q &&
  close "$m.ref.f32" "$m.a.f32" "runtime on the .onnx"; }
on_sqz() { "$cli" encode "$m.onnx" -o "$m.sqz" -q > /dev/null &&
  "$cli" run "$m.sqz" --input-tensor "$m.input.f32" --output-tensor "$m.b.f32" -q &&
  close "$m.ref.f32" "$m.b.f32" "runtime on its lossless .sqz"; }
on_decoded() { "$cli" decode "$m.sqz" -o "$m.dec.onnx" -q > /dev/null &&
  ortrun "$m.dec.onnx" "$m.input.f32" "$shape" "$m.c.f32" &&
  close "$m.ref.f32" "$m.c.f32" "ONNX Runtime on the decoded ONNX"; }
on_compressed() { "$cli" compress "$m.onnx" --bits 6 -o "$m.comp.sqz" -q > /dev/null &&
  "$cli" run "$m.comp.sqz" --input-tensor "$m.input.f32" --output-tensor "$m.d.f32" -q &&
  "$cli" decode "$m.comp.sqz" -o "$m.comp.onnx" -q > /dev/null &&
  ortrun "$m.comp.onnx" "$m.input.f32" "$shape" "$m.e.f32" &&
  close "$m.e.f32" "$m.d.f32" "compressed .sqz, against ONNX Runtime on its decoded ONNX"; }
while read -r name shape; do
  echo "== $name ($shape)"
  m=$work/$name
  if ! ortrun "$m.onnx" "$m.input.f32" "$shape" "$m.ref.f32"; then
    failed=$((failed + 1)); continue
  fi
  for c in on_onnx on_sqz on_decoded on_compressed; do check "$name: $c" "$c"; done
done < "$work/list"
echo "variants: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
