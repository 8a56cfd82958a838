#!/usr/bin/env bash
# The built-in demo: local folders stand in for the servers of a scaled
# Sitecore install (the primary CM, a second CM and a dispatch server), and
# exmsync does its main job on them: push the EXM templates and configs from
# the primary CM, show the drift a hand edit makes, and fix it.
#
#   tools/demo.sh [FOLDER]      (default /tmp/exmsync-demo; it is replaced)
set -euo pipefail
cd "$(dirname "$0")/.."
echo "demo: installing what is missing and building exmsync (the first time takes several minutes)" >&2
tools/build.sh >/dev/null
exmsync=$PWD/build/tools/exmsync
gentree=$PWD/build/tools/exmsync-gentree
demo=${1:-/tmp/exmsync-demo}
rm -rf "$demo"
mkdir -p "$demo/cm2/Website" "$demo/dds1/Website"
cd "$demo"

bold='' plain=''
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi
say() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
# Shows the command as it could be typed again, then runs it.
step() {
    say "$1"
    shift
    printf '$'
    printf ' %q' "$@"
    printf '\n'
    "$@"
}
# The same, showing only the first N lines of the output.
step_head() {
    local lines=$1
    say "$2"
    shift 2
    printf '$'
    printf ' %q' "$@"
    printf ' | head -n %s\n' "$lines"
    "$@" | sed -n "1,${lines}p"
}

say "The primary CM's site: 2,000 generated email templates and EXM configs"
"$gentree" cm1/Website --files 2000 --seed 1
step_head 6 "Its manifest: one line per file, XXH3-128 as xxhsum -H2 prints it" \
    "$exmsync" manifest cm1/Website --stats
step "Push to the second CM and the dispatch server (all-or-nothing per server)" \
    "$exmsync" push cm1/Website cm2/Website dds1/Website
step "Every server now holds the same files (diff prints nothing and exits 0)" \
    "$exmsync" diff cm1/Website dds1/Website
echo "exit $?"
say "Templates change on the primary CM, and someone edits a file on dds1 by hand"
"$gentree" --mutate 2 --seed 7 cm1/Website
edited=$(cd dds1/Website && find Imported -name '*.html' | sort | sed -n 1p)
echo "<!-- hotfix -->" >> "dds1/Website/$edited"
echo "edited dds1/Website/$edited"
step_head 12 "What a push would do (dry run)" "$exmsync" push --dry-run cm1/Website cm2/Website dds1/Website
step "The push: the hand edit is reported as drift, overwritten, and kept in the backup" \
    "$exmsync" push cm1/Website cm2/Website dds1/Website
step "In sync again" "$exmsync" diff cm1/Website dds1/Website
echo "exit $?"
step "dds1's history: every apply, each one can be rolled back to; 000000 is dds1 before exmsync" \
    "$exmsync" history dds1/Website
say "Done. The demo servers are in $demo; try: $exmsync rollback $demo/dds1/Website --to 000000 --dry-run"
