#!/usr/bin/env bash
# Benchmarks exmsync push to an smb:// target against the tools an operator
# would use instead, over the same real Samba smbd on 127.0.0.1
# (tools/test-smbd.sh), on a generated EXM template tree, and prints the
# medians side by side with the ratio and its target:
#   (1) the first push into an empty folder, vs `rclone sync` (rclone's smb
#       backend) and vs `smbclient` with `recurse on; mput *`        <= 1.0
#   (2) a 1% change, vs `rclone sync`                                 <= 0.5
#   (3) a no-op check (`exmsync push` of the tree the target holds),
#       vs `rclone check`                                            <= 0.25
#
#   tools/bench-smb.sh [--files N] [--runs R] [--build DIR] [--work DIR] [--keep]
#                      [--gentree PATH] [--exmsync PATH] [--no-hyperfine]
#
# Each tool has its own folder in the share `sync`: x (exmsync), c (rclone),
# and for (1) full-x, full-c, full-m, emptied before every run (on disk, by
# the `prepare` step, not timed). Tree A is generated with old timestamps; B
# is a copy mutated by 1% (fixed seed). Before (2) and (3) the x and c folders
# hold A, pushed once untimed by each tool, and one untimed exmsync no-op
# leaves x as a scheduled push finds it (the target's stat cache filled, in
# its state folder). The runs of (2) alternate: one pushes B onto A, the next
# A onto B, so every run is a 1% change. `sync` runs before every timed run.
# The tools of a comparison take turns, run by run, after one untimed round
# (medians_interleaved in tools/bench-lib.sh).
# After each comparison every folder is checked against its source with
# `rsync -rcn -i --delete --exclude=.exmsync`.
#
# rclone runs with its defaults (size + modtime; the smb backend has no
# hashes, so `rclone check` compares sizes only, and says so), configured on
# the command line (:smb,host=...,pass=<obscured>). exmsync with its defaults
# (a content-hash manifest; the stat cache in the target's state folder).
#
# Must run as root: smbd switches to its own account (exmsynctest, created by
# tools/test-smbd.sh). smbd is always stopped at exit. Exit status 0 whether
# targets pass or fail; 1 if a folder came out wrong or a measured command
# failed (the numbers are then not valid); 2 on a setup error.
set -Eeuo pipefail
trap 'echo "bench-smb: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2; exit 2' ERR

