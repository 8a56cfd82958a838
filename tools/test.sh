#!/usr/bin/env bash
# The test command: sets up, builds, and runs every test suite with ctest:
# the Linux suites, then the Windows suites cross-built and run under Wine
# (tools/test-windows.sh; EXMSYNC_WINDOWS_TESTS=0 leaves them out).
# Arguments go to the Linux ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)" "$@")
if [ "${EXMSYNC_WINDOWS_TESTS:-1}" != 0 ]; then
  tools/test-windows.sh
fi
