#!/usr/bin/env bash
# The Windows test suites: cross-builds them (tools/build-windows.sh), runs
# them with ctest under Debian's wine64, then checks that exmsync.exe and the
# Linux build (build/, made by tools/build.sh if missing) agree on manifests
# and on each other's pushes (tools/windows/cross-check.sh). Arguments go to
# ctest.
#
#   tools/test-windows.sh [CTEST_ARGS...]
#
# The Wine prefix lives in ${XDG_CACHE_HOME:-$HOME/.cache}/exmsync/wineprefix
# (override: WINEPREFIX); the build in build-windows.
set -euo pipefail
cd "$(dirname "$0")/.."
build=build-windows
export WINEPREFIX="${WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/exmsync/wineprefix}"
export WINEDEBUG=-all
# No Wine Mono or Gecko: no test needs them, and their install prompts would
# only cost time on the first start.
export WINEDLLOVERRIDES="mscoree,mshtml="
wine64=/usr/lib/wine/wine64
wineserver=/usr/lib/wine/wineserver

log() { echo "test-windows: $*" >&2; }

# The build installs wine64 with the toolchain (tools/build-windows-deps.sh).
# Its first start creates the prefix; done once, up front, so that it is not
# charged to (and does not time out) the first test discovery.
prepare_wine() {
  if [ ! -f "$WINEPREFIX/system.reg" ]; then
    local t0; t0=$(date +%s)
    mkdir -p "$WINEPREFIX"
    "$wine64" wineboot --init </dev/null >/dev/null 2>&1
    "$wineserver" -w
    log "created $WINEPREFIX ($(($(date +%s) - t0)) s)"
  fi
  # Wine starts a wineserver and service processes with the first program and
  # stops them 3 s after the last one ends. Started by a test, they would hold
  # ctest's output pipe for those seconds; started here with /dev/null as
  # their stdio and kept up, a test costs a fraction of a second.
  "$wineserver" -p600 </dev/null >/dev/null 2>&1
  "$wine64" cmd /c exit </dev/null >/dev/null 2>&1
}

if [ ! -x "$wine64" ]; then
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends wine64 >/dev/null
fi
prepare_wine
trap '"$wineserver" -k 2>/dev/null || true' EXIT
started=$(date +%s)
tools/build-windows.sh "$build"
(cd "$build" && ctest --output-on-failure -j"$(nproc)" "$@")
[ -x build/tools/exmsync ] || tools/build.sh
tools/windows/cross-check.sh build/tools/exmsync "$build/tools/exmsync.exe"
log "done in $(($(date +%s) - started)) s"
