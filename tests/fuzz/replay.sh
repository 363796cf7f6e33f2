#!/usr/bin/env bash
# Replays every fuzz target (built without libFuzzer, replay_main.cc) on its seeds from
# make_seeds, and fuzz_onnx on the regression inputs of past findings; fails when a target
# aborts (a finding) or has nothing to run.
# usage: replay.sh MAKE_SEEDS TARGET_DIR REGRESSIONS_DIR
set -uo pipefail
make_seeds=$1 targets=$2 regressions=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$make_seeds" "$work" || { echo "make_seeds failed"; exit 1; }
failures=0
for t in sqz run huffman net caffemodel prototxt onnx image preprocess label_file class_list; do
  inputs=("$work/$t")
  [ "$t" = onnx ] && inputs+=("$regressions")
  if ! "$targets/fuzz_$t" "${inputs[@]}"; then
    echo "FAILED: fuzz_$t on ${inputs[*]}"
    failures=$((failures + 1))
  fi
done
exit $((failures > 0))
