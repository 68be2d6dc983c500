#!/usr/bin/env bash
# bench/cache-restore.sh - restoring the 200 MB / 20,000-file cache of cache.gitlab-ci.yml.
#
# Usage: bench/cache-restore.sh [-n REPS] [--run-limit SECONDS]
#
#   -n REPS          repetitions (default 3); the table shows medians
#   --run-limit S    time limit for every single run (default 600)
#
# In one run, alternating (and rotating the order each repetition):
#   gantry    a warm `gantry run` of the cache pipeline (the cache is made once beforehand);
#             "restore" is the time between its "Checking cache for" and "Successfully
#             extracted cache" log lines (taken from `gantry run --json` timestamps);
#   gcl       a warm `gitlab-ci-local --shell-isolation` run; "restore" is the time it prints
#             itself in "imported cache '...' in X";
#   tar -x    `tar -xf` of an uncompressed tar of the same target/ tree (made once from a run
#             of raw/cache-cold.sh) into an empty folder: the plain file-system cost of
#             writing 20,000 files, with no compression and no tool around it.
# "run" is the wall time of the whole command (for the tools: start-up, restore, the job,
# which only counts the files, and the cache save that GitLab's default pull-push policy does
# after every job). Every warm run must exit 0 and print "cache hit"; a gantry failure is
# reported with its log and makes the script exit 1.
# Installs what it needs, builds gantry and finds the pipelines as bench/compare.sh does (see
# bench/lib.sh for BENCH_WORK, BENCH_PEERS, BENCH_PIPES and BENCH_NET). An untimed `sync`
# precedes every timed run; the page cache is not dropped, so every figure is for a warm one.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

ARGS_GIVEN=
[ $# -eq 0 ] || ARGS_GIVEN=$(printf " %q" "$@")
REPS=3
RUN_LIMIT=600
while [ $# -gt 0 ]; do
	case $1 in
	-n) REPS=$2; shift 2 ;;
	--run-limit) RUN_LIMIT=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
	*) die "unknown argument $1 (see --help)" ;;
	esac
