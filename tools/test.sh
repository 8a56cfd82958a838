#!/usr/bin/env bash
# The test command: sets up, builds, and runs every test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh
cd build
ctest --output-on-failure -j"$(nproc)" "$@"
