#!/usr/bin/env bash
# Benchmarks the memory exmsync needs as a tree grows (issue 11, "bounded memory
# at any scale"): on a tree of small templates at two sizes (100,000 and
# 1,000,000 files by default) it measures, side by side in one run, the peak
# memory and the time (/usr/bin/time -f '%M %e': max RSS in KiB, seconds) of
#   exmsync manifest --no-cache TREE
#   exmsync diff --no-cache TREE EMPTY                  (exit 1 expected)
#   exmsync pack --no-cache TREE --base EMPTY -o ARCHIVE
#   exmsync apply ARCHIVE EMPTY2
#   exmsync push --no-cache TREE EMPTY3                 (the first push)
#   exmsync push --cache C TREE EMPTY3                  (again: a no-op)
#   rsync -a TREE/ R1/  and  rsync -a --fsync TREE/ R2/ (the tool used instead)
# and prints the goals and whether they are met:
#   - every exmsync command peaks at <= 64 MiB at the larger size;
#   - each exmsync command peaks at the larger size at <= 1.2x its peak at the
#     smaller one;
#   - the first push takes <= 1.0x the time of rsync -a --fsync (at each size);
#   - apply of the archive takes <= 1.2x the push of the same tree (at each size).
#
#   tools/bench-memory.sh [--files-small N] [--files-large N] [--runs R]
#                         [--runs-large R] [--work DIR] [--keep] [--build DIR]
#                         [--exmsync PATH] [--gentree PATH]
#
# The tree: exmsync-gentree makes 2-60 KB files, 60 GB at a million; this
# script writes its own with a small python3 generator instead: HTML templates
# of 700-1300 bytes (about 1 KB, different content for each index), 200 a
# folder, 50 folders a group (TREE/g000/d00000/template-0000000.html), every
# timestamp 2020-01-01. The same --files always gives the same tree (its
# manifest root is printed); a million files take about a minute.
#
# Each run gets fresh, empty destination folders. The destinations of a run are
# checked against the tree (rsync -rcn --delete, content not timestamps), then
# removed; the next run starts at least 65 s after that (see settle below).
# Every measured command is preceded, outside the timing, by a warm-up read of
# the tree (exmsync manifest --no-cache, which reads every file) and by `sync`,
# so that all of them run with a warm page cache and none pays for writing back
# what an earlier one left dirty. The no-op push is measured with a warm stat
# cache (one untimed push fills it first), as a scheduled push finds it.
# A million-file run of rsync --fsync alone takes many minutes, so the larger
# size is run once by default (--runs-large); the output says so.
#
# Exit status: 0 whether the goals are met or not; 1 if a measured command
# failed or a destination came out wrong (the work folder is then kept for a
# look); 2 on a setup error.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: tools/bench-memory.sh [options]
  --files-small N  files in the smaller tree (default 100000)
  --files-large N  files in the larger tree (default 1000000)
  --runs R         measured runs of each command on the smaller tree; the median
                   is reported (default 3)
  --runs-large R   the same on the larger tree (default 1: one run of rsync --fsync
                   alone takes minutes there)
  --work DIR       where the trees go (default a new folder under /work if it exists,
                   else under ${TMPDIR:-/tmp}); it must be on a disk, not tmpfs, since
                   fsync must cost what it costs. About 24 GiB are needed for a million
                   files (the tree and four copies of it at once, 4 KiB a small file).
                   A tree kept there by an earlier --keep run is reused.
  --keep           keep the trees and results afterwards
  --build DIR      CMake build directory, configured as Release if new (default build-rel)
  --exmsync PATH   use this exmsync instead of building it
  --gentree PATH   accepted as by the other benchmarks, and unused: the tree is made here
  -h, --help       this help
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_name=bench-memory
# die, build_binaries, build_type, median, passes, fails
source "$repo/tools/bench-lib.sh"

