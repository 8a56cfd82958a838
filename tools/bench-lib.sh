# Shared pieces of the exmsync benchmarks (tools/bench-*.sh), sourced by them:
# building the binaries, timing commands (the tools of a comparison taking
# turns; hyperfine for a command alone) and printing one result row with its
# ratio and target.
#
# The sourcing script sets, before calling these functions:
#   bench_name      prefix of messages ("bench-manifest")
#   repo build work results runs have_hyperfine gentree exmsync peers_only
# and may set bench_prepare (an array) before calling medians: one command run
# before every timed run of every command, or one per command, in order.
# shellcheck shell=bash disable=SC2154,SC2034  # the variables above are the caller's

die() { echo "$bench_name: $*" >&2; exit 2; }

# ---------------------------------------------------------------------------
# Build

build_binaries() {
    exmsync_given=false
    [ -z "$exmsync" ] || exmsync_given=true
    local targets=()
    [ -n "$gentree" ] || targets+=(exmsync-gentree)
    [ -n "$exmsync" ] || $peers_only || targets+=(exmsync)
    if [ ${#targets[@]} -gt 0 ]; then
        local log=$work/build.log
        # A new build dir is made Release; an existing one keeps its type (it is
        # shown in the report), but is configured again if a failed configure
        # left it without build files.
        local type_arg=()
        [ -f "$build/CMakeCache.txt" ] || type_arg=(-DCMAKE_BUILD_TYPE=Release)
        if [ ${#type_arg[@]} -gt 0 ] || { [ ! -f "$build/Makefile" ] && [ ! -f "$build/build.ninja" ]; }; then
            echo "$bench_name: configuring $build" >&2
            cmake -S "$repo" -B "$build" "${type_arg[@]}" >"$log" 2>&1 ||
                { tail -20 "$log" >&2; die "cmake configure failed (log above); --gentree/--exmsync skip the build"; }
        fi
        echo "$bench_name: building ${targets[*]}" >&2
        cmake --build "$build" --target "${targets[@]}" -j "$(nproc)" >>"$log" 2>&1 ||
            { tail -20 "$log" >&2; die "build failed (log above); --gentree/--exmsync skip the build"; }
    fi
    gentree=${gentree:-$build/tools/exmsync-gentree}
    [ -x "$gentree" ] || die "no exmsync-gentree at $gentree"
    if ! $peers_only; then
        exmsync=${exmsync:-$build/tools/exmsync}
        [ -x "$exmsync" ] || die "no exmsync at $exmsync"
    fi
}

# A Debug build would make every number meaningless: say which one it is.
build_type() {
    if [ -f "$build/CMakeCache.txt" ] && ! $exmsync_given; then
        echo "$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt") build"
    else
        echo "given with --exmsync, build type unknown"
    fi
}

# ---------------------------------------------------------------------------
# Timing. Each function prints one median per command, in seconds, one a line.

bench_prepare=()

# One command alone: hyperfine, one warm-up run then R timed runs.
medians_hyperfine() {
    local name=$1; shift
    local json=$results/$name.json p
    local prep=()
    for p in "${bench_prepare[@]}"; do prep+=(--prepare "$p"); done
    # Its warnings (outliers, failing runs) go to a log, to keep the table readable.
    hyperfine --shell bash --warmup 1 --runs "$runs" -i --style none --export-json "$json" "${prep[@]}" "$@" \
        >/dev/null 2>"$results/$name.log" || { cat "$results/$name.log" >&2; die "hyperfine failed"; }
    grep -o '"median": *[-0-9.eE+]*' "$json" | sed 's/.*: *//'
}

# Commands compared side by side (or one alone, without hyperfine): R + 1
# rounds, each running every command once, in turn, after its prepare
# command (bench_prepare: one for all, or one per command); the first round
# is the warm-up and is not counted. Taking turns, rather than all the runs
# of one tool and then all of the other's, lets whatever drifts during a
# comparison (writeback of earlier trees, the inodes a file system holds back
# after a removal, other load) meet every tool alike. Each run's time, in
# microseconds, is kept in RESULTS/NAME.times as "command-number time".
# Exit codes are not checked here: the step scripts record failures.
medians_interleaved() {
    local name=$1; shift
    local times=$results/$name.times cmd k round start end prep
    : >"$times"
    for ((round = 0; round <= runs; round++)); do
        k=0
        for cmd in "$@"; do
            prep=:
            [ ${#bench_prepare[@]} -eq 0 ] || prep=${bench_prepare[$(( ${#bench_prepare[@]} == 1 ? 0 : k ))]}
            bash -c "$prep" >/dev/null 2>&1 || true
            start=$(date +%s%N)
            bash -c "$cmd" >/dev/null 2>>"$results/$name.log" || true
            end=$(date +%s%N)
            [ "$round" -eq 0 ] || echo "$k $(((end - start) / 1000))" >>"$times"
            k=$((k + 1))
        done
    done
    for ((k = 0; k < $#; k++)); do
        awk -v k="$k" '$1 == k { print $2 }' "$times" | median | awk '{ printf "%.6f\n", $1 / 1e6 }'
    done
}

medians() {
    if [ $# -eq 2 ] && $have_hyperfine; then medians_hyperfine "$@"; else medians_interleaved "$@"; fi
}

# Median of numbers on stdin (the mean of the middle two for an even count).
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---------------------------------------------------------------------------
# Report

passes=0
fails=0

# report LABEL OURS_NAME OURS PEER_NAME PEER UNIT TARGET
# An empty OURS prints the peer alone; TARGET "-" prints the ratio with no verdict.
# Leaves the ratio and verdict (PASS, FAIL or empty) in report_ratio, report_verdict.
report() {
    local label=$1 our_name=$2 ours=$3 peer_name=$4 peer=$5 unit=$6 target=$7 ratio verdict
    local digits=3
    [ "$unit" = KiB ] && digits=0
    if [ -z "$ours" ]; then
        printf '%-16s %-8s %10s %-3s   %-14s %10.*f %s\n' "$label" "$our_name" - "$unit" "$peer_name" "$digits" "$peer" "$unit"
        return
    fi
    ratio=$(awk -v a="$ours" -v b="$peer" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "inf" }')
    report_ratio=$ratio report_verdict=
    if [ "$target" = - ]; then
        printf '%-16s %-8s %10.*f %-3s   %-14s %10.*f %-3s   ratio %5s   (no target)\n' \
            "$label" "$our_name" "$digits" "$ours" "$unit" "$peer_name" "$digits" "$peer" "$unit" "$ratio"
        return
    fi
    if awk -v r="$ratio" -v t="$target" 'BEGIN { exit !(r != "inf" && r + 0 <= t + 0) }'; then
        verdict=PASS; passes=$((passes + 1))
    else
        verdict=FAIL; fails=$((fails + 1))
    fi
    report_verdict=$verdict
    printf '%-16s %-8s %10.*f %-3s   %-14s %10.*f %-3s   ratio %5s   (target <= %s)  %s\n' \
        "$label" "$our_name" "$digits" "$ours" "$unit" "$peer_name" "$digits" "$peer" "$unit" "$ratio" "$target" "$verdict"
}
