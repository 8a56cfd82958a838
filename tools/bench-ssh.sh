#!/usr/bin/env bash
# Benchmarks exmsync push to ssh:// targets against the tools an operator would
# use instead over the same real OpenSSH sshd on 127.0.0.1
# (tools/test-sshd.sh), on a generated EXM template tree, and prints the
# medians side by side with the ratio and its target:
#   agent mode (a remote `exmsync agent`, --remote-exmsync) against rsync over ssh:
#     (1) no-op check: one `exmsync push SRC T1..T4` with all 4 in sync, vs
#         `rsync -a -n --delete SRC/ host:Tn/` to each in turn          <= 0.25
#     (2) a 1% change pushed to the 4 targets, vs `rsync -a --delete`
#         to each in turn                                               <= 0.5
#     (3) the first push to one empty target, vs `rsync -a`             <= 1.0
#     (4) bytes on the wire of the 1% change to one target: exmsync's
#         bytes_sent + bytes_received (push --json) vs rsync's "Total
#         bytes sent" + "Total bytes received" (--stats)                <= 1.0
#   agentless (--no-agent: SFTP) against `rclone sync` over sftp, 4 targets:
#     (5) no-op (an in-sync `rclone sync`)                              <= 0.25
#     (6) a 1% change                                                   <= 0.5
# for each tree size of --files (default 10,000 and 100,000 files).
#
#   tools/bench-ssh.sh [--files "N..."] [--runs R] [--build DIR] [--work DIR] [--keep]
#                      [--user NAME] [--gentree PATH] [--exmsync PATH] [--no-hyperfine]
#                      [--no-agentless]
#
# Runs: the median of 5 runs for trees up to 20,000 files. Above, of 3 runs,
# and of a single run for (5) and (6): at 100k files rclone takes 5 to 40 s
# per target and run, an agentless push 1 to 30 s per target, and every
# target must be checked and removed (about 20 s each here: ext4 -o discard).
# With 2 runs for those the default run took 61 minutes on this 2-core
# machine while other builds and tests kept its load average at 7 to 14. On
# the idle machine, at fbafd2f (agentless scans fetching listings ahead),
# --files 100000 took 16 minutes and --files 10000 4 minutes.
# --runs sets one count for everything. Each comparison starts with one
# untimed round (the warm-up), and its tools take turns, run by run
# (medians_interleaved in tools/bench-lib.sh). Run back to back, what drifts
# meets one tool only: at 100,000 files the agent's first pushes, run first,
# took 19.2 s against rsync's 14.5 s; taking turns, 14.0 and 14.5 s against
# 14.3 and 14.1 s.
#
# The login account: sshd runs every remote command (rsync's server, the
# exmsync agent, sftp-server) through the login user's shell, and root's
# ~/.bashrc (pyenv init) adds about 1 s to every connection. The servers'
# side therefore runs as a plain account with /bin/sh (--user, default
# exmbench), which the script creates when it is missing (it must run as
# root: sshd switches to that account). Every target folder is owned by it.
# The exmsync binary must be executable by it; if it is not, a copy goes to
# WORK/bin. Clients run as the invoking user, with XDG_CACHE_HOME in the work
# folder (the agent client's cache of manifests starts empty and is only ours).
#
# Order, per size: (3) first, each run into a new empty folder; the folders it
# filled become the targets of (2) then (1) (x* agent, r* rsync); then the
# rsync targets become the rclone targets (c*) of (6) then (5), and the
# agentless targets (s*) are copies of one seeded by an agentless push (which
# hashes its files over SFTP once: see seed_sftp_rclone). Each tool has its own
# 4 target folders.
# How the change runs avoid copying trees between runs (as tools/bench-push.sh):
# tree A is generated, tree B is a copy of A mutated by 1% (fixed seed). Every
# target starts holding A, and one untimed push of A leaves it as a scheduled
# push would find it: exmsync targets with their state folder and stat cache,
# rsync and rclone targets checked once. Then the runs alternate: a run pushes
# B to targets holding A, the next pushes A to targets holding B, so every run
# is a 1% change.
# The sources' stat caches are kept outside the trees (push --cache).
# rclone runs with its defaults (size + modtime comparison, --sftp-set-modtime
# on, hash check after upload), configured on the command line
# (:sftp,host=...,key_file=...,known_hosts_file=...), no config file.
# exmsync pushes with its defaults too: --parallel is at least 8 for ssh://
# targets, so all 4 are served at once.
#
# The no-op runs start 2 s after the last change (see change_and_noop: the
# stat cache's racy window), as a scheduled push would find its targets.
# Everything runs with a warm page cache; `sync` runs before every timed run,
# outside the timing. After each comparison every target is checked against
# its source with `rsync -rcn -i --delete --exclude=.exmsync SRC/ T/`.
# sshd is always stopped at exit. Exit status is 0 whether targets pass or
# fail; 1 if a target came out wrong or a measured command failed (the
# numbers are then not valid); 2 on a setup error.
set -Eeuo pipefail
# A failed command otherwise ends the run without a word (exit 2: a setup error).
trap 'echo "bench-ssh: failed (exit $?) at line $LINENO: $BASH_COMMAND" >&2; exit 2' ERR