files_small=100000
files_large=1000000
runs_small=3
runs_large=1
build="build-rel"
work=
keep=false
gentree=
exmsync=
peers_only=false
readonly per_dir=200 dirs_per_group=50
readonly old_time=1577836800           # 2020-01-01: far from "now", so no file is racily clean
readonly limit_kib=65536                # 64 MiB
readonly growth_goal=1.2 push_goal=1.0 apply_goal=1.2
readonly settle_seconds=65
readonly generator_version=1           # bump when the generator's output changes

while [ $# -gt 0 ]; do
    case $1 in
        --files-small) files_small=${2:?--files-small needs a value}; shift 2 ;;
        --files-large) files_large=${2:?--files-large needs a value}; shift 2 ;;
        --runs) runs_small=${2:?--runs needs a value}; shift 2 ;;
        --runs-large) runs_large=${2:?--runs-large needs a value}; shift 2 ;;
        --work) work=${2:?--work needs a value}; shift 2 ;;
        --build) build=${2:?--build needs a value}; shift 2 ;;
        --exmsync) exmsync=${2:?--exmsync needs a value}; shift 2 ;;
        --gentree) shift 2 ;;
        --keep) keep=true; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done
for v in files_small files_large runs_small runs_large; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -gt 0 ]] || die "--${v//_/-} needs a positive integer, got '${!v}'"
done
[ "$files_small" -ne "$files_large" ] || die "--files-small and --files-large must differ"
case $build in /*) ;; *) build=$repo/$build ;; esac
# build_binaries builds exmsync-gentree unless one is given; nothing here uses it.
gentree=$(type -P true)

for tool in rsync python3 find xargs df /usr/bin/time; do
    command -v "$tool" >/dev/null || die "$tool not found; run tools/setup.sh"
done
[[ $(rsync --help 2>&1) == *--fsync* ]] || die "this rsync has no --fsync (3.2.4 or later needed)"

# ---------------------------------------------------------------------------
# Work directory. Only what this script creates is removed at the end.

made_work=false
if [ -z "$work" ]; then
    parent=/work
    [ -d "$parent" ] && [ -w "$parent" ] || parent=${TMPDIR:-/tmp}
    work=$(mktemp -d "$parent/exmsync-bench-memory.XXXXXX")
    made_work=true
else
    mkdir -p "$work"
    work=$(cd "$work" && pwd)
fi
fs_type=$(df -PT "$work" | awk 'NR == 2 { print $2 }')
case $fs_type in
    tmpfs|ramfs)
        $made_work && rmdir -- "$work"
        die "$work is on $fs_type, where fsync costs nothing and the push/rsync --fsync comparison means nothing; pick --work on a disk" ;;
esac
results=$work/results
run_dir=$work/run

# rm -rf TREE..., 16 at a time below each tree's second level: where the file
# system discards (TRIMs) each freed extent synchronously, as with ext4 mounted
# -o discard, a lone rm waits for each in turn (a million files: many minutes).
last_removal=0
remove_trees() {
    local t any=false
    for t in "$@"; do
        [ -e "$t" ] || continue
        any=true
        [ -d "$t" ] && find "$t" -mindepth 2 -maxdepth 2 -type d -print0 | xargs -0 -r -P 16 -n 8 rm -rf --
    done
    rm -rf -- "$@"
    ! $any || last_removal=$(date +%s)
}

# ext4 without a journal (as on some VMs) does not reuse an inode for 60 s
# after it was freed (RECENTCY_MIN in fs/ext4/ialloc.c), and scans past every
# such inode on each file it creates: creating a tree right after removing
# one is then several times slower, for every tool alike. Before a run, wait
# until the last removal is 65 s old.
settle() {
    local wait=$((last_removal + settle_seconds - $(date +%s)))
    [ "$wait" -le 0 ] || sleep "$wait"
}

failed=false
fail_run() { failed=true; echo "bench-memory: ERROR: $*" >&2; exit 1; }
# shellcheck disable=SC2317  # run by the trap
cleanup() {
    if $keep || $failed; then
        echo "bench-memory: kept $work" >&2
    elif $made_work; then
        remove_trees "$work"/tree-* "$run_dir"
        rm -rf -- "$work"
    else
        remove_trees "$work"/tree-* "$run_dir"
        rm -rf -- "$results" "$work/cache" "$work/tmp" "$work/xdg-cache" "$work/build.log"
        rmdir -- "$work" 2>/dev/null || true
    fi
}
trap cleanup EXIT
remove_trees "$run_dir" "$results"
mkdir -p "$results" "$work/cache" "$work/tmp" "$work/xdg-cache"
# exmsync's temporary manifests and any default stat cache stay in the work folder.
export TMPDIR=$work/tmp XDG_CACHE_HOME=$work/xdg-cache

# ---------------------------------------------------------------------------
# Space: one run holds the tree and four copies of it (apply, push, rsync,
# rsync --fsync) plus the archive. Each small file takes one block.

block=$(stat -f -c %S "$work")
tree_kib() {  # estimate of the tree of $1 files on this file system
    local n=$1
    echo $(( (n * ((1300 + block - 1) / block) * block + (n / per_dir + 1) * 3 * block) / 1024 + 1024 ))
}
need_kib() {  # tree + 4 copies + archive and temporary manifests (bounded by 1.5 KB a file), +10%
    local n=$1
    echo $(( ($(tree_kib "$n") * 5 + n * 3 / 2) * 11 / 10 ))
}
check_space() {
    local big=$files_large need inodes avail ifree have=0 n
    [ "$files_small" -le "$files_large" ] || big=$files_small
    need=$(need_kib "$big")
    inodes=$(( (big + big / per_dir + 100) * 5 * 11 / 10 ))
    for n in "$files_small" "$files_large"; do   # a tree kept by an earlier run is there already
        [ ! -f "$work/tree-$n.params" ] || have=$((have + $(tree_kib "$n")))
    done
    # With --keep the smaller tree stays while the larger one runs.
    ! $keep || need=$((need + $(tree_kib "$files_small")))
    need=$((need - have))
    avail=$(df -Pk "$work" | awk 'NR == 2 { print $4 }')
    ifree=$(df -Pi "$work" | awk 'NR == 2 { print $4 }')
    [ "$avail" -ge "$need" ] ||
        die "a run at $big files needs about $((need / 1048576 + 1)) GiB free in $work (the tree and 4 copies of it, 1 block a file, and the archive); $((avail / 1048576)) GiB are. Free some space, pick another --work, or lower --files-large"
    [[ $ifree =~ ^[0-9]+$ ]] && [ "$ifree" -lt "$inodes" ] &&
        die "a run at $big files needs about $inodes free inodes in $work; $ifree are"
    return 0
}

# ---------------------------------------------------------------------------
# The tree of small templates.

generate() {  # generate DIR FILES
    python3 - "$1" "$2" "$per_dir" "$dirs_per_group" "$old_time" <<'EOF'
import os, sys
root, n, per_dir, per_group, mtime = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
os.umask(0o022)
lorem = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
         "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure "
         "dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. ") * 8
times = (mtime, mtime)
flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
os.mkdir(root)
dirs, d = [], root
for i in range(n):
    if i % per_dir == 0:
        k = i // per_dir
        g = "%s/g%03d" % (root, k // per_group)
        if k % per_group == 0:
            os.mkdir(g)
            dirs.append(g)
        d = "%s/d%05d" % (g, k)
        os.mkdir(d)
        dirs.append(d)
    size = 700 + (i * 2654435761) % 601          # 700..1300 bytes, spread over the indexes
    head = ('<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>EXM template %d</title></head>\n'
            '<body class="exm-template" data-template="%d">\n<h1>Newsletter %d</h1>\n<p>' % (i, i, i))
    tail = "</p>\n</body>\n</html>\n"
    off = (i * 7919) % 300
    data = (head + lorem[off:off + size - len(head) - len(tail)] + tail).encode()
    fd = os.open("%s/template-%07d.html" % (d, i), flags, 0o644)
    os.write(fd, data)
    os.utime(fd, times)
    os.close(fd)
for p in reversed(dirs):
    os.utime(p, times)
os.utime(root, times)
EOF
}

make_tree() {  # make_tree FILES: leaves the tree's path in tree
    local n=$1 params start
    params="files=$n per_dir=$per_dir dirs_per_group=$dirs_per_group generator=$generator_version"
    tree=$work/tree-$n
    if [ -d "$tree" ] && [ "$(cat "$work/tree-$n.params" 2>/dev/null)" = "$params" ]; then
        echo "bench-memory: reusing $tree" >&2
        return
    fi
    [ ! -e "$tree" ] || die "$tree exists but was not made by this script with these parameters; remove it or pick another --work"
    echo "bench-memory: generating $n files in $tree" >&2
    start=$(date +%s)
    generate "$tree" "$n" || die "generating $tree failed"
    gen_seconds=$(($(date +%s) - start))
    echo "$params" >"$work/tree-$n.params"
}

# ---------------------------------------------------------------------------
# Measuring.

keys=(manifest diff pack apply push noop rsync rsync-fsync)
exm_keys=(manifest diff pack apply push noop)
declare -A label=(
    [manifest]="manifest --no-cache" [diff]="diff --no-cache" [pack]="pack --no-cache"
    [apply]="apply (the archive)" [push]="push --no-cache (first)" [noop]="push (no-op, warm cache)"
    [rsync]="rsync -a" [rsync-fsync]="rsync -a --fsync")
declare -A kib_runs sec_runs kib_med sec_med

# The warm-up read: every file's content and metadata into the page cache.
warm() { "$exmsync" manifest --no-cache "$tree" >/dev/null; }

# measure KEY WANT_RC STDOUT CMD...: one timed run; appends to kib_runs, sec_runs.
measure() {
    local key=$1 want=$2 out=$3 rc=0 tag=$n-$run-$1
    shift 3
    warm
    sync
    /usr/bin/time -f '%M %e' -o "$results/$tag.time" "$@" >"$out" 2>"$results/$tag.err" || rc=$?
    if [ "$rc" -ne "$want" ]; then
        failed=true
        echo "bench-memory: ERROR: $* exited $rc, not $want; its stderr:" >&2
        tail -20 "$results/$tag.err" >&2
        exit 1
    fi
    local line kib sec
    line=$(tail -1 "$results/$tag.time")
    read -r kib sec <<<"$line"
    [[ $kib =~ ^[0-9]+$ ]] || die "cannot read /usr/bin/time's output for $key: $line"
    kib_runs[$n:$key]+="$kib " sec_runs[$n:$key]+="$sec "
    printf '%s\t%s\t%s\t%s\t%s\n' "$n" "$run" "$key" "$kib" "$sec" >>"$results/raw.tsv"
}

# verify DEST...: each destination holds what the tree holds (content, not timestamps).
verify() {
    local t out
    for t in "$@"; do
        out=$(rsync -rcn -i --delete --exclude=.exmsync "$tree/" "$t/" 2>&1) || out+=$'\n'"(rsync exited $?)"
        if [ -n "$out" ]; then
            failed=true
            echo "bench-memory: ERROR: $t does not equal $tree (run $run); first differences:" >&2
            head -20 <<<"$out" >&2
            exit 1
        fi
    done
}

one_run() {
    local r=$run_dir
    settle
    mkdir -p "$r/empty" "$r/apply" "$r/push" "$r/rsync" "$r/rsync-fsync"
    echo "bench-memory: $n files, run $run of $runs (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
    measure manifest 0 /dev/null "$exmsync" manifest --no-cache "$tree"
    measure diff 1 /dev/null "$exmsync" diff --no-cache "$tree" "$r/empty"
    measure pack 0 "$results/$n-$run-pack.out" "$exmsync" pack --no-cache "$tree" --base "$r/empty" -o "$r/changeset.tar.zst"
    measure apply 0 "$results/$n-$run-apply.out" "$exmsync" apply "$r/changeset.tar.zst" "$r/apply"
    measure push 0 "$results/$n-$run-push.out" "$exmsync" push --no-cache "$tree" "$r/push"
    # Fills the stat cache of the tree (kept from run to run), untimed.
    "$exmsync" push --cache "$work/cache/tree-$n.statcache" "$tree" "$r/push" >"$results/$n-$run-noop-warm.out" 2>&1 ||
        { cat "$results/$n-$run-noop-warm.out" >&2; fail_run "the untimed no-op push failed (output above)"; }
    measure noop 0 "$results/$n-$run-noop.out" "$exmsync" push --cache "$work/cache/tree-$n.statcache" "$tree" "$r/push"
    grep -q 'in sync' "$results/$n-$run-noop.out" ||
        { cat "$results/$n-$run-noop.out" >&2; fail_run "the no-op push did not report the target in sync (output above)"; }
    measure rsync 0 "$results/$n-$run-rsync.out" rsync -a "$tree/" "$r/rsync/"
    measure rsync-fsync 0 "$results/$n-$run-rsync-fsync.out" rsync -a --fsync "$tree/" "$r/rsync-fsync/"
    verify "$r/apply" "$r/push" "$r/rsync" "$r/rsync-fsync"
    archive_kib[$n]=$(( $(stat -c %s "$r/changeset.tar.zst") / 1024 ))
    remove_trees "$r"
}

declare -A root_hash archive_kib tree_mib runs_of load_of
measure_size() {  # measure_size FILES RUNS
    n=$1 runs=$2
    gen_seconds=
    make_tree "$n"
    [ -z "$gen_seconds" ] || echo "bench-memory: generated $n files in $gen_seconds s" >&2
    root_hash[$n]=$("$exmsync" manifest --no-cache "$tree" | sed -n 's/^root\t//p')  # also the first warm-up
    tree_mib[$n]=$(du -sm "$tree" | cut -f1)
    runs_of[$n]=$runs load_of[$n]=$(cut -d' ' -f1-3 /proc/loadavg)
    for ((run = 1; run <= runs; run++)); do one_run; done
    local key
    for key in "${keys[@]}"; do
        kib_med[$n:$key]=$(tr ' ' '\n' <<<"${kib_runs[$n:$key]}" | grep . | median | awk '{ printf "%.0f", $1 }')
        sec_med[$n:$key]=$(tr ' ' '\n' <<<"${sec_runs[$n:$key]}" | grep . | median | awk '{ printf "%.2f", $1 }')
    done
}

# ---------------------------------------------------------------------------
# Main

check_space
build_binaries
start_all=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

measure_size "$files_small" "$runs_small"
$keep || remove_trees "$work/tree-$files_small" "$work/tree-$files_small.params"
measure_size "$files_large" "$runs_large"
$keep || remove_trees "$work/tree-$files_large" "$work/tree-$files_large.params"

s=$files_small l=$files_large
runs_note() {
    if [ "${runs_of[$1]}" -eq 1 ]; then echo "1 run (not a median)"; else echo "median of ${runs_of[$1]} runs"; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "inf" && a + 0 <= b + 0) }'; }
row() { printf '%-32s %16s %16s %7s  %-24s %s\n' "$@"; }

echo
echo "exmsync memory benchmark: small templates (700-1300 bytes, $per_dir a folder), warm page cache"
echo "  $s files: ${tree_mib[$s]} MiB on disk, manifest root ${root_hash[$s]}, $(runs_note "$s"), load ${load_of[$s]}"
echo "  $l files: ${tree_mib[$l]} MiB on disk, manifest root ${root_hash[$l]}, $(runs_note "$l"), load ${load_of[$l]}"
echo "  host: $(nproc) cores, $(uname -sr), $fs_type at $work; $(rsync --version | head -1 | sed 's/  */ /g')"
echo "  exmsync: $exmsync ($(build_type))"
echo "  load average at start: $load_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
row what "$s files" "$l files" ratio goal met?
for key in "${keys[@]}"; do
    a=${kib_med[$s:$key]} b=${kib_med[$l:$key]}
    r=$(ratio "$b" "$a")
    if [[ " ${exm_keys[*]} " == *" $key "* ]]; then
        verdict=
        if le "$b" "$limit_kib"; then passes=$((passes + 1)); else verdict+="FAIL: over 64 MiB; "; fails=$((fails + 1)); fi
        if le "$r" "$growth_goal"; then passes=$((passes + 1)); else verdict+="FAIL: grows ${r}x; "; fails=$((fails + 1)); fi
        verdict=${verdict%; }
        row "peak ${label[$key]}" "$a KiB" "$b KiB" "$r" "<=$limit_kib KiB, <=${growth_goal}x" "${verdict:-PASS}"
    else
        row "peak ${label[$key]}" "$a KiB" "$b KiB" "$r" - -
    fi
