#!/usr/bin/env bash
# Installs dependencies and builds into build/ (Release). Extra arguments go to cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
# Progress lines are dropped; warnings and errors stay.
set +e
cmake --build build -j"$(nproc)" 2>&1 | grep -Ev '^\[ *[0-9]+%\]|^Consolidate|^Scanning|^Built target|^gmake'
status=${PIPESTATUS[0]}
set -e
exit "$status"