usage() {
    cat <<'EOF'
usage: tools/bench-smb.sh [options]        (run as root)
  --files N        files in the generated tree (default 10000)
  --runs R         measured runs per command; the median is reported (default 5)
  --build DIR      CMake build directory, configured as Release if new (default build-rel)
  --work DIR       where the trees and smbd go (default a new directory under ${TMPDIR:-/tmp});
                   trees kept there by an earlier --keep run are reused
  --keep           keep the trees, folders and results afterwards
  --gentree PATH   use this exmsync-gentree instead of building it
  --exmsync PATH   use this exmsync instead of building it
  --no-hyperfine   accepted, and changes nothing: every comparison here is timed
                   with a date +%s%N loop, the tools taking turns
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_name=bench-smb
# die, build_binaries, build_type, medians, median, report
source "$repo/tools/bench-lib.sh"

files=10000
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
case $exmsync in ''|/*) ;; *) exmsync=$(pwd)/$exmsync ;; esac
case $gentree in ''|/*) ;; *) gentree=$(pwd)/$gentree ;; esac

[ "$(id -u)" -eq 0 ] || die "run as root: smbd switches to its own account (see the header of this script)"
for tool in rsync rclone smbclient find cp; do
    command -v "$tool" >/dev/null || die "$tool not found; run tools/setup.sh"
done
have_hyperfine=false
$no_hyperfine || ! command -v hyperfine >/dev/null || have_hyperfine=true

made_work=false
if [ -z "$work" ]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/exmsync-bench-smb.XXXXXX")
    chmod 755 "$work"
    made_work=true
else
    mkdir -p "$work"
    work=$(cd "$work" && pwd -P)
fi
# The paths go into smb.conf (tools/test-smbd.sh) and rclone's connection string.
[[ $work =~ ^[A-Za-z0-9/._+-]+$ ]] || die "--work '$work' must be a plain path (letters, digits, / . _ + -)"
smbd_dir=$work/smbd
smbd_started=false
results=$work/results

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    local rc=$?
    set +e
    trap - ERR
    if $smbd_started; then "$repo/tools/test-smbd.sh" stop "$smbd_dir" >&2; fi
    if $keep; then
        echo "bench-smb: kept $work" >&2
    else
        rm -rf -- "$smbd_dir" "$work/A" "$work/B" "$work/xdg" "$results" "$work/step.sh" "$work/step.env" \
            "$work/state" "$work/build.log" "$work/tree.params" "$work/mutate.log"
        if $made_work; then rm -rf -- "$work"; else rmdir -- "$work" 2>/dev/null || true; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$results" "$work/state"
export XDG_CACHE_HOME=$work/xdg
mkdir -p "$XDG_CACHE_HOME"
build_binaries

# ---------------------------------------------------------------------------
# Trees: A with every timestamp old, B a copy of A mutated by 1%.

params="files=$files seed=$seed mutate=$mutate_percent/$mutate_seed"
if [ -d "$work/A" ] && [ -d "$work/B" ] && [ "$(cat "$work/tree.params" 2>/dev/null)" = "$params" ]; then
    echo "bench-smb: reusing the trees in $work" >&2
else
    [ ! -e "$work/A" ] && [ ! -e "$work/B" ] || die "$work already holds A/B made with other parameters"
    echo "bench-smb: generating $files files in $work/A" >&2
    "$gentree" "$work/A" --files "$files" --seed "$seed" >&2
    find "$work/A" -exec touch -h -d "$old_time" {} +
    cp -a "$work/A" "$work/B"
    "$gentree" --mutate "$mutate_percent" --seed "$mutate_seed" "$work/B" 2>"$work/mutate.log" ||
        { cat "$work/mutate.log" >&2; die "exmsync-gentree --mutate failed"; }
    echo "$params" >"$work/tree.params"
fi

# ---------------------------------------------------------------------------
# smbd, and the script each timed run calls.

"$repo/tools/test-smbd.sh" start "$smbd_dir" >&2
smbd_started=true
# shellcheck disable=SC1091
source "$smbd_dir/env"   # SMBD_PORT SMB_USER SMB_CREDENTIALS SMB_SHARES_DIR SMB_CONF SMB_PASSWORD_FILE
share=$SMB_SHARES_DIR/sync
rclone_pass=$(rclone obscure "$(cat "$SMB_PASSWORD_FILE")")
{
    printf 'exmsync=%q\nshare=%q\nport=%q\nsmb_user=%q\ncredentials=%q\nsmb_conf=%q\n' \
        "$exmsync" "$share" "$SMBD_PORT" "$SMB_USER" "$SMB_CREDENTIALS" "$SMB_CONF"
    printf 'rclone_remote=%q\n' ":smb,host=127.0.0.1,port=$SMBD_PORT,user=$SMB_USER,pass=$rclone_pass"
} >"$work/step.env"
cat >"$work/step.sh" <<'EOF'
#!/usr/bin/env bash
# bench-smb: one step (written by tools/bench-smb.sh).
#   step.sh empty FOLDER                    make share folder FOLDER empty (not timed)
#   step.sh full exmsync|rclone|smbclient   tree A into the emptied full-* folder
#   step.sh change exmsync|rclone           push the tree the folder does not hold
#   step.sh noop exmsync|rclone             check the folder against the tree it holds
set -eu
d=${0%/*}
. "$d/step.env"
op=$1 tool=$2
url() { echo "smb://$smb_user@127.0.0.1:$port/sync/$1"; }
case $op in
    empty)
        rm -rf -- "${share:?}/$tool"
        mkdir "$share/$tool"
        chown exmsynctest: "$share/$tool"
        sync
        exit 0 ;;
    full) src=A
        case $tool in exmsync) dir=full-x ;; rclone) dir=full-c ;; smbclient) dir=full-m ;; esac ;;
    change|noop)
        case $tool in exmsync) dir=x ;; rclone) dir=c ;; esac
        src=$(cat "$d/state/$dir")
        if [ "$op" = change ]; then
            if [ "$src" = A ]; then src=B; else src=A; fi
            echo "$src" >"$d/state/$dir"
        fi ;;
esac
case $op/$tool in
    */exmsync) "$exmsync" push "$d/$src" "$(url "$dir")" --smb-credentials "$credentials" -q ;;
    noop/rclone) rclone check "$d/$src" "$rclone_remote:sync/$dir" -q 2>/dev/null ;;
    */rclone) rclone sync "$d/$src" "$rclone_remote:sync/$dir" -q ;;
    full/smbclient)
        cd "$d/$src"
        smbclient -s "$smb_conf" -p "$port" //127.0.0.1/sync -A "$credentials" \
            -c "cd $dir; prompt off; recurse on; mput *" >/dev/null ;;
