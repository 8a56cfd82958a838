#!/usr/bin/env bash
# The Linux build and exmsync.exe under Wine agree: the same tree (non-ASCII
# NFC and NFD names, spaces, empty files and folders) gives byte-identical
# manifests, a push made by one is reported in sync by the other's diff, and
# both pushed trees equal the source (diff -r).
#
#   tools/windows/cross-check.sh LINUX_EXMSYNC WINDOWS_EXMSYNC_EXE
#
# Expects WINEPREFIX (and a running wineserver, as tools/test-windows.sh
# leaves it); Wine's drive Z: is the Linux root.
set -euo pipefail
linux=$(realpath "$1")
windows=$(realpath "$2")
wine64=/usr/lib/wine/wine64
export WINEDEBUG=-all

work=$(mktemp -d "${TMPDIR:-/tmp}/exmsync-cross.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "cross-check: $*" >&2; exit 1; }
win() { "$wine64" "$windows" "$@" </dev/null; }
z() { echo "Z:${1//\//\\}"; }  # the Linux path as Windows sees it under Wine

src="$work/src"
mkdir -p "$src/layouts/EmailCampaign/Imported/Welcome mail" "$src/empty folder" "$src/App_Config"
printf '<html>welcome</html>\n' >"$src/layouts/EmailCampaign/Imported/Welcome mail/index.html"
printf 'caf\xc3\xa9 NFC\n' >"$src/layouts/EmailCampaign/Imported/caf$(printf '\xc3\xa9').html"
printf 'cafe\xcc\x81 NFD\n' >"$src/layouts/EmailCampaign/Imported/cafe$(printf '\xcc\x81')-nfd.html"
printf 'r\xc3\xa9sum\xc3\xa9\n' >"$src/layouts/EmailCampaign/Imported/$(printf '\xe6\x97\xa5\xe6\x9c\xac') 日本語.txt"
: >"$src/layouts/EmailCampaign/Imported/empty.html"
printf '<configuration/>\n' >"$src/App_Config/Sitecore.EXM.config"
head -c 300000 /dev/urandom >"$src/layouts/EmailCampaign/Imported/banner.png"

# 1. The same manifest, byte for byte.
"$linux" manifest "$src" -o "$work/linux.manifest"
win manifest "$(z "$src")" -o "$(z "$work/windows.manifest")"
cmp "$work/linux.manifest" "$work/windows.manifest" ||
  fail "manifests differ: diff $work/linux.manifest $work/windows.manifest"
echo "cross-check: identical manifests ($(grep -c . "$work/linux.manifest") lines)"

# 2. exmsync.exe pushes; the Linux build's diff finds nothing to do.
mkdir "$work/by-windows"
win push "$(z "$src")" "$(z "$work/by-windows")" >/dev/null
"$linux" diff "$src" "$work/by-windows" >/dev/null || fail "the Linux build sees a difference after exmsync.exe's push"
diff -r --exclude=.exmsync "$src" "$work/by-windows" || fail "exmsync.exe's push differs from the source"

# 3. The Linux build pushes; exmsync.exe's diff finds nothing to do.
mkdir "$work/by-linux"
"$linux" push "$src" "$work/by-linux" >/dev/null
win diff "$(z "$src")" "$(z "$work/by-linux")" >/dev/null || fail "exmsync.exe sees a difference after the Linux push"
diff -r --exclude=.exmsync "$src" "$work/by-linux" || fail "the Linux push differs from the source"

# 4. A change made on the Linux side is pushed by exmsync.exe onto the
#    Linux-pushed target: one apply history, two platforms.
printf 'changed\n' >"$src/layouts/EmailCampaign/Imported/empty.html"
rm "$src/App_Config/Sitecore.EXM.config"
win push "$(z "$src")" "$(z "$work/by-linux")" >/dev/null
"$linux" diff "$src" "$work/by-linux" >/dev/null || fail "the Linux build sees a difference after exmsync.exe's second push"
diff -r --exclude=.exmsync "$src" "$work/by-linux" || fail "exmsync.exe's second push differs from the source"
echo "cross-check: pushes by either build are in sync for the other"
