#!/usr/bin/env bash
# The benchmark programs on bad options: exit 2, one line on stderr naming the option or field,
# nothing on stdout (no partial output before the refusal); --help prints the usage, exit 0.
# usage: bench_options.sh BENCH_TRAIN BENCH_SGEMM BENCH_CONV BENCH_SQZ BENCH_QUANTIZE STREAM_CORUNNER
#        VCPU_PROBE
set -uo pipefail
train=$1 sgemm=$2 conv=$3 sqz=$4 quantize=$5 corunner=$6 probe=$7
failures=0

expect_refusal() {  # expect_refusal WORD PROGRAM ARGS...
  local word=$1 out err code
  shift
  err=$("$@" 2>&1 >/dev/null)
  code=$?
  out=$("$@" 2>/dev/null)
  if [ "$code" -ne 2 ] || [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || [ -n "$out" ] ||
     ! printf '%s' "$err" | grep -q -- "$word"; then
    echo "FAIL: $* -> exit $code, stdout: '$out', stderr: $err"
    failures=$((failures + 1))
  fi
}

for bad in "abc" "0" "5x" "-3" "100001" ""; do expect_refusal "--steps" "$train" --steps "$bad"; done
expect_refusal "--bogus" "$train" --bogus
for bad in "0" "1025" "8x"; do expect_refusal "--batch" "$train" --batch "$bad"; done
for bad in "0" "257" ""; do expect_refusal "--threads" "$train" --threads "$bad"; done
expect_refusal "--model" "$train" --model
for bad in "0" "x" "10001"; do expect_refusal "--runs" "$sgemm" --runs "$bad"; done
expect_refusal "M takes" "$sgemm" 0 5 5
expect_refusal "N takes" "$sgemm" 5 x 5
expect_refusal "K takes" "$sgemm" 5 5 -1
expect_refusal "M takes" "$sgemm" 9000000000000 9000000000000 5
expect_refusal "M x N" "$sgemm" 4096 8192 5
expect_refusal "usage" "$sgemm" 5 5
expect_refusal "IN_C" "$conv" 3 0 0 96 7 2 0 0.5
expect_refusal "DENSITY" "$conv" 3 227 227 96 7 2 0 7
expect_refusal "DENSITY" "$conv" 3 227 227 96 7 2 0 nan
expect_refusal "PAD" "$conv" 3 27 27 96 3 1 3 0.5
expect_refusal "K is larger" "$conv" 3 5 5 8 7 1 0 0.5
expect_refusal "2^26" "$conv" 4096 4096 4096 96 7 2 0 0.5
expect_refusal "usage" "$conv" 3 227 227
for bad in "0" "5x" "-1"; do expect_refusal "--runs" "$sqz" model.sqz --runs "$bad"; done
expect_refusal "usage" "$sqz" model.sqz extra
for bad in "0" "9" "6.5"; do expect_refusal "--bits" "$quantize" --bits "$bad"; done
# The ONNX Runtime peer scripts check their settings before any set-up.
bench=$(dirname "$0")/../bench
for bad in "abc" "0" "1001" "2x"; do
  for script in peer.sh contention.sh peer_variants.sh; do
    expect_refusal "ROUNDS must be" env ROUNDS="$bad" bash "$bench/$script"
  done
done
expect_refusal "BATCH must be" env BATCH=0 bash "$bench/peer.sh"
# The two-build comparison: its settings, arguments and tools before any round.
for bad in "abc" "0" "1001"; do
  expect_refusal "ROUNDS must be" env ROUNDS="$bad" bash "$bench/ab_builds.sh" "$sqz" "$sqz" m.sqz
  expect_refusal "RUNS must be" env RUNS="$bad" bash "$bench/ab_builds.sh" "$sqz" "$sqz" m.sqz
  expect_refusal "THREADS must be" bash "$bench/ab_builds.sh" "$sqz" "$sqz" m.sqz "$bad"
done
expect_refusal "usage" bash "$bench/ab_builds.sh" "$sqz" "$sqz"
expect_refusal "not an executable" bash "$bench/ab_builds.sh" /nonexistent "$sqz" m.sqz
expect_refusal "TUNED must be 0 or 1" env TUNED=yes bash "$bench/ab_builds.sh" "$sqz" "$sqz" m.sqz
expect_refusal "MIB must be" env MIB=-5 bash "$bench/contention.sh"
# The training peer: its settings and arguments before any build or round, and PyTorch's side
# on its own options (before it imports torch).
for bad in "abc" "0" "1001"; do
  expect_refusal "ROUNDS must be" env ROUNDS="$bad" bash "$bench/train_peer.sh"
done
expect_refusal "STEPS must be" env STEPS=100001 bash "$bench/train_peer.sh"
expect_refusal "BATCH must be" env BATCH=2x bash "$bench/train_peer.sh"
expect_refusal "no such file" bash "$bench/train_peer.sh" /nonexistent.onnx
expect_refusal "usage" bash "$bench/train_peer.sh" a.onnx b.onnx
for bad in "0" "1025" "x"; do
  expect_refusal "--batch" python3 "$bench/torch_train.py" m.onnx --batch "$bad" --threads 1
done
expect_refusal "--threads" python3 "$bench/torch_train.py" m.onnx --batch 1 --threads 0
expect_refusal "required" python3 "$bench/torch_train.py" m.onnx --batch 1
expect_refusal "--layout" python3 "$bench/torch_train.py" m.onnx --batch 1 --threads 1 --layout nhwc
expect_refusal "--bogus" "$quantize" --bogus
for bad in "0" "64x" "5000"; do expect_refusal "MIB" "$corunner" "$bad"; done
expect_refusal "usage" "$corunner"
for bad in "0" "x" "100001" ""; do expect_refusal "ROUNDS" "$probe" "$bad"; done
expect_refusal "CPU_B takes a CPU other than CPU_A" "$probe" 1 0 0
expect_refusal "CPU_B takes a CPU number" "$probe" 1 0 -1
expect_refusal "CPU_A takes a CPU number" "$probe" 1 x 1
expect_refusal "usage" "$probe" 1 0

for program in "$train" "$sgemm" "$conv" "$sqz" "$quantize" "$corunner" "$probe"; do
  help=$("$program" --help 2>&1)
  code=$?
  if [ "$code" -ne 0 ] || ! printf '%s' "$help" | grep -q "^usage: "; then
    echo "FAIL: $program --help -> exit $code: $help"
    failures=$((failures + 1))
  fi
done

# peer.sh's summary: each figure against its goal, on either side of the line and at it, and a
# figure that is missing (no batch rows without python3-onnx) is not met.
summary=$(cd "$bench/.." && bash -c 'source bench/peer_setup.sh t
  goal a 0.80 "<=" 0.80 x; goal b 0.81 "<=" 0.80 x; goal c 49.9 "<" 50 " ms"; goal d 50 "<" 50 " ms"
  goal e 1.01 ">" 1 x; goal f 1 ">" 1 x; goal g "" ">" 1 x; echo "$goals_met of $goals_total"')
expected="  a                                        0.80x (goal <= 0.80x): met
  b                                        0.81x (goal <= 0.80x): NOT met
  c                                      49.9 ms (goal < 50 ms): met
  d                                      50.0 ms (goal < 50 ms): NOT met
  e                                        1.01x (goal > 1x): met
  f                                        1.00x (goal > 1x): NOT met
  g                                         none (goal > 1x): NOT met
3 of 7"
if [ "$summary" != "$expected" ]; then
  echo "FAIL: peer_setup.sh's goal lines:"; echo "$summary"
  failures=$((failures + 1))
fi

[ "$failures" -eq 0 ] && echo "bench options: every refusal and --help as expected"
exit $((failures > 0))
