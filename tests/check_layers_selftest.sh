#!/usr/bin/env bash
# The layer check can fail: on a copy of the tree, each planted violation of its rules must make
# scripts/check_layers.py exit 1 naming the file, and the untouched copy must pass.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:-python3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
libs="core huffman format import prune quantize kernels image runtime train report pipeline cli python"
fresh() {
  rm -rf "$tmp/tree" && mkdir -p "$tmp/tree"
  for d in $libs; do cp -r "$src/$d" "$tmp/tree/"; done
  rm -rf "$tmp/tree/python/tests"
}
expect_fail() {  # what, file the message must name
  if out="$("$python" "$src/scripts/check_layers.py" "$tmp/tree")"; then
    echo "FAIL: $1 passed the check"; exit 1
  fi
  grep -q "$2" <<<"$out" || { echo "FAIL: $1: the report does not name $2"; echo "$out"; exit 1; }
  echo "ok: $1"
}
fresh
"$python" "$src/scripts/check_layers.py" "$tmp/tree" >/dev/null || { echo "FAIL: the tree as it is"; exit 1; }
echo "ok: the tree as it is passes"
fresh; printf '#include "sqz/pipeline/compress.h"\n' >>"$tmp/tree/format/src/sqz_half.cc"
expect_fail "a lower library including a higher one" "format/src/sqz_half.cc"
fresh; printf '#include "../../kernels/include/sqz/kernels/gemm.h"\n' >>"$tmp/tree/train/src/idx.cc"
expect_fail "a relative include across folders" "train/src/idx.cc"
fresh; printf 'const char* kHint = "use --force";\n' >>"$tmp/tree/prune/src/prune.cc"
expect_fail "a flag in a library" "prune/src/prune.cc"
fresh; { echo 'int long_one() {'; for i in $(seq 90); do echo "  int v$i = $i;"; done; echo '  return 0;'; echo '}'; } >>"$tmp/tree/core/src/tensor.cc"
expect_fail "a function over 80 lines" "core/src/tensor.cc"
fresh; sed -i 's/sqz_core sqz_format sqz_image/sqz_core sqz_format sqz_image sqz_pipeline/' "$tmp/tree/runtime/CMakeLists.txt"
expect_fail "a link cycle" "link cycle"
