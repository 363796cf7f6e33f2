#!/usr/bin/env bash
# Two builds of the CLI on one model, alternated in ABBA order (old, new, new, old) for ROUNDS
# rounds of `bench --runs RUNS`: a host whose speed drifts, or that has slow spells, then
# weighs on both alike. Prints each round's medians and ratio (the new build's two over the old
# one's two), then the median ratio, below 1 when the new build is faster. Copy a build's
# build/cli/squeeze-compress aside before rebuilding to compare it with the next.
# usage: bench/ab_builds.sh OLD_TOOL NEW_TOOL MODEL [THREADS]   (ROUNDS=8, RUNS=100 in the
#        environment; OPTIONS="..." adds options to both `bench` calls, e.g. "--batch 8";
#        TUNED=1 runs both with --tune, each build with a tuning cache of its own, filled before
#        the first round, so that neither reads or overwrites the other's choices)
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
case "${TUNED:-0}" in
  0|1) ;;
  *) echo "ab_builds.sh: TUNED must be 0 or 1, not '${TUNED}'" >&2; exit 2 ;;
esac
caches=$(mktemp -d)
trap 'rm -rf "$caches"' EXIT
# The options of one build's runs: with TUNED=1, --tune on the build's own cache.
tool_options() {
  local -a o=("${options[@]}")
  if [ "${TUNED:-0}" = 1 ]; then
    o+=(--tune --tune-cache "$caches/$([ "$1" = "$old" ] && echo old || echo new).txt")
  fi
  [ ${#o[@]} -eq 0 ] || printf '%s\0' "${o[@]}"
}
# The CPU as the runtime reads it (and the model checked before any round).
"$new" bench "$model" -v --runs 1 --threads "$threads" "${options[@]}" | grep -E '^(cpu|isa):'

median_ms() {
  local -a o=()
  mapfile -d '' -t o < <(tool_options "$1")
  "$1" bench "$model" --threads "$threads" --runs "$runs" "${o[@]}" |
    awk '/^median/ {print $2; found = 1} END {exit !found}'
}
if [ "${TUNED:-0}" = 1 ]; then  # tune each build once, outside the rounds
  for tool in "$old" "$new"; do
    mapfile -d '' -t o < <(tool_options "$tool")
    "$tool" bench "$model" --threads "$threads" --runs 1 "${o[@]}" >/dev/null
  done
fi
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