usage() {
    cat <<'EOF'
usage: tools/bench-ssh.sh [options]        (run as root)
  --files "N..."   tree sizes, one benchmark each (default "10000 100000")
  --runs R         measured runs per command; the median is reported
                   (default 5 up to 20,000 files; above, 3, and 1 for the agentless comparisons)
  --build DIR      CMake build directory, configured as Release if new (default build-rel)
  --work DIR       where the trees, targets and sshd go (default a new directory under
                   ${TMPDIR:-/tmp}); it and its parents must be open (a+x) to --user.
                   Trees kept there by an earlier --keep run are reused
  --keep           keep the trees, targets and results afterwards
  --user NAME      the account sshd logs in (default exmbench; created if missing)
  --gentree PATH   use this exmsync-gentree instead of building it
  --exmsync PATH   use this exmsync instead of building it
  --no-hyperfine   accepted, and changes nothing: every comparison here is timed
                   with a date +%s%N loop, the tools taking turns
  --no-agentless   only the agent mode against rsync: (1) to (4)
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_name=bench-ssh
# die, build_binaries, build_type, medians, median, report
source "$repo/tools/bench-lib.sh"

files_list="10000 100000"
runs_opt=
build="build-rel"
work=
keep=false
user=exmbench
gentree=
exmsync=
peers_only=false
agentless=true
no_hyperfine=false
readonly seed=1
readonly mutate_percent=1
readonly mutate_seed=2
readonly old_time=@1577836800   # 2020-01-01: far from "now", so no file is racily clean
readonly ntargets=4

while [ $# -gt 0 ]; do
    case $1 in
        --files) files_list=${2:?--files needs a value}; shift 2 ;;
        --runs) runs_opt=${2:?--runs needs a value}; shift 2 ;;
        --build) build=${2:?--build needs a value}; shift 2 ;;
        --work) work=${2:?--work needs a value}; shift 2 ;;
        --user) user=${2:?--user needs a value}; shift 2 ;;
        --gentree) gentree=${2:?--gentree needs a value}; shift 2 ;;
        --exmsync) exmsync=${2:?--exmsync needs a value}; shift 2 ;;
        --keep) keep=true; shift ;;
        --no-hyperfine) no_hyperfine=true; shift ;;
        --no-agentless) agentless=false; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option '$1'" ;;
    esac
done
for n in $files_list; do
    [[ $n =~ ^[0-9]+$ && $n -gt 0 ]] || die "--files needs positive integers, got '$n'"
done
[ -n "${files_list// /}" ] || die "--files needs at least one size"
[ -z "$runs_opt" ] || [[ $runs_opt =~ ^[0-9]+$ && $runs_opt -gt 0 ]] ||
    die "--runs needs a positive integer, got '$runs_opt'"