done
for key in "${keys[@]}"; do
    row "time ${label[$key]}" "${sec_med[$s:$key]} s" "${sec_med[$l:$key]} s" \
        "$(ratio "${sec_med[$l:$key]}" "${sec_med[$s:$key]}")" "- (files x$(ratio "$l" "$s"))" -
done
# goal_row LABEL KEY PEER_KEY GOAL: time of KEY / time of PEER_KEY at each size.
goal_row() {
    local what=$1 key=$2 peer=$3 goal=$4 rs rl met=PASS
    rs=$(ratio "${sec_med[$s:$key]}" "${sec_med[$s:$peer]}")
    rl=$(ratio "${sec_med[$l:$key]}" "${sec_med[$l:$peer]}")
    if le "$rs" "$goal" && le "$rl" "$goal"; then
        passes=$((passes + 1))
    else
        fails=$((fails + 1)); met=FAIL
        le "$rs" "$goal" || met+=" at $s"
        le "$rl" "$goal" || met+=" at $l"
    fi
    row "$what" "$rs" "$rl" - "<=$goal at each size" "$met"
}
goal_row "time first push / rsync --fsync" push rsync-fsync "$push_goal"
goal_row "time apply / first push" apply push "$apply_goal"
row "time first push / rsync -a" "$(ratio "${sec_med[$s:push]}" "${sec_med[$s:rsync]}")" \
    "$(ratio "${sec_med[$l:push]}" "${sec_med[$l:rsync]}")" - - -

