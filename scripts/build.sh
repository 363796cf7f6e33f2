#!/usr/bin/env bash
# Installs dependencies and builds into build/ (Release). Extra arguments go to cmake;
# SQZ_TARGETS (space-separated) builds only those targets, SQZ_DEPS=--tests adds the test-only
# packages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh ${SQZ_DEPS:-}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
# Progress lines are dropped; warnings and errors stay.
set +e
targets=()
for t in ${SQZ_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build build -j"$(nproc)" "${targets[@]}" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^Consolidate|^Scanning|^Built target|^gmake'
status=${PIPESTATUS[0]}
set -e
exit "$status"
