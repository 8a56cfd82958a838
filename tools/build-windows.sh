#!/usr/bin/env bash
# Cross-builds exmsync.exe for 64-bit Windows on Debian 12: one static
# executable, no DLLs to deploy. Installs the MinGW-w64 toolchain and builds
# the compiled dependencies from Debian's source packages first
# (tools/build-windows-deps.sh; cached, so a second run only builds exmsync).
#
#   tools/build-windows.sh [BUILD_DIR]     (default: build-windows)
#
# Leaves BUILD_DIR/tools/exmsync.exe, the test suites, and
# BUILD_DIR/exmsync-VERSION-windows-x86_64.zip (exmsync.exe, README.md,
# LICENSE and the scheduled-task files of tools/windows).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-windows}

log() { echo "build-windows: $*" >&2; }

if ! command -v zip >/dev/null 2>&1; then
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends zip >/dev/null
fi

started=$(date +%s)
prefix=$(bash tools/build-windows-deps.sh | tail -n1)
log "dependencies: $prefix ($(($(date +%s) - started)) s)"

export WINEPREFIX="${WINEPREFIX:-${XDG_CACHE_HOME:-$HOME/.cache}/exmsync/wineprefix}"
cmake -S . -B "$build" -G Ninja \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/tools/windows/toolchain-mingw64.cmake" \
  -DEXMSYNC_WIN_DEPS="$prefix" -DEXMSYNC_WINEPREFIX="$WINEPREFIX" \
  -DCMAKE_BUILD_TYPE="${EXMSYNC_BUILD_TYPE:-Release}" >/dev/null
cmake --build "$build" -j"$(nproc)"

# Only Windows' own DLLs may be imported: anything else would have to be
# shipped beside exmsync.exe.
exe="$build/tools/exmsync.exe"
system_dlls='^(kernel32|msvcrt|ucrtbase|api-ms-win-[a-z0-9-]+|advapi32|user32|shell32|ws2_32|bcrypt|ole32|oleaut32|shlwapi|ntdll|userenv|crypt32|secur32|rstrtmgr)\.dll$'
if x86_64-w64-mingw32-objdump -p "$exe" | awk '/DLL Name/ { print tolower($3) }' | grep -vE "$system_dlls" >&2; then
  log "$exe imports the DLLs above, which a Windows server does not have"
  exit 1
fi

version=$(sed -nE 's/^project\(exmsync VERSION ([0-9.]+).*/\1/p' CMakeLists.txt)
package="$build/exmsync-$version-windows-x86_64"
rm -rf "$package" "$package.zip"
mkdir -p "$package"
cp "$exe" README.md LICENSE "$package/"
cp tools/windows/exmsync-task.xml tools/windows/register-task.ps1 "$package/"
(cd "$build" && zip -qr "$(basename "$package").zip" "$(basename "$package")")
rm -rf "$package"
log "built $exe and $package.zip in $(($(date +%s) - started)) s"