esac
EOF
chmod +x "$work/step.sh"
step=$work/step.sh

# Each folder against its source tree; a difference makes the numbers invalid.
bad=0
verify() {
    local folder=$1 tree=$2 out
    out=$(rsync -rcn -i --delete --exclude=.exmsync "$work/$tree/" "$share/$folder/" 2>&1) || out="rsync failed: $out"
    if [ -n "$out" ]; then
        echo "bench-smb: $folder differs from $tree:" >&2
        echo "$out" | head -5 >&2
        bad=1
    fi
}

run_step() { "$step" "$@" || die "untimed step '$*' failed"; }

echo "exmsync over SMB benchmark: $files files, smbd $(/usr/sbin/smbd --version | awk '{ print $2 }') on 127.0.0.1:$SMBD_PORT"
echo "  host: $(nproc) cores, $(uname -sr), $(df -PT "$work" | awk 'NR == 2 { print $2 }') at $work"
echo "  timing: $($have_hyperfine && hyperfine --version || echo 'date +%s%N loop'); $(rclone version 2>/dev/null | awk 'NR == 1'); smbclient $(smbclient --version | awk '{ print $2 }')"
echo "  exmsync: $exmsync ($(build_type)); source: $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)"
echo "  tree: $(du -sm "$work/A" | cut -f1) MiB; 1% change: $(sed -n 's/.*(seed [0-9]*): //p' "$work/mutate.log" | awk 'NR == 1')"
echo "  medians of $runs runs after 1 warm-up run, warm page cache"
echo

# (1) The first push into an empty folder.
bench_prepare=("$step empty full-x" "$step empty full-c" "$step empty full-m")
mapfile -t t < <(medians full "$step full exmsync" "$step full rclone" "$step full smbclient")
verify full-x A; verify full-c A; verify full-m A
report "first push" exmsync "${t[0]}" "rclone sync" "${t[1]}" s 1.0
report "" exmsync "${t[0]}" "smbclient mput" "${t[2]}" s 1.0

# (2) and (3): x and c hold A, as a scheduled push finds them: one untimed
# push each (a "change" from B to A), then one exmsync no-op, which hashes
# every file over SMB once to fill the target's stat cache.
run_step empty x; run_step empty c
echo B >"$work/state/x"; echo B >"$work/state/c"
run_step change exmsync >/dev/null
run_step change rclone
run_step noop exmsync >/dev/null
bench_prepare=(sync)
mapfile -t t < <(medians change "$step change exmsync" "$step change rclone")
verify x "$(cat "$work/state/x")"; verify c "$(cat "$work/state/c")"
report "1% change" exmsync "${t[0]}" "rclone sync" "${t[1]}" s 0.5

mapfile -t t < <(medians noop "$step noop exmsync" "$step noop rclone")
verify x "$(cat "$work/state/x")"; verify c "$(cat "$work/state/c")"
report "no-op check" exmsync "${t[0]}" "rclone check" "${t[1]}" s 0.25

echo
echo "$passes passed, $fails failed"
[ "$bad" -eq 0 ] || { echo "bench-smb: some folders came out wrong: the numbers are not valid" >&2; exit 1; }
