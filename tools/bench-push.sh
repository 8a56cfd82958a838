#!/usr/bin/env bash
# Benchmarks exmsync push against rsync, the tool an operator would use instead,
# on a generated EXM template tree, and prints the medians side by side with the
# ratio and its target:
#   (a) a 1% change (modify, add, delete, rename) pushed to 4 local targets by one
#       `exmsync push SRC T1 T2 T3 T4`, vs `rsync -a --delete SRC/ Tn/` to each
#       target in turn;
#   (b) the first full push to an empty target, vs `rsync -a SRC/ T/`, and vs
#       `rsync -a --fsync SRC/ T/` (exmsync flushes what it writes, rsync does not
#       unless told to: that row shows what durability costs rsync).
#
#   tools/bench-push.sh [--files N] [--runs R] [--build DIR] [--work DIR] [--keep]
#                       [--gentree PATH] [--exmsync PATH] [--no-hyperfine]
#
# How (a) avoids copying trees between runs: tree A is generated, tree B is a
# copy of A mutated by 1% (fixed seed). Every target starts as a copy of A
# (cp -a; both tools replace a file by writing a new one and renaming it,
# never in place, which the script checks: A must be unchanged at the end). One
# untimed push of A leaves each exmsync target with its state folder and a warm
# stat cache, as a scheduled push would find it, and one untimed rsync warms the
# rsync targets. Then the runs alternate: a run pushes B to targets holding A,
# the next pushes A to targets holding B, so every run is a 1% change.
# The stat cache of each source is kept outside the tree (push --cache), so the
# sources hold nothing but the template files rsync copies.
#
# Everything runs with a warm page cache (each command runs once before it is
# measured); `sync` runs before every timed run, outside the timing, so no run
# pays for writing back what an earlier one left dirty.
# After each comparison every target is checked against its source with
# `rsync -rcn -i --delete --exclude=.exmsync SRC/ T/` (content, not timestamps).
# Exit status is 0 whether targets pass or fail; 1 if a target came out wrong
# or tree A was changed (the numbers are then not valid); 2 on a setup error.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: tools/bench-push.sh [options]
  --files N        files in the generated tree (default 100000)
  --runs R         measured runs per command; the median is reported (default 5)
  --build DIR      CMake build directory, configured as Release if new (default build-rel)
  --work DIR       where the trees go (default a new directory under ${TMPDIR:-/tmp});
                   trees A and B kept there by an earlier --keep run with the same --files
                   are reused (the targets are always made again)
  --keep           keep the trees, targets and results afterwards
  --gentree PATH   use this exmsync-gentree instead of building it
  --exmsync PATH   use this exmsync instead of building it
  --no-hyperfine   time with a date +%s%N loop even when hyperfine is installed
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_name=bench-push
# die, build_binaries, build_type, medians, median, report
source "$repo/tools/bench-lib.sh"

files=100000
runs=5
build="build-rel"
work=
keep=false
gentree=
exmsync=
peers_only=false
no_hyperfine=false
readonly seed=1
readonly mutate_percent=1
readonly mutate_seed=2
readonly old_time=@1577836800   # 2020-01-01: far from "now", so no file is racily clean
readonly ntargets=4

while [ $# -gt 0 ]; do
    case $1 in
        --files) files=${2:?--files needs a value}; shift 2 ;;
        --runs) runs=${2:?--runs needs a value}; shift 2 ;;
        --build) build=${2:?--build needs a value}; shift 2 ;;
        --work) work=${2:?--work needs a value}; shift 2 ;;
        --gentree) gentree=${2:?--gentree needs a value}; shift 2 ;;
        --exmsync) exmsync=${2:?--exmsync needs a value}; shift 2 ;;
        --keep) keep=true; shift ;;
        --no-hyperfine) no_hyperfine=true; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done
