#!/usr/bin/env bash
# Gantry's weighted proxy side by side with nginx, driven by wrk.
#
# Two revisions split 90/10 over three replicas (stable: 2, canary: 1), the same weighted
# upstream in both proxies, and a direct run against one replica as the floor. Each target
# gets a throughput run (-c CONNECTIONS) and a light run (-c LIGHT, one thread) whose p99
# is the latency a proxy adds without queueing. Prints requests/s and p99 for each, the
# rps ratio Gantry/nginx and the p99 each proxy adds over direct. See bench/PROXY.md.
#
#   bench/proxy.sh [-d SECONDS] [-c CONNECTIONS] [-l LIGHT] [-t THREADS] [-n REPS]
#
# Settings (environment): BENCH_WORK scratch folder (default /tmp/gantry-bench),
# PROXY_BENCH_PORT first of six consecutive loopback ports used (default 18081).
# nginx and wrk are installed with apt-get when missing (Debian packages nginx, wrk).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${BENCH_WORK:-/tmp/gantry-bench}/proxy
PORT=${PROXY_BENCH_PORT:-18081}
DUR=10 CONNS=64 LIGHT=4 THREADS=2 REPS=3

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'proxy.sh: %s\n' "$*" >&2; exit 2; }
usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }

while getopts d:c:l:t:n:h opt; do
	case $opt in
	d) DUR=$OPTARG ;; c) CONNS=$OPTARG ;; l) LIGHT=$OPTARG ;; t) THREADS=$OPTARG ;; n) REPS=$OPTARG ;;
	h) usage 0 ;; *) usage ;;
	esac
done

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"
	elif command -v sudo >/dev/null; then sudo "$@"
	else die "need root (or sudo) to run: $*"
	fi
}

need=()
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
	command -v apt-get >/dev/null || die "apt-get not found; install ${need[*]} by hand"
	log "installing ${need[*]} with apt-get (missing)"
	as_root apt-get update -qq >/dev/null || die "apt-get update failed"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

B1=$PORT B2=$((PORT + 1)) B3=$((PORT + 2)) NGX=$((PORT + 3)) GAN=$((PORT + 4))
mkdir -p "$WORK/bin" "$WORK/nginx/logs"
log "building backend and gantryproxy into $WORK/bin"
(cd "$ROOT" && go build -o "$WORK/bin/" ./bench/proxy/backend ./bench/proxy/gantryproxy) ||
	die "go build failed"

pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT

start() { # start NAME CMD...: run in the background, log to $WORK/NAME.log
	local name=$1
	shift
	"$@" >"$WORK/$name.log" 2>&1 &
	pids+=($!)
}

wait_port() {
	local i
	for i in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	die "nothing listens on port $1 (see $WORK/*.log)"
}

start backend-s1 "$WORK/bin/backend" -listen "127.0.0.1:$B1" -name stable-1
start backend-s2 "$WORK/bin/backend" -listen "127.0.0.1:$B2" -name stable-2
start backend-c1 "$WORK/bin/backend" -listen "127.0.0.1:$B3" -name canary-1

# nginx does what the Gantry proxy does per request: weighted upstream with keep-alive,
# a request ID passed up and back, X-Forwarded-* and a header naming the upstream.
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $WORK/nginx/body;
	proxy_temp_path $WORK/nginx/proxy;
	upstream app {
		server 127.0.0.1:$B1 weight=45;
		server 127.0.0.1:$B2 weight=45;
		server 127.0.0.1:$B3 weight=10;
		keepalive 256;
	}
	server {
		listen 127.0.0.1:$NGX;
		keepalive_requests 1000000;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_set_header Host \$host;
			proxy_set_header X-Request-Id \$request_id;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
			proxy_set_header X-Forwarded-Host \$host;
			proxy_set_header X-Forwarded-Proto \$scheme;
			add_header X-Request-Id \$request_id;
			add_header X-Upstream \$upstream_addr;
		}
	}
}
CONF
start nginx "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -g 'daemon off;'
start gantryproxy "$WORK/bin/gantryproxy" -listen "127.0.0.1:$GAN" \
	-rev "stable=90=127.0.0.1:$B1,127.0.0.1:$B2" -rev "canary=10=127.0.0.1:$B3"
