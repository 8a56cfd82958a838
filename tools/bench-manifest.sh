#!/usr/bin/env bash
# Benchmarks exmsync manifest and diff against the tools an operator would use
# instead (xxhsum, find, rsync) on a generated EXM template tree, and prints the
# medians side by side with the ratio and its target.
#
#   tools/bench-manifest.sh [--files N] [--runs R] [--build DIR] [--work DIR]
#                           [--keep] [--gentree PATH] [--exmsync PATH] [--peers-only]
#
# Everything runs with a warm page cache (each command runs once before it is
# measured): dropping caches needs root and is not what a repeated check sees.
# Exit status is 0 whether targets pass or fail; 2 on a setup error.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: tools/bench-manifest.sh [options]
  --files N        files in the generated tree (default 100000)
  --runs R         measured runs per command; the median is reported (default 5)
  --build DIR      CMake build directory, configured as Release if new (default build)
  --work DIR       where the trees go (default a new directory under ${TMPDIR:-/tmp});
                   a tree kept there by an earlier --keep run with the same --files is reused
  --keep           keep the trees and results afterwards
  --gentree PATH   use this exmsync-gentree instead of building it
  --exmsync PATH   use this exmsync instead of building it
  --peers-only     measure only xxhsum, find and rsync (no exmsync needed)
  --no-hyperfine   time with a date +%s%N loop even when hyperfine is installed
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_name=bench-manifest
# die, build_binaries, build_type, medians, median, report
source "$repo/tools/bench-lib.sh"
files=100000
runs=5
build=build
work=
keep=false
gentree=
exmsync=
peers_only=false
no_hyperfine=false
readonly seed=1
readonly old_time=@1577836800   # 2020-01-01: far from "now", so no file is racily clean

while [ $# -gt 0 ]; do
    case $1 in
        --files) files=${2:?--files needs a value}; shift 2 ;;
        --runs) runs=${2:?--runs needs a value}; shift 2 ;;
        --build) build=${2:?--build needs a value}; shift 2 ;;
        --work) work=${2:?--work needs a value}; shift 2 ;;
        --gentree) gentree=${2:?--gentree needs a value}; shift 2 ;;
        --exmsync) exmsync=${2:?--exmsync needs a value}; shift 2 ;;
        --keep) keep=true; shift ;;
        --peers-only) peers_only=true; shift ;;
        --no-hyperfine) no_hyperfine=true; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done
[[ $files =~ ^[0-9]+$ && $files -gt 0 ]] || die "--files needs a positive integer, got '$files'"
[[ $runs =~ ^[0-9]+$ && $runs -gt 0 ]] || die "--runs needs a positive integer, got '$runs'"
case $build in /*) ;; *) build=$repo/$build ;; esac

for tool in xxhsum rsync find xargs /usr/bin/time; do
    command -v "$tool" >/dev/null || die "$tool not found; run tools/setup.sh"
done
have_hyperfine=false
$no_hyperfine || ! command -v hyperfine >/dev/null || have_hyperfine=true

# ---------------------------------------------------------------------------
# Work directory. Only what this script creates is removed at the end.

made_work=false
if [ -z "$work" ]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/exmsync-bench.XXXXXX")
    made_work=true
else
    mkdir -p "$work"
    work=$(cd "$work" && pwd)
fi
tree1=$work/tree1
tree2=$work/tree2
results=$work/results

cleanup() {
    if $keep; then
        echo "bench-manifest: kept $work" >&2
    elif $made_work; then
        rm -rf -- "$work"
    else
        rm -rf -- "$tree1" "$tree2" "$results" "$work/tree.params" "$work/build.log"
        rmdir -- "$work" 2>/dev/null || true
    fi
}
trap cleanup EXIT
mkdir -p "$results"

# ---------------------------------------------------------------------------
# Trees: generated once, copied, every timestamp set to the same old time.

make_trees() {
    local params="files=$files seed=$seed"
    if [ -d "$tree1" ] && [ -d "$tree2" ] && [ "$(cat "$work/tree.params" 2>/dev/null)" = "$params" ]; then
        echo "bench-manifest: reusing the trees in $work" >&2
    else
        if [ -e "$tree1" ] || [ -e "$tree2" ]; then
            die "$work already holds tree1/tree2 made with other parameters; remove them or pick another --work"
        fi
        echo "bench-manifest: generating $files files in $tree1" >&2
        "$gentree" "$tree1" --files "$files" --seed "$seed"
        cp -a "$tree1" "$tree2"
        echo "$params" >"$work/tree.params"
    fi
    find "$tree1" "$tree2" -path '*/.exmsync' -prune -o -exec touch -h -d "$old_time" {} +
}

