#!/usr/bin/env bash
# Every SqueezeNet variant of make_variants.py checked against ONNX Runtime, the independent
# reference executor: our runtime on the .onnx, on its lossless .sqz (encode) and ONNX Runtime
# on the .sqz decoded back to ONNX all give ONNX Runtime's outputs within 1e-4 of the largest
# one; a compressed .sqz (compress --bits 6) runs in our runtime as its decoded ONNX runs in
# ONNX Runtime. Then the corner cases of make_edges.py: more matches, refusals that name their
# reason, and Caffe BatchNorm + Scale + Eltwise against an ONNX twin.
# usage: run.sh SQUEEZE_COMPRESS SOURCE_DIR
set -uo pipefail
cli=$(realpath "$1") src=$(realpath "$2")
py=/usr/bin/python3
"$py" -c 'import onnx, numpy' 2>/dev/null || { echo "needs Debian's python3-onnx and python3-numpy (scripts/install-deps.sh --tests)"; exit 1; }
command -v node >/dev/null || { echo "needs node (Node.js) for ONNX Runtime"; exit 1; }
bash "$src/bench/ort/install.sh" || exit 1
ort=$src/bench/ort/node_modules/onnxruntime-node
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
# Decoded to Caffe (Eltwise for Add), re-imported: the same outputs; or, with asymmetric padding,
# which Caffe cannot express, a refusal that says so and no file.
on_caffe() {
  if "$cli" decode "$m.sqz" -o "$m.caffemodel" -q > /dev/null 2> "$m.caffe.err"; then
    "$cli" run "$m.caffemodel" --input-tensor "$m.input.f32" --output-tensor "$m.f.f32" -q &&
      close "$m.ref.f32" "$m.f.f32" "runtime on its decoded Caffe model"
  else
    grep -q "Caffe has no asymmetric padding" "$m.caffe.err" && [ ! -e "$m.caffemodel" ] &&
      echo "  decoded Caffe model: refused, $(cat "$m.caffe.err")"
  fi
}
while read -r name shape; do
  echo "== $name ($shape)"
  m=$work/$name
  if ! ortrun "$m.onnx" "$m.input.f32" "$shape" "$m.ref.f32"; then
    failed=$((failed + 1)); continue
  fi
  for c in on_onnx on_sqz on_decoded on_compressed on_caffe; do check "$name: $c" "$c"; done
done < "$work/list"
# The corner cases: matches with ONNX Runtime, refusals that name the problem, Caffe folding.
"$py" "$src/tests/variants/make_edges.py" "$work/edges" "$src/import/proto/caffe.proto" ||
  { echo "make_edges.py failed"; exit 1; }
random_input() {  # random_input SHAPE FILE
  "$py" -c "import sys, numpy as np; np.random.default_rng(5).uniform(-1, 1, [int(d) for d in sys.argv[1].split(',')]).astype(np.float32).tofile(sys.argv[2])" "$1" "$2"
}
edge_ort() {  # NAME SHAPE [--input-shape S]
  local e=$work/edges/$1 shape=$2; shift 2
  random_input "$shape" "$e.in.f32" && ortrun "$e.onnx" "$e.in.f32" "$shape" "$e.ref.f32" &&
    "$cli" run "$e.onnx" --input-tensor "$e.in.f32" --output-tensor "$e.out.f32" -q "$@" &&
    close "$e.ref.f32" "$e.out.f32" "$(basename "$e") against ONNX Runtime"
}
edge_error() {  # NAME TEXT: one line on stderr containing TEXT, exit 1, no output file
  local e=$work/edges/$1 text=$2
  random_input 1,3,4,4 "$e.in.f32"
  "$cli" run "$e.onnx" --input-tensor "$e.in.f32" --output-tensor "$e.out.f32" 2> "$e.err"
  local code=$?
  echo "  $(basename "$e"): exit $code: $(cat "$e.err")"
  [ $code -eq 1 ] && [ "$(wc -l < "$e.err")" -eq 1 ] && grep -qF -- "$text" "$e.err" && [ ! -e "$e.out.f32" ]
}
edge_caffe() {  # NAME SHAPE: the Caffe model in our runtime against its ONNX twin in ONNX Runtime
  local e=$work/edges/$1 shape=$2
  random_input "$shape" "$e.in.f32" && ortrun "$e.twin.onnx" "$e.in.f32" "$shape" "$e.ref.f32" &&
    "$cli" run "$e.caffemodel" --prototxt "$e.prototxt" --input-tensor "$e.in.f32" \
      --output-tensor "$e.out.f32" -q &&
    close "$e.ref.f32" "$e.out.f32" "$(basename "$e") (Caffe BatchNorm+Scale, Eltwise) against its ONNX twin"
}
echo "== corner cases"
while read -r name kind rest; do
  case "$kind" in
    ort) read -r shape opts <<< "$rest"; check "$name" edge_ort "$name" "$shape" $opts ;;
    error) check "$name" edge_error "$name" "$rest" ;;
    caffe) check "$name" edge_caffe "$name" "$rest" ;;
  esac
done < "$work/edges/cases"
echo "variants: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