[[ $files =~ ^[0-9]+$ && $files -gt 0 ]] || die "--files needs a positive integer, got '$files'"
[[ $runs =~ ^[0-9]+$ && $runs -gt 0 ]] || die "--runs needs a positive integer, got '$runs'"
case $build in /*) ;; *) build=$repo/$build ;; esac

for tool in rsync find cp sort cmp; do
    command -v "$tool" >/dev/null || die "$tool not found; run tools/setup.sh"
done
[[ $(rsync --help 2>&1) == *--fsync* ]] || die "this rsync has no --fsync (3.2.4 or later needed)"
have_hyperfine=false
$no_hyperfine || ! command -v hyperfine >/dev/null || have_hyperfine=true

# ---------------------------------------------------------------------------
# Work directory. Only what this script creates is removed at the end.

made_work=false
if [ -z "$work" ]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/exmsync-bench-push.XXXXXX")
    made_work=true
else
    mkdir -p "$work"
    work=$(cd "$work" && pwd)
fi
tree_a=$work/A
tree_b=$work/B
results=$work/results
xtargets=() rtargets=()
for ((i = 1; i <= ntargets; i++)); do xtargets+=("$work/x$i"); rtargets+=("$work/r$i"); done
made=("${xtargets[@]}" "${rtargets[@]}" "$work/full" "$results" "$work/cache" "$work/state"
      "$work/step.sh" "$work/fresh.sh")

# rm -rf TREE..., 16 at a time below each tree's second level: where the file
# system discards (TRIMs) each freed extent synchronously, as here with ext4
# mounted -o discard, a lone rm waits for each in turn (100k files: minutes).
remove_trees() {
    local t
    for t in "$@"; do
        [ -d "$t" ] && find "$t" -mindepth 2 -maxdepth 2 -type d -print0 | xargs -0 -r -P 16 -n 8 rm -rf --
    done
    rm -rf -- "$@"
}

cleanup() {
    if $keep; then
        echo "bench-push: kept $work" >&2
    elif $made_work; then
        remove_trees "$work"/full/* "${made[@]}" "$tree_a" "$tree_b"
        rm -rf -- "$work"
    else
        remove_trees "$work"/full/* "${made[@]}" "$tree_a" "$tree_b"
        rm -rf -- "$work/tree.params" "$work/A.manifest" "$work/A.stat" \
            "$work/mutate.log" "$work/build.log"
        rmdir -- "$work" 2>/dev/null || true
    fi
}
trap cleanup EXIT
remove_trees "$work"/full/* "${made[@]}"
mkdir -p "$results" "$work/cache" "$work/state"

# ---------------------------------------------------------------------------
# Trees: A generated with every timestamp set to the same old time, B a copy
# of A mutated by 1% (its changed files get the current time, as an edit does).

# What a change of A would show: every entry's type, size, mtime, mode and inode.
stat_list() {
    (cd "$1" && find . -printf '%p\t%y\t%s\t%T@\t%m\t%i\n' | LC_ALL=C sort)
}

make_trees() {
    local params="files=$files seed=$seed mutate=$mutate_percent/$mutate_seed"
    if [ -d "$tree_a" ] && [ -d "$tree_b" ] && [ -f "$work/A.manifest" ] && [ -f "$work/A.stat" ] &&
        [ "$(cat "$work/tree.params" 2>/dev/null)" = "$params" ]; then
        echo "bench-push: reusing the trees in $work" >&2
        check_tree_a || die "tree A in $work is not as it was made; remove $work/A and $work/B"
    else
        if [ -e "$tree_a" ] || [ -e "$tree_b" ]; then
            die "$work already holds A/B made with other parameters; remove them or pick another --work"
        fi
        echo "bench-push: generating $files files in $tree_a" >&2
        "$gentree" "$tree_a" --files "$files" --seed "$seed"
        find "$tree_a" -exec touch -h -d "$old_time" {} +
        cp -a "$tree_a" "$tree_b"
        "$gentree" --mutate "$mutate_percent" --seed "$mutate_seed" "$tree_b" 2>"$work/mutate.log" ||
            { cat "$work/mutate.log" >&2; die "exmsync-gentree --mutate failed"; }
        # The record tree A is checked against at the end; --no-cache leaves no
        # .exmsync folder in A.
        "$exmsync" manifest "$tree_a" --no-cache -o "$work/A.manifest"
        stat_list "$tree_a" >"$work/A.stat"
        echo "$params" >"$work/tree.params"
    fi
}

# Tree A is unchanged: the same content (exmsync diff against the manifest made
# with it) and the same type, size, mtime, mode and inode of every entry.
check_tree_a() {
    local ok=true
    if ! "$exmsync" diff "$work/A.manifest" "$tree_a" --no-cache >"$results/check-A.diff" 2>&1; then
        echo "bench-push: ERROR: the content of tree A changed (exmsync diff):" >&2
        head -20 "$results/check-A.diff" >&2
        ok=false
    fi
    if ! stat_list "$tree_a" | cmp -s - "$work/A.stat"; then
        echo "bench-push: ERROR: the metadata of tree A changed (type size mtime mode inode):" >&2
        stat_list "$tree_a" | diff "$work/A.stat" - | head -20 >&2 || true
        ok=false
    fi
    $ok
}

# ---------------------------------------------------------------------------
# Correctness: each target holds what its source holds.

bad_targets=0

# verify LABEL SOURCE TARGET...
verify() {
    local label=$1 src=$2 t out
    shift 2
    for t in "$@"; do
        out=$(rsync -rcn -i --delete --exclude=.exmsync "$src/" "$t/" 2>&1) || out+=$'\n'"(rsync exited $?)"
        if [ -n "$out" ]; then
            bad_targets=$((bad_targets + 1))
            echo "bench-push: ERROR: $label: $t does not equal $src:" >&2
            head -20 <<<"$out" >&2
        fi
    done
}

# Failures of the measured commands themselves (hyperfine -i would hide them).
check_failures() {
    if [ -s "$results/failures" ]; then
        echo "bench-push: ERROR: measured commands failed:" >&2
        sort "$results/failures" | uniq -c >&2
        bad_targets=$((bad_targets + 1))
        : >"$results/failures"
    fi
}

# ---------------------------------------------------------------------------
# (a) The targets, and the step each measured run takes.

# One run of (a) for one tool: push the tree its targets do not hold.
write_step_script() {
    local q=() t
    for t in "${xtargets[@]}"; do q+=("$(printf %q "$t")"); done
    cat >"$work/step.sh" <<EOF
#!/usr/bin/env bash
# bench-push (a): push to the 4 targets of one tool the tree they do not hold.
set -u
work=$(printf %q "$work")
kind=\$1
if [ "\$(cat "\$work/state/\$kind")" = A ]; then src=B; else src=A; fi
echo "\$src" >"\$work/state/\$kind"
fail() { echo "\$kind: \$*" >>"\$work/results/failures"; exit 1; }
case \$kind in
    exmsync)
        $(printf %q "$exmsync") push --cache "\$work/cache/\$src.statcache" --max-delete $files \\
            "\$work/\$src" ${q[*]} >>"\$work/results/push-a.out" 2>&1 || fail "exmsync push exited \$?" ;;
    rsync)
        for i in \$(seq $ntargets); do
            rsync -a --delete "\$work/\$src/" "\$work/r\$i/" >>"\$work/results/rsync-a.out" 2>&1 || fail "rsync exited \$?"
        done ;;
esac
EOF
}

make_targets() {
    local t
    # Real copies: hard links would share inodes with A, and every rename
    # on a target would change the ctime of A's files, which invalidates
    # exmsync's stat cache (rsync compares only size and mtime).
    for t in "${xtargets[@]}" "${rtargets[@]}"; do cp -a "$tree_a" "$t"; done
    # Wait until no file is racily clean, or the untimed pushes below could
    # not cache them all.
    sleep 3
    "$exmsync" push --cache "$work/cache/A.statcache" "$tree_a" "${xtargets[@]}" >"$results/warm-a.out" 2>&1 ||
        { cat "$results/warm-a.out" >&2; die "the untimed exmsync push of A failed"; }
    for t in "${rtargets[@]}"; do rsync -a --delete "$tree_a/" "$t/"; done
    echo A >"$work/state/exmsync"
    echo A >"$work/state/rsync"
}

# ext4 without a journal (as on some VMs) does not reuse an inode for 60 s
# after it was freed (RECENTCY_MIN in fs/ext4/ialloc.c), and scans past every
# such inode on each file it creates: creating a tree right after removing
# one is then several times slower, for both tools alike. Before each full
# push, wait out what was removed before.
settle() { sleep 65; }

# (b) keeps one full copy of A per run of a command until its runs are checked.
check_space() {
    local need avail
    need=$(awk -v b="$tree_bytes" -v n="$runs" 'BEGIN { printf "%.0f", b * (n + 1) * 1.1 / 1024 }')
    avail=$(df -Pk "$work" | awk 'NR == 2 { print $4 }')
    [ "$avail" -ge "$need" ] ||
        die "(b) needs about $((need / 1048576)) GiB free in $work for $((runs + 1)) copies of the tree; $((avail / 1048576)) GiB are"
}

# ---------------------------------------------------------------------------
# Main

build_binaries
make_trees
write_step_script
make_targets

tree_bytes=$(find "$tree_a" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')
check_space
mutation=$(sed -n 's/.*(seed [0-9]*): //p' "$work/mutate.log" 2>/dev/null | head -1)
echo
echo "exmsync push benchmark: $files files, $((tree_bytes / 1048576)) MiB, median of $runs runs, warm page cache"
echo "  1% change (B = A mutated, seed $mutate_seed): ${mutation:-see $work/mutate.log}"
echo "  host: $(nproc) cores, $(uname -sr), $(df -PT "$work" | awk 'NR == 2 { print $2 }') at $work"
echo "  timing: $($have_hyperfine && hyperfine --version || echo 'date +%s%N loop'); $(rsync --version | head -1 | sed 's/  */ /g')"
echo "  exmsync: $exmsync ($(build_type))"
echo "  load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the host slows file creation for both tools)"
echo

