#!/usr/bin/env bash
# Installs the Debian packages (tools/setup.sh) and builds exmsync into build/.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE="${EXMSYNC_BUILD_TYPE:-RelWithDebInfo}" >/dev/null
cmake --build build -j"$(nproc)"
