#!/usr/bin/env bash
# The release SqueezeNet re-expressed for torchvision's convention (conv1 absorbs it), run with
# `eval --preprocess torchvision` on an ImageFolder copy of ../shared/images/calib, must give the
# top-1 and top-5 of an independent reference (torchvision's transforms re-done with PIL and
# numpy, the tensors run by ONNX Runtime) within 1 point. Skips (77) without ../shared.
# usage: torchvision_convention.sh SQUEEZE_COMPRESS SOURCE_DIR
set -uo pipefail
cli=$(realpath "$1") src=$(realpath "$2")
shared=${SQZ_SHARED:-$src/../shared}
[ -d "$shared/models" ] || { echo "skipped: $shared is absent (the real SqueezeNet and ImageNet samples)"; exit 77; }
py=/usr/bin/python3
"$py" -c 'import onnx, numpy, PIL' 2>/dev/null || { echo "needs python3-onnx, python3-numpy, python3-pil (scripts/install-deps.sh --tests)"; exit 1; }
bash "$src/bench/ort/install.sh" || exit 1
ort=$src/bench/ort/node_modules/onnxruntime-node
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ref="$py $src/tests/shared/torchvision_reference.py"
# The ImageFolder copy: <wnid>/<file>, links to the shared images.
for f in "$shared"/images/calib/*.JPEG; do
  b=$(basename "$f"); mkdir -p "$work/images/${b%%_*}"; ln -s "$f" "$work/images/${b%%_*}/$b"
done
$ref make "$shared/models/squeezenet_v1.0_deep_compression/squeezenet_v1.0_dc.onnx" "$work/tv.onnx" || exit 1
n=$($ref input "$work/images" "$shared/images/synsets.txt" "$work/x.f32" "$work/y.i32") || exit 1
node "$src/tests/variants/ort_run.js" "$ort" "$work/tv.onnx" "$work/x.f32" "$n,3,227,227" "$work/z.f32" || exit 1
read -r rt1 rt5 rn < <($ref score "$work/z.f32" "$work/y.i32")
out=$("$cli" eval "$work/tv.onnx" --images "$work/images" --labels "$shared/images/synsets.txt" \
  --preprocess torchvision --threads 2 --json -q) || exit 1
ours=$(echo "$out" | "$py" -c 'import json, sys; j = json.load(sys.stdin); print(j["top1"], j["top5"], j["images"])')
read -r ot1 ot5 on <<< "$ours"
echo "reference (PIL + numpy + ONNX Runtime): top-1 $rt1 top-5 $rt5 on $rn images"
echo "squeeze-compress eval --preprocess torchvision: top-1 $ot1 top-5 $ot5 on $on images"
"$py" - "$rt1" "$rt5" "$ot1" "$ot5" "$rn" "$on" <<'PY'
import sys
r1, r5, o1, o5 = map(float, sys.argv[1:5])
ok = sys.argv[5] == sys.argv[6] and abs(r1 - o1) <= 0.01 and abs(r5 - o5) <= 0.01
print(f"difference: top-1 {100 * (o1 - r1):+.1f} points, top-5 {100 * (o5 - r5):+.1f} points -> {'ok' if ok else 'FAILED'}")
sys.exit(0 if ok else 1)
PY
