#!/usr/bin/env bash
# cmake --install into a fresh prefix, then samples/embed built against the installed package
# in a separate build tree: it must classify an image exactly as `squeeze-compress run` does,
# and must not carry protobuf (reading a .sqz needs none); the pipeline example, linked with
# sqz::pipeline alone, must write a .sqz that the CLI reads; a misspelt SQZ_ISA stops the
# embedded program as it stops the CLI.
# usage: install_embed.sh BUILD_DIR SOURCE_DIR SQUEEZE_COMPRESS MAKE_FIXTURES
set -euo pipefail
build=$1 src=$2 cli=$3 fixtures=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
test -f "$work/prefix/lib/cmake/SqueezeCompress/SqueezeCompressConfig.cmake"
test -f "$work/prefix/include/sqz/core/version.h"
test -x "$work/prefix/bin/squeeze-compress"
cmake -S "$src/samples/embed" -B "$work/embed" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release > "$work/configure.log"
cmake --build "$work/embed" -j2 > "$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
if nm -C "$work/embed/classify_sqz" | grep -q 'google::protobuf'; then
  echo "classify_sqz links protobuf: the .sqz reader should not need it"; exit 1
fi
"$fixtures" "$work/fix" > /dev/null
"$work/embed/compress_model" "$work/fix/m.onnx" "$work/fix/images" 5 "$work/m.sqz" 2> "$work/stages.log"
grep -q '^\[6/6\]' "$work/stages.log"
"$cli" info "$work/m.sqz" > /dev/null
mine=$("$work/embed/classify_sqz" "$work/m.sqz" "$work/fix/images/n001_10.png" | awk '{print $1}' | tr '\n' ' ')
theirs=$("$cli" run "$work/m.sqz" "$work/fix/images/n001_10.png" --top 5 | awk 'NR > 1 {print $1}' | tr '\n' ' ')
echo "embedded: $mine"
echo "CLI:      $theirs"
[ -n "$mine" ] && [ "$mine" = "$theirs" ]
# The library refuses a misspelt SQZ_ISA (Net::create), so an embedding program does too.
if SQZ_ISA=avx-2 "$work/embed/classify_sqz" "$work/m.sqz" "$work/fix/images/n001_10.png" \
    > "$work/isa.out" 2> "$work/isa.err"; then
  echo "classify_sqz ran under SQZ_ISA=avx-2"; exit 1
fi
grep -q "SQZ_ISA='avx-2' is not generic, avx2 or avx512" "$work/isa.err" && [ ! -s "$work/isa.out" ]
# A .sqz that records torchvision's preprocessing: the embedded program follows the record
# (classes and scores as `run` prints them), which Caffe's would not give.
"$cli" encode "$work/fix/m.onnx" --preprocess torchvision -o "$work/tv.sqz" -q > /dev/null
image="$work/fix/images/n002_11.png"
mine=$("$work/embed/classify_sqz" "$work/tv.sqz" "$image" | awk '{print $1, $2}' | tr '\n' ' ')
theirs=$("$cli" run "$work/tv.sqz" "$image" --top 5 | awk 'NR > 1 {print $1, $2}' | tr '\n' ' ')
caffe=$("$cli" run "$work/tv.sqz" "$image" --top 5 --preprocess caffe --force | awk 'NR > 1 {print $1, $2}' | tr '\n' ' ')
echo "torchvision-recorded, embedded: $mine"
echo "torchvision-recorded, CLI:      $theirs"
echo "the same file read as Caffe's:  $caffe"
[ -n "$mine" ] && [ "$mine" = "$theirs" ] && [ "$mine" != "$caffe" ]
