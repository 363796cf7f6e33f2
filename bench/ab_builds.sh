#!/usr/bin/env bash
# Two builds of the CLI on one model, alternated in ABBA order (old, new, new, old) for ROUNDS
# rounds of `bench --runs RUNS`: a host whose speed drifts, or that has slow spells, then
# weighs on both alike. Prints each round's medians and ratio (the new build's two over the old
# one's two), then the median ratio, below 1 when the new build is faster. Copy a build's
# build/cli/squeeze-compress aside before rebuilding to compare it with the next.
# usage: bench/ab_builds.sh OLD_TOOL NEW_TOOL MODEL [THREADS]   (ROUNDS=8, RUNS=100 in the
#        environment; OPTIONS="..." adds options to both `bench` calls, e.g. "--batch 8")
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/peer_setup.sh ab_builds.sh
rounds=$(count_setting ROUNDS "${ROUNDS:-8}")
runs=$(count_setting RUNS "${RUNS:-100}")
[ $# -ge 3 ] && [ $# -le 4 ] ||
  { echo "usage: bench/ab_builds.sh OLD_TOOL NEW_TOOL MODEL [THREADS]" >&2; exit 2; }
old=$1 new=$2 model=$3
threads=$(count_setting THREADS "${4:-1}")
for tool in "$old" "$new"; do
  [ -x "$tool" ] || { echo "ab_builds.sh: $tool: not an executable" >&2; exit 2; }
done
read -r -a options <<< "${OPTIONS:-}"
# The CPU as the runtime reads it (and the model checked before any round).
"$new" bench "$model" -v --runs 1 --threads "$threads" "${options[@]}" | grep -E '^(cpu|isa):'

median_ms() {
  "$1" bench "$model" --threads "$threads" --runs "$runs" "${options[@]}" |
    awk '/^median/ {print $2; found = 1} END {exit !found}'
}
ratios=()
for r in $(seq "$rounds"); do
  a1=$(median_ms "$old") b1=$(median_ms "$new") b2=$(median_ms "$new") a2=$(median_ms "$old")
  ratio=$(awk -v a1="$a1" -v a2="$a2" -v b1="$b1" -v b2="$b2" 'BEGIN {printf "%.3f", (b1 + b2) / (a1 + a2)}')
  ratios+=("$ratio")
  echo "round $r: old $a1 $a2 ms, new $b1 $b2 ms, ratio $ratio"
done
printf '%s\n' "${ratios[@]}" | sort -g |
  awk -v t="$threads" '{v[NR] = $1} END {printf "median ratio (new / old), %d thread(s): %.3f (%d rounds, %.3f to %.3f)\n",
    t, (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2, NR, v[1], v[NR]}'
