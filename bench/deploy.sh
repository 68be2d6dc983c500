#!/usr/bin/env bash
# Delivery timings with the real binary, for examples/wasm-service (WAGI, 2 replicas):
#
#   1. `gantry deploy --wait` to Healthy with a one-step canary (setWeight 50): the first
#      deploy (module compiled) and then REPS new revisions (module already compiled);
#   2. `gantry rollout undo` while the replaced revision is warm, until every request is
#      answered by the old revision (the CLI returns once the proxy routes are swapped;
#      the script then checks 20 requests);
#   3. a wasm request through the proxy (wrk, when installed) and the package benchmarks
#      of a WAGI request, a listener request, a module's cold start, and an in-process undo.
#
#   bench/deploy.sh [-n REPS]
#
# Settings (environment): BENCH_WORK scratch folder (default /tmp/gantry-bench),
# DEPLOY_BENCH_PORT first of two loopback ports (default 18181). See bench/DEPLOY.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${BENCH_WORK:-/tmp/gantry-bench}/deploy
PORT=${DEPLOY_BENCH_PORT:-18181}
REPS=5

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'deploy.sh: %s\n' "$*" >&2; exit 2; }
while getopts n:h opt; do
	case $opt in
	n) REPS=$OPTARG ;;
	h) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "usage: bench/deploy.sh [-n REPS]" ;;
	esac
done

rm -rf "$WORK"
mkdir -p "$WORK/repo"
log "building gantry and the example module"
(cd "$ROOT" && go build -o "$WORK/gantry" ./cmd/gantry)
(cd "$ROOT/examples/wasm-service" && GOOS=wasip1 GOARCH=wasm go build -o "$WORK/service.wasm" .)
G="$WORK/gantry"

SERVER=127.0.0.1:$PORT APP=127.0.0.1:$((PORT + 1))
GANTRY_TOKEN= GANTRY_SERVER= "$G" server --data "$WORK/data" --listen "$SERVER" --runners -1 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null; wait $SERVER_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fs "http://$SERVER/healthz" >/dev/null && break; sleep 0.1; done
export GANTRY_SERVER="http://$SERVER" GANTRY_TOKEN
GANTRY_TOKEN=$(cat "$WORK/data/admin-token")
git -C "$WORK/repo" init -q -b main
git -C "$WORK/repo" -c user.email=b@b -c user.name=b commit -q --allow-empty -m bench
"$G" project add bench --repo "$WORK/repo" >/dev/null

cat >"$WORK/gantry.deploy.yaml" <<EOF
app: wasm-service
runtime: {kind: wasm, module: service.wasm}
replicas: 2
healthCheck: {path: /healthz, interval: 2s, timeout: 1s}
environments:
  production:
    listen: $APP
    strategy: {canary: {steps: [{setWeight: 50}]}}
EOF
cd "$WORK"

now() { date +%s%N; }
ms() { echo $((($2 - $1) / 1000000)); }
deploy() { "$G" deploy --project bench --env production --version "$1" --artifact service.wasm --wait >/dev/null; }
stats() { sort -n | awk '{ v[NR] = $1 } END { printf "median %d ms, min %d ms, max %d ms (n=%d)", v[int((NR + 1) / 2)], v[1], v[NR], NR }'; }
versions() {
	for _ in $(seq 20); do curl -fs "http://$APP/" | grep -o '"GANTRY_VERSION":"[^"]*"' || echo FAILED; done | sort | uniq -c | tr '\n' ' '
}

log "first deploy (module compiled on the server)"
t0=$(now); deploy v0; t1=$(now)
FIRST=$(ms "$t0" "$t1")

log "$REPS deploys with a one-step canary"
: >"$WORK/deploy.ms"
for i in $(seq "$REPS"); do
	t0=$(now); deploy "v$i"; t1=$(now)
	ms "$t0" "$t1" >>"$WORK/deploy.ms"
done

log "$REPS undos while the replaced revision is warm"
: >"$WORK/undo.ms"
: >"$WORK/undo.check"
for _ in $(seq "$REPS"); do
	t0=$(now)
	"$G" rollout undo wasm-service --project bench --env production >/dev/null
	t1=$(now)
	ms "$t0" "$t1" >>"$WORK/undo.ms"
	want=$("$G" rollout status wasm-service --project bench --env production --json | grep -A2 '"stable"' | grep -o '"version": "[^"]*"' | cut -d'"' -f4)
	echo "stable $want: $(versions)" >>"$WORK/undo.check"
done

WRK="(wrk not installed: apt-get install wrk)"
if command -v wrk >/dev/null; then
	log "wrk through the proxy (10 s, 4 connections)"
	WRK=$(wrk -t1 -c4 -d10s --latency "http://$APP/" | awk '/Requests\/sec/ { rps = $2 } /^ +50%/ { p50 = $2 } /^ +99%/ { p99 = $2 } END { printf "%s req/s, p50 %s, p99 %s", rps, p50, p99 }')
fi

log "package benchmarks"
(cd "$ROOT" && go test -run '^$' -bench 'BenchmarkWagiRequest|BenchmarkListenerRequest' -benchtime 50x ./internal/deploy/local &&
	go test -run '^$' -bench 'BenchmarkWasmColdStart' -benchtime 3x ./internal/deploy/local) >"$WORK/local.bench" 2>&1 || true
(cd "$ROOT" && go test -run '^$' -bench BenchmarkUndoWarm -benchtime 200x ./internal/deploy) >"$WORK/undo.bench" 2>&1 || true

echo
echo "deploy -> Healthy, first (compiles the module): $FIRST ms"
echo "deploy -> Healthy, 1-step canary:               $(stats <"$WORK/deploy.ms")"
echo "undo -> all traffic on the old revision (CLI):  $(stats <"$WORK/undo.ms")"
sed 's/^/    /' "$WORK/undo.check"
echo "wasm request through the proxy:                 $WRK"
echo "package benchmarks:"
grep -h '^Benchmark' "$WORK/local.bench" "$WORK/undo.bench" | sed 's/^/    /' || echo "    (failed: see $WORK/*.bench)"