[[ $user =~ ^[a-z_][a-z0-9_.-]*$ ]] || die "--user '$user' is not a plain account name"
case $build in /*) ;; *) build=$repo/$build ;; esac
case $exmsync in ''|/*) ;; *) exmsync=$(pwd)/$exmsync ;; esac
case $gentree in ''|/*) ;; *) gentree=$(pwd)/$gentree ;; esac

[ "$(id -u)" -eq 0 ] || die "run as root: sshd must log in as --user $user (see the header of this script)"
for tool in rsync rclone ssh find cp sort runuser; do
    command -v "$tool" >/dev/null || die "$tool not found; run tools/setup.sh"
done
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || die "python3 not found (it reads push --json); run tools/setup.sh"
have_hyperfine=false
$no_hyperfine || ! command -v hyperfine >/dev/null || have_hyperfine=true
started=$(date +%s)

# ---------------------------------------------------------------------------
# The login account: created if missing, never changed otherwise.

if ! id -u -- "$user" >/dev/null 2>&1; then
    echo "bench-ssh: creating the account $user (shell /bin/sh)" >&2
    useradd --system --shell /bin/sh --create-home "$user"
    usermod -p '*' "$user"   # no password, but not locked: sshd (UsePAM no) refuses '!'
fi
login_shell=$(getent passwd "$user" | cut -d: -f7)
case $login_shell in
    /bin/sh|/bin/dash|/usr/bin/dash) ;;
    *) echo "bench-ssh: WARNING: $user logs in with $login_shell; its startup files run in every connection" >&2 ;;
esac

# ---------------------------------------------------------------------------
# Work directory. Only what this script creates is removed at the end.

made_work=false
if [ -z "$work" ]; then
    work=$(mktemp -d "${TMPDIR:-/tmp}/exmsync-bench-ssh.XXXXXX")
    chmod 755 "$work"
    made_work=true
else
    mkdir -p "$work"
    work=$(cd "$work" && pwd -P)
fi
# The paths go into ssh:// URLs, rclone's connection string and sshd_config.
[[ $work =~ ^[A-Za-z0-9/._+-]+$ ]] || die "--work '$work' must be a plain path (letters, digits, / . _ + -)"
sshd_dir=$work/sshd
sshd_started=false

# rm -rf TREE..., 16 at a time below each tree's second level: where the file
# system discards (TRIMs) each freed extent synchronously, as with ext4 mounted
# -o discard, a lone rm waits for each in turn (100k files: minutes).
last_removed=0
remove_trees() {
    local t
    for t in "$@"; do
        [ -d "$t" ] || continue
        find "$t" -mindepth 2 -maxdepth 2 -type d -print0 | xargs -0 -r -P 16 -n 8 rm -rf --
        last_removed=1
    done
    rm -rf -- "$@"
    [ "$last_removed" -eq 0 ] || last_removed=$(date +%s)
}

# ext4 without a journal (as on some VMs, this one too) does not reuse an
# inode for 60 s after it was freed (RECENTCY_MIN in fs/ext4/ialloc.c; 360 s
# while its inode table block is not yet written back), and scans past every
# such inode on each file it creates: creating files right after removing a
# tree is then several times slower, for every tool alike. Before each timed
# comparison, wait out what was removed last (65 s: the 60 s, once the
# `sync` before each run has written the blocks back).
settle() {
    local wait=$((last_removed + 65 - $(date +%s)))
    [ "$wait" -le 0 ] || sleep "$wait"
}

# What one size leaves behind, besides its trees A and B.
size_made() {
    local d=$1 i
    for ((i = 1; i <= ntargets; i++)); do echo "$d/x$i" "$d/r$i" "$d/s$i" "$d/c$i"; done
    echo "$d/full" "$d/results" "$d/cache" "$d/state" "$d/step.sh" "$d/step.env" "$d/fresh.sh"
}

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    local rc=$? n d
    # Stop sshd and remove what can be removed, whatever fails on the way.
    set +e
    trap - ERR
    if $sshd_started; then
        "$repo/tools/test-sshd.sh" stop "$sshd_dir" >&2 || true
    fi
    if $keep; then
        echo "bench-ssh: kept $work" >&2
    else
        for n in $files_list; do
            d=$work/n$n
            [ -d "$d" ] || continue
            # shellcheck disable=SC2046  # the paths are plain (checked above)
            remove_trees $(size_made "$d") "$d/A" "$d/B" "$d"/full/*
            rm -rf -- "$d/tree.params" "$d/mutate.log"
            rmdir -- "$d" 2>/dev/null || true
        done
        rm -rf -- "$sshd_dir" "${work:?}/bin" "$work/xdg" "$work/build.log" "$work/probe" "$work/table" "$work/row" "$work/verify"
        if $made_work; then rm -rf -- "$work"; else rmdir -- "$work" 2>/dev/null || true; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The account must reach folders in the work directory.
rm -rf -- "$work/probe"
mkdir "$work/probe"
chown "$user:" "$work/probe"
runuser -u "$user" -- test -w "$work/probe" ||
    die "$user cannot write into $work/probe: a parent folder of $work is closed to it (chmod a+x it, or pick another --work)"
rmdir "$work/probe"

export XDG_CACHE_HOME=$work/xdg
mkdir -p "$XDG_CACHE_HOME"

# ---------------------------------------------------------------------------
# Build, and the exmsync the server side runs.

results=$work   # build_binaries logs to $work/build.log
build_binaries
remote_exmsync=$exmsync
if ! runuser -u "$user" -- "$remote_exmsync" --version >/dev/null 2>&1; then
    mkdir -p "$work/bin"
    cp "$exmsync" "$work/bin/exmsync"
    chmod 755 "$work/bin" "$work/bin/exmsync"
    remote_exmsync=$work/bin/exmsync
    runuser -u "$user" -- "$remote_exmsync" --version >/dev/null 2>&1 ||
        die "$user cannot run $exmsync, nor a copy in $work/bin: open $work's parent folders to it (chmod a+x)"
    echo "bench-ssh: $user cannot run $exmsync; the agent runs a copy, $remote_exmsync" >&2
fi

# ---------------------------------------------------------------------------
# sshd, logging in as $user.

"$repo/tools/test-sshd.sh" start "$sshd_dir" --user "$user" >&2
sshd_started=true
# shellcheck disable=SC1091
source "$sshd_dir/env"   # SSHD_PORT SSH_CONFIG SSH_CLIENT_KEY SSH_KNOWN_HOSTS SSH_USER
[ "$SSH_USER" = "$user" ] || die "the sshd in $sshd_dir logs in as $SSH_USER, not $user"
rclone_remote=":sftp,host=127.0.0.1,port=$SSHD_PORT,user=$user,key_file=$SSH_CLIENT_KEY,known_hosts_file=$SSH_KNOWN_HOSTS,set_modtime=true"

# ---------------------------------------------------------------------------
# Per size: the trees, the scripts the timed commands run.

# Trees: A generated with every timestamp set to the same old time, B a copy
# of A mutated by 1% (its changed files get the current time, as an edit does).
make_trees() {
    local params="files=$files seed=$seed mutate=$mutate_percent/$mutate_seed"
    if [ -d "$d/A" ] && [ -d "$d/B" ] && [ "$(cat "$d/tree.params" 2>/dev/null)" = "$params" ]; then
        echo "bench-ssh: reusing the trees in $d" >&2
        return
    fi
    if [ -e "$d/A" ] || [ -e "$d/B" ]; then
        die "$d already holds A/B made with other parameters; remove them or pick another --work"
    fi
    echo "bench-ssh: generating $files files in $d/A" >&2
    "$gentree" "$d/A" --files "$files" --seed "$seed" >&2
    find "$d/A" -exec touch -h -d "$old_time" {} +
    cp -a "$d/A" "$d/B"
    "$gentree" --mutate "$mutate_percent" --seed "$mutate_seed" "$d/B" 2>"$d/mutate.log" ||
        { cat "$d/mutate.log" >&2; die "exmsync-gentree --mutate failed"; }
    echo "$params" >"$d/tree.params"
}

write_scripts() {
    {
        echo "# Written by tools/bench-ssh.sh: what step.sh and fresh.sh need."
        printf 'exmsync=%q\nremote_exmsync=%q\nfiles=%q\nntargets=%q\n' "$exmsync" "$remote_exmsync" "$files" "$ntargets"
        printf 'user=%q\nport=%q\nclient_key=%q\nknown_hosts=%q\nssh_config=%q\nrclone_remote=%q\n' \
            "$user" "$SSHD_PORT" "$SSH_CLIENT_KEY" "$SSH_KNOWN_HOSTS" "$SSH_CONFIG" "$rclone_remote"
    } >"$d/step.env"
    cat >"$d/step.sh" <<'EOF'
#!/usr/bin/env bash
# bench-ssh: one measured run of one tool (written by tools/bench-ssh.sh).
#   step.sh change|noop|full agent|sftp|rsync|rclone
# change: push the tree its 4 targets do not hold; noop: the tree they hold;
# full: tree A to the one new empty folder fresh.sh made.
set -u
d=${0%/*}
. "$d/step.env"
op=$1 tool=$2
case $tool in agent) letter=x ;; sftp) letter=s ;; rsync) letter=r ;; rclone) letter=c ;; esac
dirs=()
if [ "$op" = full ]; then
    src=A
    dirs=("$(cat "$d/state/full-$tool")")
    # The folders pushed to, in order: they become the targets of the next comparisons.
    echo "${dirs[0]}" >>"$d/state/full-$tool.used"
else
    src=$(cat "$d/state/$tool")
    if [ "$op" = change ]; then
        if [ "$src" = A ]; then src=B; else src=A; fi
        echo "$src" >"$d/state/$tool"
    fi
    for ((i = 1; i <= ntargets; i++)); do dirs+=("$d/$letter$i"); done
fi
fail() { echo "$op $tool: $*" >>"$d/results/failures"; exit 1; }
out=$d/results/$op-$tool
case $tool in
    agent|sftp)
        mode=(--remote-exmsync "$remote_exmsync")
        [ "$tool" = sftp ] && mode=(--no-agent)
        urls=()
        for t in "${dirs[@]}"; do urls+=("ssh://$user@127.0.0.1:$port$t"); done
        "$exmsync" push -v --json --cache "$d/cache/$src.statcache" --max-delete "$files" "$d/$src" "${urls[@]}" \
            --known-hosts "$known_hosts" --identity "$client_key" "${mode[@]}" >>"$out.jsonl" 2>>"$out.err" ||
            fail "exmsync push exited $?" ;;
    rsync)
        opts=(-a --delete)
        [ "$op" = noop ] && opts=(-a -n --delete)
        [ "$op" = full ] && opts=(-a)
        k=0
        for t in "${dirs[@]}"; do
            k=$((k + 1))
            rsync "${opts[@]}" --stats -e "ssh -F $ssh_config" "$d/$src/" "exmsync-test:$t/" >>"$out-$k.log" 2>&1 ||
                fail "rsync to $t exited $?"
        done ;;
    rclone)
        k=0
        for t in "${dirs[@]}"; do
            k=$((k + 1))
            rclone sync --config /dev/null "$d/$src" "$rclone_remote:$t" >>"$out-$k.log" 2>&1 ||
                fail "rclone sync to $t exited $?"
        done ;;
esac
EOF
    cat >"$d/fresh.sh" <<'EOF'
# bench-ssh: a new empty target folder, owned by the login account, for the
# next full push of one tool.
d=${0%/*}
. "$d/step.env"
n=$(ls "$d/full" | wc -l)
dir=$d/full/$1-$n
mkdir "$dir" && chown "$user:" "$dir" && echo "$dir" >"$d/state/full-$1"
EOF
}

# ---------------------------------------------------------------------------
# Correctness: each target holds what its source holds.

bad_targets=0

# verify LABEL SOURCE TARGET...: two at a time (each reads both trees; 2 cores).
verify() {
    local label=$1 src=$2 t k=0 out=$work/verify
    shift 2
    rm -rf -- "$out"
    mkdir "$out"
    # shellcheck disable=SC2016  # the sh -c script gets its arguments from xargs
    for t in "$@"; do
        k=$((k + 1))
        printf '%s\0%s\0' "$t" "$out/$k"
    done | xargs -0 -r -n 2 -P 2 sh -c \
        'rsync -rcn -i --delete --exclude=.exmsync "$0/" "$1/" >"$2" 2>&1 || echo "(rsync exited $?)" >>"$2"' "$src"
    k=0
    for t in "$@"; do
        k=$((k + 1))
        if [ -s "$out/$k" ]; then
            bad_targets=$((bad_targets + 1))
            echo "bench-ssh: ERROR: $files files, $label: $t does not equal $src:" >&2
            head -20 "$out/$k" >&2
        fi
    done
    rm -rf -- "$out"
}

# verify_group TOOL LETTER: the 4 targets of one tool, against the tree they hold.
verify_group() {
    local tool=$1 letter=$2 i t=()
    for ((i = 1; i <= ntargets; i++)); do t+=("$d/$letter$i"); done
    verify "$3" "$d/$(cat "$d/state/$tool")" "${t[@]}"
}

# Failures of the measured commands themselves (hyperfine -i would hide them).
check_failures() {
    if [ -s "$results/failures" ]; then
        echo "bench-ssh: ERROR: $files files: measured commands failed:" >&2
        sort "$results/failures" | uniq -c >&2
        tail -5 "$results"/*.err 2>/dev/null >&2 || true
        bad_targets=$((bad_targets + 1))
        : >"$results/failures"
    fi
}

# ---------------------------------------------------------------------------
# Targets

ssh_urls() {
    local i
    for ((i = 1; i <= ntargets; i++)); do echo "ssh://$user@127.0.0.1:$SSHD_PORT$d/$1$i"; done
}

ssh_opts=()

# The folders the full pushes of (3) filled become the agent targets x1..x4
# and the rsync targets r1..r4 (as a first push leaves them); when there were
# fewer runs than targets, the rest are copies (cp -a) of the first.
adopt_targets() {
    local tool letter i used
    for tool in agent rsync; do
        letter=x
        [ "$tool" = rsync ] && letter=r
        mapfile -t used <"$d/state/full-$tool.used"
        for ((i = 1; i <= ntargets; i++)); do
            if [ "$i" -le "${#used[@]}" ]; then
                mv "${used[$((i - 1))]}" "$d/$letter$i"
            else
                cp -a "$d/${letter}1" "$d/$letter$i"
            fi
        done
    done
    remove_trees "$d/full"
}

# One untimed push of A (the tree they hold) to the agent and rsync targets:
# the exmsync targets get their stat caches, as a scheduled push finds them.
seed_agent_rsync() {
    local i
    echo "bench-ssh: $files files: seeding the agent and rsync targets" >&2
    mapfile -t urls < <(ssh_urls x)
    "$exmsync" push --cache "$d/cache/A.statcache" --max-delete "$files" "$d/A" "${urls[@]}" "${ssh_opts[@]}" \
        --remote-exmsync "$remote_exmsync" -v >"$results/seed-agent.out" 2>&1 ||
        { cat "$results/seed-agent.out" >&2; die "the untimed agent push of A failed"; }
    grep -q '"mode":"agent"' < <("$exmsync" push --json --cache "$d/cache/A.statcache" "$d/A" "${urls[0]}" \
        "${ssh_opts[@]}" --remote-exmsync "$remote_exmsync" 2>/dev/null) ||
        die "the push to ${urls[0]} did not run in agent mode"
    for ((i = 1; i <= ntargets; i++)); do
        rsync -a --delete -e "ssh -F $SSH_CONFIG" "$d/A/" "exmsync-test:$d/r$i/" ||
            die "the untimed rsync to r$i failed"
    done
    echo A >"$d/state/agent"
    echo A >"$d/state/rsync"
}

# Agentless targets s1..s4 and rclone targets c1..c4, holding A, checked once.
# The rclone targets are the rsync targets of (1)/(2), renamed (rsync -a left
# them equal to their tree, mtimes included), or copies of A.
# An agentless target must have been hashed over SFTP once: a stat cache
# written by a local scan (a local push on the server, or the agent) keys its
# entries on device, inode and ctime as well, which SFTP does not show, so an
# SFTP scan finds none of them valid and reads every file back (100k files:
# about 80 s a target). So s1 is seeded by one agentless push, and s2..s4 are
# copies of it with its state folder: an SFTP stat cache holds only size and
# mtime, which cp -a keeps. The untimed agentless push to all 4 then checks
# that each target is in sync and leaves it as a scheduled push would find it.
seed_sftp_rclone() {
    local i
    echo "bench-ssh: $files files: seeding the agentless and rclone targets" >&2
    for ((i = 1; i <= ntargets; i++)); do
        if [ -d "$d/r$i" ] && [ "$(cat "$d/state/rsync" 2>/dev/null)" = A ]; then
            mv "$d/r$i" "$d/c$i"
        else
            remove_trees "$d/r$i"
            cp -a "$d/A" "$d/c$i"
            chown -R "$user:" "$d/c$i"
        fi
    done
    cp -a "$d/A" "$d/s1"
    chown -R "$user:" "$d/s1"
    # Wait until no file is racily clean, or the untimed push could not cache them all.
    sleep 3
    mapfile -t urls < <(ssh_urls s)
    "$exmsync" push --cache "$d/cache/A.statcache" --max-delete "$files" "$d/A" "${urls[0]}" "${ssh_opts[@]}" \
        --no-agent -v >"$results/seed-sftp1.out" 2>&1 ||
        { cat "$results/seed-sftp1.out" >&2; die "the untimed agentless push of A to s1 failed"; }
    for ((i = 2; i <= ntargets; i++)); do cp -a "$d/s1" "$d/s$i"; done
    "$exmsync" push --cache "$d/cache/A.statcache" --max-delete "$files" "$d/A" "${urls[@]}" "${ssh_opts[@]}" \
        --no-agent -v >"$results/seed-sftp.out" 2>&1 ||
        { cat "$results/seed-sftp.out" >&2; die "the untimed agentless push of A failed"; }
    for ((i = 1; i <= ntargets; i++)); do
        rclone sync --config /dev/null "$d/A" "$rclone_remote:$d/c$i" ||
            die "the untimed rclone sync to c$i failed"
    done
    echo A >"$d/state/sftp"
    echo A >"$d/state/rclone"
}

# ---------------------------------------------------------------------------
# Numbers

# exmsync_bytes JSONL REGEX: the median, over the measured runs and the
# warm-up, of one target's bytes on the wire (the target URL ends in REGEX):
# bytes_sent + bytes_received from the push --json lines.
exmsync_bytes() {
    [ -s "$1" ] || { echo 0; return; }
    "$py" -c '
import json, re, sys
end = re.compile(sys.argv[2] + "$")
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    for t in json.loads(line).get("targets", []):
        if end.search(t["target"]):
            print(t.get("bytes_sent", 0) + t.get("bytes_received", 0))
' "$1" "$2" | median | awk '{ printf "%.0f\n", $1 }'
}

# The same for rsync --stats logs: "Total bytes sent" + "Total bytes received".
rsync_bytes() {
    [ -s "$1" ] || { echo 0; return; }
    sed 's/,//g' "$1" | awk '/^Total bytes sent:/ { s = $4 } /^Total bytes received:/ { print s + $4 }' |
        median | awk '{ printf "%.0f\n", $1 }'
}

table=$work/table
: >"$table"

# row LABEL OURS_NAME OURS PEER_NAME PEER UNIT TARGET: report's line, with the
# size in front, on stdout and in the final table.
row() {
    local line
    report "$@" >"$work/row"
    line=$(printf '%-7s %s' "$files" "$(cat "$work/row")")
    rm -f "$work/row"
    echo "$line" | tee -a "$table"
}

notes=()

check_space() {
    local tree_kib need avail copies
    tree_kib=$(du -sk "$d/A" | cut -f1)
    # 8 targets at a time, or one tree per run of each full push.
    copies=$((2 * (runs + 1) > 2 * ntargets ? 2 * (runs + 1) : 2 * ntargets))
    need=$((tree_kib * (copies + 1) * 11 / 10))
    avail=$(df -Pk "$d" | awk 'NR == 2 { print $4 }')
    [ "$avail" -ge "$need" ] ||
        die "$files files need about $((need / 1048576)) GiB free in $work for $copies copies of the tree; $((avail / 1048576)) GiB are"
}

# ---------------------------------------------------------------------------
# One size

# (3): each run pushes A into a new empty folder (fresh.sh, run before every
# run, outside the timing), the agent and rsync taking turns; every folder is
# checked afterwards.
full_pushes() {
    local qd name
    qd=$(printf %q "$d")
    for name in agent rsync; do : >"$d/state/full-$name.used"; done
    settle
    bench_prepare=("bash $qd/fresh.sh agent && sync" "bash $qd/fresh.sh rsync && sync")
    mapfile -t full_medians < <(medians full "bash $qd/step.sh full agent" "bash $qd/step.sh full rsync")
    bench_prepare=()
    check_failures
    for name in agent rsync; do
        mapfile -t used <"$d/state/full-$name.used"
        verify "full push, $name" "$d/A" "${used[@]}"
    done
}

# change_and_noop OURS PEER OUR_LETTER PEER_LETTER LABEL PEER_LABEL: (2) then (1),
# or (6) then (5): the 1% change, then the no-op check, both checked afterwards.
change_and_noop() {
    local ours=$1 peer=$2 ol=$3 pl=$4 label=$5 peer_label=$6 qd m
    qd=$(printf %q "$d")
    settle
    bench_prepare=(sync)
    mapfile -t m < <(medians "change-$ours" "bash $qd/step.sh change $ours" "bash $qd/step.sh change $peer")
    check_failures
    verify_group "$ours" "$ol" "1% change, $ours"
    verify_group "$peer" "$pl" "1% change, $peer"
    row "1% change x$ntargets" "$label" "${m[0]}" "$peer x$ntargets" "${m[1]}" s 0.5

    # A target's stat cache trusts no file changed within its racy window
    # (2 s, kRacyWindowNs): a no-op right after a change hashes those files
    # again, under the lock. A scheduled push, minutes after the last one,
    # never meets that; the no-op is measured as it would.
    sleep 2.1
    mapfile -t m < <(medians "noop-$ours" "bash $qd/step.sh noop $ours" "bash $qd/step.sh noop $peer")
    check_failures
    verify_group "$ours" "$ol" "no-op, $ours"
    verify_group "$peer" "$pl" "no-op, $peer"
    row "no-op x$ntargets" "$label" "${m[0]}" "$peer_label x$ntargets" "${m[1]}" s 0.25
    bench_prepare=()
}

bench_size() {
    files=$1
    local agentless_runs
    if [ -n "$runs_opt" ]; then
        runs=$runs_opt agentless_runs=$runs_opt
    elif [ "$files" -le 20000 ]; then
        runs=5 agentless_runs=5
    else
        runs=3 agentless_runs=1
    fi
    d=$work/n$files
    results=$d/results
    mkdir -p "$d"
    # shellcheck disable=SC2046  # the paths are plain (checked above)
    remove_trees $(size_made "$d")
    mkdir -p "$results" "$d/cache" "$d/state" "$d/full"
    make_trees
    write_scripts
    check_space
    ssh_opts=(--known-hosts "$SSH_KNOWN_HOSTS" --identity "$SSH_CLIENT_KEY")

    local tree_mib mutation xb rb m_x m_r
    tree_mib=$(($(du -sk "$d/A" | cut -f1) / 1024))
    mutation=$(sed -n 's/.*(seed [0-9]*): //p' "$d/mutate.log" 2>/dev/null | awk 'NR == 1')
    echo
    echo "== $files files, $tree_mib MiB; medians of $runs runs (agentless: $agentless_runs) after 1 warm-up run, warm page cache"
    echo "   1% change (B = A mutated, seed $mutate_seed): ${mutation:-see $d/mutate.log}"
    echo "   load average: $(cut -d' ' -f1-3 /proc/loadavg)"

    # (3) first: the folders it fills are the targets of (1) and (2).
    full_pushes
    m_x=${full_medians[0]} m_r=${full_medians[1]}
    row "full push x1" "agent" "$m_x" "rsync" "$m_r" s 1.0
    xb=$(exmsync_bytes "$results/full-agent.jsonl" "/full/agent-[0-9]+")
    rb=$(rsync_bytes "$results/full-rsync-1.log")
    notes+=("$files files, full push: exmsync agent $xb bytes, rsync $rb bytes")

    # (2), (1), (4): agent mode vs rsync.
    adopt_targets
    seed_agent_rsync
    change_and_noop agent rsync x r agent "rsync -n"
    xb=$(exmsync_bytes "$results/change-agent.jsonl" /x1)
    rb=$(rsync_bytes "$results/change-rsync-1.log")
    row "1% bytes x1" "agent" "$(awk -v b="$xb" 'BEGIN { print b / 1024 }')" \
        "rsync" "$(awk -v b="$rb" 'BEGIN { print b / 1024 }')" KiB 1.0
    notes+=("$files files, 1% change, target 1: exmsync agent $xb bytes, rsync $rb bytes")
    xb=$(exmsync_bytes "$results/noop-agent.jsonl" /x1)
    rb=$(rsync_bytes "$results/noop-rsync-1.log")
    notes+=("$files files, no-op, target 1: exmsync agent $xb bytes, rsync -n $rb bytes")
    # shellcheck disable=SC2046
    remove_trees $(size_made "$d" | tr ' ' '\n' | grep -E '/x[0-9]+$')

    # (6), (5): agentless vs rclone.
    if ! $agentless; then
        # shellcheck disable=SC2046
        remove_trees $(size_made "$d" | tr ' ' '\n' | grep -E '/[rsc][0-9]+$')
        return
    fi
    seed_sftp_rclone
    runs=$agentless_runs
    change_and_noop sftp rclone s c sftp rclone
    # shellcheck disable=SC2046
    remove_trees $(size_made "$d" | tr ' ' '\n' | grep -E '/[rsc][0-9]+$')
}

# ---------------------------------------------------------------------------
# Main

echo "exmsync over SSH benchmark: sizes $files_list, sshd on 127.0.0.1:$SSHD_PORT logging in as $user ($login_shell)"
echo "  host: $(nproc) cores, $(uname -sr), $(df -PT "$work" | awk 'NR == 2 { print $2 }') at $work"
# First lines by awk, which reads to the end: head would leave the tool a
# broken pipe, and pipefail would report it.
first_line() { awk 'NR == 1 { gsub(/  +/, " "); print }'; }
echo "  timing: $($have_hyperfine && hyperfine --version || echo 'date +%s%N loop'); $(rsync --version | first_line); $(rclone version 2>/dev/null | first_line); $(ssh -V 2>&1)"
echo "  exmsync: $exmsync ($(build_type)); server side: $remote_exmsync"
echo "  source: $(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown) ($(git -C "$repo" log -1 --format=%s 2>/dev/null | cut -c1-60))"

for n in $files_list; do
    bench_size "$n"
done

elapsed=$(($(date +%s) - started))
echo
echo "== Results (medians; 'agent' = exmsync agent mode, 'sftp' = exmsync --no-agent)"
printf '%-7s %-16s %-8s %14s   %-14s %14s   %s\n' files comparison exmsync median peer median "ratio, target, verdict"
cat "$table"
echo
for note in "${notes[@]}"; do echo "bytes: $note"; done
echo
echo "x4: one 'exmsync push SRC T1..T4' (default --parallel: all 4 at once) vs the peer run for each target in turn;"
echo "1% change runs alternate between pushing B onto A and A onto B. full push: into a new empty folder"
echo "each run. Every comparison starts at least 65 s after the last tree was removed (see settle);"
echo "'sync' runs before every timed run, outside the timing."
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); total time $((elapsed / 60)) min $((elapsed % 60)) s"
echo "summary: $passes passed, $fails failed of $((passes + fails)) targets"
if [ "$bad_targets" -gt 0 ]; then
    echo "INVALID: $bad_targets correctness checks failed (see the errors above); the numbers do not count"
    exit 1
fi
echo "correctness: every target equals its source (rsync -rcn)"
exit 0