done
[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "-n wants a positive number, got $REPS"

find_pipelines
install_tools
build_gantry
setup_net
export XDG_CACHE_HOME=$BENCH_WORK/xdg-restore
GANTRY_CACHE=$XDG_CACHE_HOME/gantry
LOGS=$BENCH_WORK/logs-restore
RESULTS=$BENCH_WORK/cache-restore.tsv
G=$BENCH_WORK/repos-restore/gantry C=$BENCH_WORK/repos-restore/gcl R=$BENCH_WORK/repos-restore/raw
TAR=$BENCH_WORK/repos-restore/target.tar UNTAR=$BENCH_WORK/repos-restore/untar
rm -rf "$LOGS" "$GANTRY_CACHE" "$TAR" "$UNTAR" && mkdir -p "$LOGS"
printf 'tool\trep\trun_ms\trestore_ms\trc\n' >"$RESULTS"
FAILED=()

echo "command: bench/cache-restore.sh$ARGS_GIVEN"
describe_setup

# fail TOOL WHAT LOG reports a run that did not do what it should.
fail() {
	{
		echo "!! $1: $2"
		tail -n 15 "$3" | sed 's/^/!!   /'
	} >&2
	[ "$1" = gantry ] && FAILED+=("$2; log $3")
}

# ts_ms prints the RFC 3339 time of the first JSON event whose chunk contains $2, in ms.
ts_ms() {
	local t
	t=$(grep -F "$2" "$1" | head -1 | sed -n 's/.*"time":"\([^"]*\)".*/\1/p')
	[ -n "$t" ] && echo $(($(date -d "$t" +%s%N) / 1000000))
}

log "priming: one cold run of each tool, and the reference tar"
for d in "$G" "$C" "$R"; do new_repo cache "$d"; done
timed "$G" "$LOGS/gantry.cold.log" "$RUN_LIMIT" "$GANTRY" run
{ [ "$RC" = 0 ] && grep -q "cache miss" "$LOGS/gantry.cold.log"; } || fail gantry "cold run of cache (exit $RC)" "$LOGS/gantry.cold.log"
timed "$C" "$LOGS/gcl.cold.log" "$RUN_LIMIT" "$NODE" "$GCL" --no-color --shell-isolation
[ "$RC" = 0 ] || fail gcl "cold run of cache (exit $RC)" "$LOGS/gcl.cold.log"
timed "$R" "$LOGS/raw.cold.log" "$RUN_LIMIT" bash "$PIPES/raw/cache-cold.sh"
[ "$RC" = 0 ] || die "raw/cache-cold.sh failed; see $LOGS/raw.cold.log"
(cd "$R" && tar -cf "$TAR" target) || die "making $TAR failed"

TOOLS=(gantry gcl tar)
for ((r = 1; r <= REPS; r++)); do
	for ((i = 0; i < 3; i++)); do
		t=${TOOLS[$(((i + r - 1) % 3))]} out=$LOGS/$t.warm.$r.log restore=
		log "rep $r/$REPS: $t"
		case $t in
		gantry)
			timed "$G" "$out" "$RUN_LIMIT" "$GANTRY" run --json
			a=$(ts_ms "$out" '"chunk":"Checking cache for') b=$(ts_ms "$out" '"chunk":"Successfully extracted cache')
			[ -n "$a" ] && [ -n "$b" ] && restore=$((b - a))
			{ [ "$RC" = 0 ] && grep -q '"chunk":"cache hit' "$out" && [ -n "$restore" ]; } ||
				fail gantry "warm run of cache rep $r (exit $RC, no cache hit or no restore lines)" "$out"
			;;
		gcl)
			timed "$C" "$out" "$RUN_LIMIT" "$NODE" "$GCL" --no-color --shell-isolation
			restore=$(sed -n "s/.*imported cache '[^']*' in \([0-9.]*\) \(m\{0,1\}s\).*/\1 \2/p" "$out" | head -1 |
				awk '{if ($2 == "ms") printf "%d", $1; else printf "%d", $1 * 1000}')
			{ [ "$RC" = 0 ] && grep -q "cache hit" "$out"; } || fail gcl "warm run of cache rep $r (exit $RC)" "$out"
			;;
		tar)
			rm -rf "$UNTAR" && mkdir -p "$UNTAR"
			timed "$UNTAR" "$out" "$RUN_LIMIT" tar -xf "$TAR"
			restore=$MS
			[ "$RC" = 0 ] && [ "$(ls "$UNTAR/target/cachefill" | wc -l)" = 20000 ] || die "tar -x failed; see $out"
			;;
		esac
		printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$r" "$MS" "${restore:--}" "$RC" >>"$RESULTS"
	done
done
rm -rf "$UNTAR"

# col TOOL N prints the median of column N over the tool's successful rows, in seconds.
col() {
	local v
	v=$(awk -F'\t' -v t="$1" -v n="$2" '$1==t && $5==0 && $n!="-" {print $n}' "$RESULTS")
	if [ -z "$v" ]; then echo -; return; fi
	# shellcheck disable=SC2086
	secs "$(median $v)"
}

echo
echo "Warm restore of 200 MB in 20,000 files, medians of $REPS run(s), seconds"
printf '%-40s %9s %9s\n' what restore run
printf '%-40s %9s %9s\n' "gantry run (warm, zstd tar)" "$(col gantry 4)" "$(col gantry 3)"
printf '%-40s %9s %9s\n' "gitlab-ci-local --shell-isolation (warm)" "$(col gcl 4)" "$(col gcl 3)"
printf '%-40s %9s %9s\n' "tar -xf of uncompressed target/ tar" "$(col tar 4)" "$(col tar 3)"
echo
echo "sizes: gantry cache $(du -sh "$GANTRY_CACHE" 2>/dev/null | cut -f1), gitlab-ci-local cache $(du -sh "$C/.gitlab-ci-local/cache" 2>/dev/null | cut -f1), tar $(du -sh "$TAR" | cut -f1)"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine inflates the figures)"
echo "every figure: $RESULTS; logs: $LOGS"
if ((${#FAILED[@]})); then
	echo
	echo "GANTRY FAILED (each is a bug to report):"
	printf '  %s\n' "${FAILED[@]}"
	exit 1
fi