qw=$(printf %q "$work")
qa=$(printf %q "$tree_a")
qx=$(printf %q "$exmsync")
declare -a m

# (a) 1% change to 4 targets. Both tools alternate between the trees from the
# same start, so after the same number of runs both hold the same tree.
bench_prepare=(sync)
mapfile -t m < <(medians change "bash $qw/step.sh exmsync" "bash $qw/step.sh rsync")
check_failures
src=$work/$(cat "$work/state/exmsync")
verify "(a) exmsync" "$src" "${xtargets[@]}"
src=$work/$(cat "$work/state/rsync")
verify "(a) rsync" "$src" "${rtargets[@]}"
report "1% push x4" exmsync "${m[0]}" "rsync x4" "${m[1]}" s 0.5
verdict_a=$report_verdict ratio_a=$report_ratio

# (b) the first push to an empty target: each run gets a new empty folder (no
# rm -rf just before a run: see settle above), and the folders of a command are
# removed once its runs are checked.
bench_prepare=()
full_push() {
    local name=$1 cmd=$2
    remove_trees "$work"/full/* "$work/full"
    mkdir -p "$work/full"
    settle
    bash "$work/fresh.sh" "$name"   # for the warm-up run, in case hyperfine runs no --prepare before it
    bench_prepare=("bash $qw/fresh.sh $name && sync")
    mapfile -t m < <(medians "full-$name" "${cmd//@T@/\"\$(cat $qw/state/full-$name)\"}")
    bench_prepare=()
    check_failures
    verify "(b) $name" "$tree_a" "$(cat "$work/state/full-$name")"
    full_median=${m[0]}
}
cat >"$work/fresh.sh" <<'EOF2'
# bench-push (b): a new empty target folder for the next run of one command.
n=$(ls "${0%/*}/full" | wc -l)
dir=${0%/*}/full/$1-$n
mkdir "$dir" && echo "$dir" >"${0%/*}/state/full-$1"
EOF2
fail_cmd() { printf '|| { echo %q >>%q; exit 1; }' "$1" "$results/failures"; }
full_push exmsync "$qx push --cache $qw/cache/A.statcache $qa @T@ >>$qw/results/push-b.out 2>&1 $(fail_cmd 'exmsync push (b)')"
m_x=$full_median
full_push rsync "rsync -a $qa/ @T@/ $(fail_cmd 'rsync (b)')"
m_r=$full_median
full_push rsync-fsync "rsync -a --fsync $qa/ @T@/ $(fail_cmd 'rsync --fsync (b)')"
m_f=$full_median
remove_trees "$work"/full/* "$work/full"
report "full push" exmsync "$m_x" rsync "$m_r" s 1.2
verdict_b=$report_verdict ratio_b=$report_ratio
report "full push" exmsync "$m_x" "rsync --fsync" "$m_f" s -

check_tree_a || bad_targets=$((bad_targets + 1))

echo
echo "1% push x4: one 'exmsync push SRC T1..T4' vs 'rsync -a --delete SRC/ Tn/' run for each target in"
echo "turn; runs alternate between pushing B onto A and A onto B. full push: into a new empty folder"
echo "each run, started 65 s after the last tree was removed (see settle in the script)."
echo "exmsync flushes (syncfs) what it stages before committing; rsync does not, unless --fsync"
echo "(one fsync per file). 'sync' runs before every timed run, outside the timing."
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "summary: $passes passed, $fails failed of $((passes + fails)) targets"
echo "$verdict_a  (a) 1% change to $ntargets targets: exmsync/rsync $ratio_a, target <= 0.5"
echo "$verdict_b  (b) full push to an empty target: exmsync/rsync $ratio_b, target <= 1.2"
if [ "$bad_targets" -gt 0 ]; then
    echo "INVALID: $bad_targets correctness checks failed (see the errors above); the numbers do not count"
    exit 1
fi
echo "correctness: every target equals its source (rsync -rcn), tree A is unchanged"
exit 0
