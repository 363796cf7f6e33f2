#!/usr/bin/env bash
# The sample programs (the main job's compress_fashion, and train_fashion) on bad options:
# exit 2, one line on stderr naming the option, nothing written; train_fashion does not
# overwrite an existing file without --force.
# usage: sample_options.sh COMPRESS_FASHION TRAIN_FASHION
set -uo pipefail
compress=$1 train=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

expect_refusal() {  # expect_refusal WORD PROGRAM ARGS...: exit 2, one line naming WORD
  local word=$1 err code
  shift
  err=$("$@" 2>&1 >/dev/null)
  code=$?
  if [ "$code" -ne 2 ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] ||
     ! printf '%s' "$err" | grep -q -- "$word"; then
    echo "FAIL: $* -> exit $code, stderr: $err"
    failures=$((failures + 1))
  fi
}

out="$work/out"
for bad in "--threads abc" "--threads 0" "--density 0" "--density 1.5" "--bits 3.5" \
           "--bits 9" "--steps -1" "--lr nan" "--distill 2" "--test-images 0" \
           "--retrain-steps 1e9" "--schedule sometimes" "--granularity kernels"; do
  set -- $bad
  expect_refusal "$1" "$compress" --out "$out" "$@"
done
expect_refusal "--lr" "$compress" --out "$out" --lr
expect_refusal "--bogus" "$compress" --out "$out" --bogus 1
[ -e "$out" ] && { echo "FAIL: compress_fashion wrote $out on a bad option"; failures=$((failures + 1)); }

for program in "$compress" "$train"; do  # --help: usage on stdout, exit 0, nothing written
  help=$(cd "$work" && "$program" --out "$out" --help 2>&1)
  code=$?
  if [ "$code" -ne 0 ] || ! printf '%s' "$help" | grep -q "^usage: "; then
    echo "FAIL: $program --help -> exit $code: $help"
    failures=$((failures + 1))
  fi
done
[ -e "$out" ] && { echo "FAIL: --help wrote $out"; failures=$((failures + 1)); }

expect_refusal "--epochs" "$train" --epochs 0 -o "$work/t.onnx"
expect_refusal "--seed" "$train" --seed -3 -o "$work/t.onnx"
expect_refusal "-o" "$train" --epochs 1
echo keep > "$work/existing.onnx"
expect_refusal "existing.onnx" "$train" --epochs 1 -o "$work/existing.onnx"
[ "$(cat "$work/existing.onnx")" = keep ] || { echo "FAIL: train_fashion overwrote a file"; failures=$((failures + 1)); }

[ "$failures" -eq 0 ] && echo "sample options: all refused cleanly"
exit "$failures"
