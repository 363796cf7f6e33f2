#!/usr/bin/env bash
# Builds and runs the whole test suite. Tests that need ../shared skip without it.
set -euo pipefail
cd "$(dirname "$0")/.."
SQZ_DEPS=--tests bash scripts/build.sh
ctest --test-dir build --output-on-failure -j2
