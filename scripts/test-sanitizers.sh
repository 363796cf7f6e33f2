#!/usr/bin/env bash
# Builds the whole project with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan/ and runs the test suite there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --tests
# The Python module is left out (an ASan-built extension needs the runtime preloaded into
# python3), and the benchmarks (no test runs them). -O1 with line tables only: the checks and
# line numbers in reports, in half the compile time of RelWithDebInfo's -O2 -g.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DSQZ_SANITIZE=ON -DSQZ_PYTHON=OFF -DSQZ_BENCH=OFF >/dev/null
set +e
cmake --build build-asan -j"$(nproc)" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^Consolidate|^Scanning|^Built target|^gmake'
status=${PIPESTATUS[0]}
set -e
[ "$status" -eq 0 ] || exit "$status"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
ctest --test-dir build-asan --output-on-failure -j2
