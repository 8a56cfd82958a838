#!/usr/bin/env bash
# The Linux build and exmsync.exe under Wine agree: the same tree (non-ASCII
# NFC and NFD names, spaces, empty files and folders) gives byte-identical
# manifests, a push made by one is reported in sync by the other's diff, and
# both pushed trees equal the source (diff -r). Archives piped from one
# build's pack -o - apply with the other's apply -, and a Linux client pushes
# through exmsync.exe serving as its agent over stdin and stdout.
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

# 5. Archives through standard input and output, which must stay binary on
#    Windows (a CRLF translation or a ^Z would corrupt them): packed by one
#    build, applied from a pipe by the other.
"$linux" manifest "$work/by-windows" -o "$work/by-windows.manifest"
"$linux" pack "$src" --base "$work/by-windows.manifest" -o - 2>"$work/pack.err" |
  "$wine64" "$windows" apply - "$(z "$work/by-windows")" >/dev/null ||
  fail "exmsync.exe could not apply an archive from standard input ($(cat "$work/pack.err"))"
diff -r --exclude=.exmsync "$src" "$work/by-windows" || fail "the archive applied by exmsync.exe differs from the source"
printf 'changed again\n' >"$src/layouts/EmailCampaign/Imported/empty.html"
win pack "$(z "$src")" --base "$(z "$work/by-linux")" -o - 2>"$work/pack.err" |
  "$linux" apply - "$work/by-linux" >/dev/null ||
  fail "the Linux build could not apply exmsync.exe's archive from its standard output ($(cat "$work/pack.err"))"
diff -r --exclude=.exmsync "$src" "$work/by-linux" || fail "exmsync.exe's archive differs from the source"
echo "cross-check: archives through pipes apply on the other build"

# 6. exmsync.exe as the agent of a Linux client, as on a Windows dispatch
#    server reached over SSH: --rsh is a stand-in for ssh that runs the
#    remote command here, and the remote exmsync is exmsync.exe under Wine
#    (its --root given as Wine's Z: path).
cat >"$work/fake-ssh" <<'SH'
#!/bin/sh
# ssh [options] HOST COMMAND: run COMMAND here.
while [ $# -gt 1 ]; do shift; done
exec sh -c "$1"
SH
cat >"$work/exmsync-wine" <<SH
#!/bin/sh
for arg do
  shift
  case \$arg in --root=/*) arg="--root=Z:\$(printf '%s' "\${arg#--root=}" | tr / '\\\\\\\\')" ;; esac
  set -- "\$@" "\$arg"
done
exec "$wine64" "$windows" "\$@"
SH
chmod +x "$work/fake-ssh" "$work/exmsync-wine"
agent_push() {
  "$linux" push --json --rsh "$work/fake-ssh" --remote-exmsync "$work/exmsync-wine" "$src" \
    "ssh://localhost$work/by-agent" >"$work/agent.json" || fail "push to exmsync.exe agent failed: $(cat "$work/agent.json")"
  grep -q '"mode": *"agent"' "$work/agent.json" || fail "not pushed in agent mode: $(cat "$work/agent.json")"
}
mkdir "$work/by-agent"
agent_push
diff -r --exclude=.exmsync "$src" "$work/by-agent" || fail "the push through exmsync.exe's agent differs from the source"
printf 'changed through the agent\n' >"$src/layouts/EmailCampaign/Imported/empty.html"
mv "$src/layouts/EmailCampaign/Imported/banner.png" "$src/layouts/EmailCampaign/Imported/banner-2.png"
agent_push
diff -r --exclude=.exmsync "$src" "$work/by-agent" || fail "the second push through exmsync.exe's agent differs"
agent_push
grep -q '"status": *"in_sync"' "$work/agent.json" || fail "a no-op through exmsync.exe's agent was not in sync: $(cat "$work/agent.json")"
win diff "$(z "$src")" "$(z "$work/by-agent")" >/dev/null || fail "exmsync.exe sees a difference after its agent's push"
echo "cross-check: a Linux client pushes through exmsync.exe as its agent"
