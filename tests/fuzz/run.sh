#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for SECONDS (default
# 600), JOBS at a time (default 2). Crashes land in build-fuzz/crashes/<target>/.
# usage: tests/fuzz/run.sh [SECONDS] [JOBS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
jobs=${2:-2}
shift $(( $# > 2 ? 2 : $# )) || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(sqz run huffman net caffemodel prototxt onnx image preprocess label_file class_list)
bash scripts/install-deps.sh
command -v clang++ >/dev/null || apt-get install -y -qq clang libclang-rt-dev >/dev/null
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSQZ_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target make_seeds $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null
build-fuzz/tests/fuzz/make_seeds build-fuzz/seeds
run_one() {
  local t=$1 corpus=build-fuzz/corpus/$1 crashes=build-fuzz/crashes/$1
  mkdir -p "$corpus" "$crashes"
  cp -n build-fuzz/seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  build-fuzz/tests/fuzz/fuzz_"$t" "$corpus" -max_total_time="$seconds" -timeout=1 -rss_limit_mb=2048 \
    -artifact_prefix="$crashes"/ -print_final_stats=1 > build-fuzz/fuzz_"$t".log 2>&1
  echo "== fuzz_$t: exit $?"
  grep -E "^stat::(number_of_executed_units|peak_rss_mb|new_units_added)|^#[0-9]+.*DONE" build-fuzz/fuzz_"$t".log | tail -4
}
export -f run_one
export seconds
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}'