echo
echo "raw numbers, each run: peak KiB / seconds (also in results/raw.tsv while the work folder is kept)"
for n in "$s" "$l"; do
    for key in "${keys[@]}"; do
        read -ra ks <<<"${kib_runs[$n:$key]}"
        read -ra ss <<<"${sec_runs[$n:$key]}"
        line=
        for i in "${!ks[@]}"; do line+=$(printf ' %8s/%-7s' "${ks[$i]}" "${ss[$i]}"); done
        printf '  %8s files  %-26s%s\n' "$n" "${label[$key]}" "$line"
    done
    echo "  $n files: the archive (zstd tar) is ${archive_kib[$n]} KiB"
done

echo
echo "peak = max RSS (/usr/bin/time %M); for rsync, which forks, the largest single process"
echo "(Linux wait4), not the sum. The ratio of a peak row is larger/smaller; of a time row too."
echo "64 MiB = $limit_kib KiB. Each run starts from fresh empty destinations, each checked"
echo "afterwards with rsync -rcn --delete; the no-op push follows one untimed push that fills"
echo "the stat cache. A warm-up read of the tree and 'sync' precede every measured command."
echo "exmsync flushes what it writes (syncfs) before committing; rsync -a does not; --fsync"
echo "makes rsync flush each file."
echo "total time: $(( ($(date +%s) - start_all) / 60 )) min"
echo "summary: $passes passed, $fails failed of $((passes + fails)) goals"
exit 0