# exmsync keeps its stat cache in TREE/.exmsync; creating it changes the
# root's mtime, which rsync would then report. Fill the caches, then reset.
fill_caches() {
    "$exmsync" manifest "$tree1" -o "$results/warm1.manifest"
    "$exmsync" manifest "$tree2" -o "$results/warm2.manifest"
    touch -d "$old_time" "$tree1" "$tree2"
    local rc=0
    "$exmsync" diff "$tree1" "$tree2" >"$results/diff.out" 2>&1 || rc=$?
    [ "$rc" -eq 0 ] || echo "bench-manifest: WARNING: exmsync diff of two identical trees exited $rc (see $results/diff.out)" >&2
}

# Median max-RSS in KiB of a command run R times under /usr/bin/time.
median_rss() {
    local i
    for ((i = 0; i < runs; i++)); do
        /usr/bin/time -f %M -o "$results/rss.txt" "$@" >/dev/null 2>&1 || true
        tail -1 "$results/rss.txt"
    done | median
}

# ---------------------------------------------------------------------------
# Main

build_binaries
make_trees
$peers_only || fill_caches

q1=$(printf %q "$tree1")
q2=$(printf %q "$tree2")
qx=$(printf %q "${exmsync:-exmsync}")
qout=$(printf %q "$results/bench.manifest")
rsync_n="rsync -a -n --delete --exclude=.exmsync $q1/ $q2/"
rsync_c="rsync -a -n -c --delete --exclude=.exmsync $q1/ $q2/"
xxh="find $q1 -path $q1/.exmsync -prune -o -type f -print0 | xargs -0 -P2 xxhsum -H2 >/dev/null"
stat_walk="find $q1 -printf '%s %T@\n' >/dev/null"

tree_bytes=$(find "$tree1" -path "$tree1/.exmsync" -prune -o -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')
echo
echo "exmsync benchmark: $files files, $((tree_bytes / 1048576)) MiB, median of $runs runs, warm page cache"
echo "  host: $(nproc) cores, $(uname -sr); timing: $($have_hyperfine && hyperfine --version || echo 'date +%s%N loop')"
$peers_only || echo "  exmsync: $exmsync ($(build_type))"
echo

declare -a m
if $peers_only; then
    mapfile -t m < <(medians cold "$xxh");             report "cold manifest" exmsync "" "xxhsum -P2" "${m[0]}" s 1.0
    mapfile -t m < <(medians warm "$stat_walk");       report "warm rescan" exmsync "" "find -printf" "${m[0]}" s 1.5
    mapfile -t m < <(medians diff "$rsync_n" "$rsync_c")
    report "diff identical" exmsync "" "rsync -n" "${m[0]}" s 1.0
    report "diff identical" exmsync "" "rsync -n -c" "${m[1]}" s 0.1
    report "peak memory" exmsync "" "rsync -n" "$(median_rss rsync -a -n --delete --exclude=.exmsync "$tree1/" "$tree2/")" KiB 1.0
else
    mapfile -t m < <(medians cold "$qx manifest $q1 --no-cache -o $qout" "$xxh")
    report "cold manifest" exmsync "${m[0]}" "xxhsum -P2" "${m[1]}" s 1.0
    mapfile -t m < <(medians warm "$qx manifest $q1 -o $qout" "$stat_walk")
    report "warm rescan" exmsync "${m[0]}" "find -printf" "${m[1]}" s 1.5
    mapfile -t m < <(medians diff "$qx diff $q1 $q2" "$rsync_n" "$rsync_c")
    report "diff identical" exmsync "${m[0]}" "rsync -n" "${m[1]}" s 1.0
    report "diff identical" exmsync "${m[0]}" "rsync -n -c" "${m[2]}" s 0.1
    report "peak memory" exmsync "$(median_rss "$exmsync" manifest "$tree1" --no-cache -o "$results/bench.manifest")" \
        "rsync -n" "$(median_rss rsync -a -n --delete --exclude=.exmsync "$tree1/" "$tree2/")" KiB 1.0
fi

echo
echo "peak memory is the max RSS /usr/bin/time reports (exmsync manifest --no-cache; rsync -n"
echo "of the two trees). rsync forks: that figure is the largest single process it waited for"
echo "(Linux wait4 max RSS), not the sum of its processes."
if $peers_only; then
    echo "summary: peers only, no exmsync measured"
else
    echo "summary: $passes passed, $fails failed of $((passes + fails)) targets"
fi
exit 0