for p in "$B1" "$B2" "$B3" "$NGX" "$GAN"; do wait_port "$p"; done

# run_wrk THREADS CONNS URL: prints "RPS P99_MS" from one wrk run.
run_wrk() {
	wrk -t"$1" -c"$2" -d"${DUR}s" --latency "$3" 2>&1 | tee -a "$WORK/wrk.log" | awk '
		function ms(v) {
			if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
			if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
			if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000
			return v + 0
		}
		/^Requests\/sec:/ { rps = $2 }
		/^ +99%/ { p99 = ms($2) }
		/Non-2xx or 3xx responses:/ { bad = $NF }
		/Socket errors:/ { bad = "socket errors" }
		END {
			if (bad != "") { print "wrk reported failures: " bad > "/dev/stderr" }
			printf "%s %s\n", rps, p99
		}'
}

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

declare -A URL=([direct]="http://127.0.0.1:$B1/" [nginx]="http://127.0.0.1:$NGX/" [gantry]="http://127.0.0.1:$GAN/")
targets=(direct nginx gantry)
: >"$WORK/wrk.log"
: >"$WORK/results.tsv"
log "warming up"
for t in "${targets[@]}"; do wrk -t1 -c8 -d2s "${URL[$t]}" >/dev/null; done
log "measuring: wrk -t$THREADS -c$CONNS and -t1 -c$LIGHT, ${DUR}s each, $REPS runs, order rotated"
for ((r = 0; r < REPS; r++)); do
	for ((k = 0; k < ${#targets[@]}; k++)); do
		t=${targets[$(((k + r) % ${#targets[@]}))]}
		read -r rps p99 < <(run_wrk "$THREADS" "$CONNS" "${URL[$t]}")
		read -r lrps lp99 < <(run_wrk 1 "$LIGHT" "${URL[$t]}")
		printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$t" "$rps" "$p99" "$lrps" "$lp99" >>"$WORK/results.tsv"
		log "run $((r + 1)) $t: $rps req/s, p99 ${p99} ms; light: $lrps req/s, p99 ${lp99} ms"
	done
done

declare -A RPS P99 LRPS LP99
col() { awk -v t="$1" -v c="$2" '$2 == t {print $c}' "$WORK/results.tsv" | median; }
for t in "${targets[@]}"; do
	RPS[$t]=$(col "$t" 3) P99[$t]=$(col "$t" 4) LRPS[$t]=$(col "$t" 5) LP99[$t]=$(col "$t" 6)
done

echo
echo "90/10 over 2+1 replicas, $(nproc) CPUs, median of $REPS; load: -t$THREADS -c$CONNS, light: -t1 -c$LIGHT, ${DUR}s"
printf '%-8s %12s %10s %12s %12s\n' target req/s p99_ms light_req/s light_p99_ms
for t in "${targets[@]}"; do
	printf '%-8s %12.0f %10.2f %12.0f %12.2f\n' "$t" "${RPS[$t]}" "${P99[$t]}" "${LRPS[$t]}" "${LP99[$t]}"
done
awk -v g="${RPS[gantry]}" -v n="${RPS[nginx]}" -v lg="${LRPS[gantry]}" -v ln="${LRPS[nginx]}" \
	-v gp="${LP99[gantry]}" -v np="${LP99[nginx]}" -v dp="${LP99[direct]}" 'BEGIN {
	printf "gantry/nginx req/s: %.2f under load, %.2f light\n", g / n, lg / ln
	printf "added p99 vs direct (light): gantry %+.2f ms, nginx %+.2f ms\n", gp - dp, np - dp
}'
echo "figures: $WORK/results.tsv (rep target rps p99 light_rps light_p99), wrk output: $WORK/wrk.log"
