#!/usr/bin/env bash
# The main job's pipeline with a few retraining steps (as the smoke test), once under SQZ_ISA=avx2 and once on the
# CPU's widest kernels: the two .sqz files must be the same bytes, since the training engine
# adds in the same order with AVX2 and AVX-512 (docs/performance-log.md: "the bits are the same
# with AVX2 and AVX-512"). On a CPU without AVX-512 both runs use AVX2 and the test says so.
# usage: isa_same_bits.sh COMPRESS_FASHION MODEL
set -uo pipefail
compress=$1 model=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if ! grep -qw avx2 /proc/cpuinfo; then
  echo "skipped: this CPU has no AVX2, so there is no second ISA to compare"
  exit 0
fi
grep -qw avx512f /proc/cpuinfo || echo "note: no AVX-512 here: both runs use AVX2"
args=(--model "$model" --steps 2 --retrain-steps 5 --finetune-steps 5 --test-images 200
      --threads 2)
SQZ_ISA=avx2 "$compress" "${args[@]}" --out "$work/avx2" > "$work/avx2.log" 2>&1 ||
  { cat "$work/avx2.log"; exit 1; }
"$compress" "${args[@]}" --out "$work/widest" > "$work/widest.log" 2>&1 ||
  { cat "$work/widest.log"; exit 1; }
# The pruned model keeps float32 weights, so any difference in the retraining shows there.
for file in fashion_squeezenet_pruned.sqz fashion_squeezenet.sqz; do
  if ! cmp "$work/avx2/$file" "$work/widest/$file"; then
    echo "FAIL: $file differs between SQZ_ISA=avx2 and the widest ISA"
    exit 1
  fi
  echo "same $file with SQZ_ISA=avx2 and the widest ISA ($(stat -c %s "$work/avx2/$file") bytes)"
done
