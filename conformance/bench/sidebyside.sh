#!/usr/bin/env bash
# Side-by-side benchmark of issue 13's scenarios: Weir, nginx, HAProxy and
# Caddy (Debian packages, installed when missing) each in turn in front of
# the same nginx backend, with equivalent configuration (lib.sh). The proxy
# runs alone on core 0 (one worker, GOMAXPROCS=1); the load generator and
# the backend share core 1. Only loopback is used; every run stops by
# itself.
#
#   S1  small GET, HTTP/1.1 keep-alive, at each of CONNS connections, access
#       logs off for all, then on for all (same JSON fields, to a file):
#       max requests/s and CPU per request (wrk), then latency at fixed
#       rates (25/50/75 % of the slowest proxy's maximum in that round, at
#       LAT_CONNS connections, open loop: h2load --rps): p50, p99, p99.9;
#       and at 50 % of nginx's maximum ("rate=50%nginx", issue 13's target).
#   S2  a new connection per request ("Connection: close"), 16 connections.
#   S3  1 MiB bodies down (GET) and up (POST), 8 connections: MiB/s, CPU
#       per MiB, peak RSS.
#   S3RSS  (scenario s3rss) peak RSS by body size: each of S3_SIZES (MiB,
#       default "1 16 128") down and up at each of RSS_CONNS connections
#       (default "1 64"), a fresh proxy for each, RSS_DUR seconds (default
#       the run length): the proxy's VmRSS before the load and its VmHWM
#       after. The report says, per proxy, whether the peak grows with the
#       body size (streaming: it must not). At 64 connections and 128 MiB
#       few bodies finish in the time; 64 are in flight at once, which is
#       what a proxy that buffered bodies could not hold.
#   S4  HTTP/2 over TLS, h2load -c8 -m100, HTTP/1.1 to the backend.
#   S5  TLS handshakes: HTTPS with "Connection: close" on every request (wrk
#       -c16, no SNI, so each proxy answers with its one ECDSA P-256
#       certificate; Caddy, which needs SNI, is left out).
#   S6  1,000 routes (100 hosts x 10 paths) against 1 route, Weir and nginx.
#   S7  canary accuracy (Go test, Weir only, round 1: the draw is seeded):
#       share of 100,000 requests at weight 10 %, header/cookie rules exact.
#   S8  one Ingress change a second under load: Weir's Go test (fake API)
#       and nginx reloading a changed file while h2load runs at half of its
#       S1 maximum: time to the first request served by the new route,
#       failed requests. S8_CHANGES (60), S8_INGRESSES (100) for Weir.
#   S9  WebSockets and HTTP/2 streams across 100 table swaps (Go test).
#   S10 (issue 11) an Ingress without access annotations pays nothing for
#       them: Weir's CPU per request (wrk -c64, S1's GET) with the bench
#       Ingress alone ("annot=none") and with Ingresses on other hosts using
#       basic and external auth, CORS, rate limits, custom errors, a mirror
#       and an allowlist ("annot=others"); for information the bench
#       Ingress itself annotated ("annot=self", "annot=self+auth-url").
#       none and others run twice a round (",again"); the report gives
#       others/none per round and none/none (the noise) side by side.
#   (gotests.sh; details and the local-cluster S8 in docs/benchmarks.md)
#
# BENCH_TMP (default /tmp) holds the scratch directory; the backend's
# workers (user nobody) must be able to reach it, so not under /root.
#
# BASE=<git revision> adds the proxy "weir-base" (Weir built at that
# revision) to every round, for a before/after comparison.
#
# Every round runs every proxy once per measurement; ratios to nginx are
# taken within a round, and the report gives their median over the rounds
# and their range, so a noisy moment of a shared machine moves one round,
# not the result. "util" is the proxy's CPU use over the run (1.00 = core 0
# all its own): a maximum-rate figure with util well below 1 was limited by
# the load generator, the backend or other processes, and is flagged; "busy"
# is the whole machine's CPU use (2.00 = both cores), other processes
# included.
#
# usage: [ROUNDS=5] [SCENARIOS="s1 s2 s3 s3rss s4 s5 s6 s7 s8 s9 s10"] [S3_SIZES="1 16 128"]
#        [RSS_CONNS="1 64"] [RSS_DUR=seconds] [RSS_PROXIES="$PROXIES"] [CONNS="16 64 256"] [LOGS="off on"]
#        [LAT_CONNS=64] [PROXIES="nginx haproxy caddy weir"]
#        conformance/bench/sidebyside.sh [seconds per run (default 8)]
set -euo pipefail
DUR=${1:-8}
ROUNDS=${ROUNDS:-5}
SCENARIOS=${SCENARIOS:-s1 s2 s3 s3rss s4 s5 s6 s7 s8 s9 s10}
S3_SIZES=${S3_SIZES:-1 16 128}
RSS_CONNS=${RSS_CONNS:-1 64}
RSS_DUR=${RSS_DUR:-$DUR}
CONNS=${CONNS:-16 64 256}
LOGS=${LOGS:-off on}
LAT_CONNS=${LAT_CONNS:-64}
PROXIES=${PROXIES:-nginx haproxy caddy weir${BASE:+ weir-base}}
RSS_PROXIES=${RSS_PROXIES:-$PROXIES}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/weir-bench.XXXXXX") # BENCH_TMP: where the scratch files go
RESULTS=${RESULTS:-$WORK/results}
# shellcheck source=lib.sh
. "$ROOT/conformance/bench/lib.sh"
# shellcheck source=gotests.sh
. "$ROOT/conformance/bench/gotests.sh"
# KEEP=file keeps the results, also of a run that stopped half way.
trap '[ -n "${KEEP:-}" ] && [ -s "$RESULTS" ] && cp "$RESULTS" "$KEEP"; cleanup' EXIT
need
setup
: >"$RESULTS"

# record SCEN KEY METRIC PROXY ROUND VALUE
record() { echo "$*" >>"$RESULTS"; }

# measure SCEN KEY PROXY ROUND UNIT-DIVISOR COMMAND...: runs the load
# command on core 1 (after a 1 s warm-up with the same command), and
# records requests/s, the proxy's CPU per request (µs), its utilisation,
# the machine's, and the load tool's error count.
measure() {
	local scen=$1 key=$2 proxy=$3 round=$4
	shift 4
	local out before after b0 b1 t0 t1 reqs secs a warm=() run=()
	# The token @D@ in an argument stands for the duration in seconds.
	for a in "$@"; do
		warm+=("${a//@D@/1}")
		run+=("${a//@D@/$DUR}")
	done
	timeout 30 taskset -c 1 "${warm[@]}" >/dev/null 2>&1 || true
	before=$(cpu_ticks "$PROXY_PID")
	b0=$(busy_ticks)
	t0=$(date +%s.%N)
	out=$(timeout $((DUR + 30)) taskset -c 1 "${run[@]}" 2>&1 || true)
	t1=$(date +%s.%N)
	after=$(cpu_ticks "$PROXY_PID")
	b1=$(busy_ticks)
	if [ "$1" = wrk ]; then
		reqs=$(echo "$out" | awk '/requests in/ {print $1}')
		secs=$(echo "$out" | awk '/requests in/ {gsub(/s,/, "", $4); print $4}')
		echo "$out" | grep -E 'Non-2xx|Socket errors' >&2 && record "$scen" "$key" errors "$proxy" "$round" 1
	else
		reqs=$(echo "$out" | awk '/^requests:/ {print $8}') # succeeded
		secs=$(echo "$out" | awk '/^finished in/ {gsub(/s,/, "", $3); print $3}')
	fi
	if [ -z "$reqs" ] || [ "$reqs" = 0 ]; then
		echo "$proxy $scen $key: no requests completed: $out" >&2
		return 0
	fi
	record "$scen" "$key" rps "$proxy" "$round" "$(awk -v n="$reqs" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')"
	record "$scen" "$key" cpu_us "$proxy" "$round" "$(awk -v t=$((after - before)) -v n="$reqs" -v hz="$TICK" 'BEGIN {printf "%.2f", t / hz * 1e6 / n}')"
	record "$scen" "$key" util "$proxy" "$round" "$(awk -v t=$((after - before)) -v a="$t0" -v b="$t1" -v hz="$TICK" 'BEGIN {printf "%.2f", t / hz / (b - a)}')"
	record "$scen" "$key" busy "$proxy" "$round" "$(awk -v t=$((b1 - b0)) -v a="$t0" -v b="$t1" -v hz="$TICK" 'BEGIN {printf "%.2f", t / hz / (b - a)}')"
}

# latency SCEN KEY PROXY ROUND RATE URL: an open-loop run at RATE requests/s
# over LAT_CONNS connections; p50, p99, p99.9 in ms from h2load's log.
latency() {
	local scen=$1 key=$2 proxy=$3 round=$4 rate=$5 url=$6 log="$WORK/h2load.log"
	local per=$(((rate + LAT_CONNS - 1) / LAT_CONNS))
	rm -f "$log"
	timeout $((DUR + 30)) taskset -c 1 h2load --h1 -c "$LAT_CONNS" --rps "$per" -D "$DUR" --log-file "$log" "$url" >/dev/null 2>&1 || true
	[ -s "$log" ] || return 0
	local q
	q=$(awk -F'\t' '{print $3}' "$log" | sort -g | awk '{a[NR]=$1} END {printf "%.3f %.3f %.3f", a[int(NR*0.5)+1]/1000, a[int(NR*0.99)+1]/1000, a[int(NR*0.999)+1]/1000}')
	read -r p50 p99 p999 <<<"$q"
	record "$scen" "$key" p50_ms "$proxy" "$round" "$p50"
	record "$scen" "$key" p99_ms "$proxy" "$round" "$p99"
	record "$scen" "$key" p999_ms "$proxy" "$round" "$p999"
	record "$scen" "$key" bad "$proxy" "$round" "$(awk -F'\t' '$2 != 200' "$log" | wc -l)"
}

URL="http://127.0.0.1:$PROXY_PORT/"
s1() {
	local round=$1 log c p max slowest pct nginx
	for log in $LOGS; do
		for c in $CONNS; do
			for p in $PROXIES; do
				start_proxy "$p" "$log" 1
				measure s1 "log=$log,c=$c" "$p" "$round" wrk -t1 -c"$c" -d@D@s "$URL"
				stop_proxy
			done
		done
		slowest=$(awk -v k="log=$log,c=$LAT_CONNS" -v r="$round" '$1=="s1" && $2==k && $3=="rps" && $5==r {print $6}' "$RESULTS" | sort -g | head -1)
		[ -n "$slowest" ] || continue
		for pct in 25 50 75; do
			for p in $PROXIES; do
				start_proxy "$p" "$log" 1
				latency s1 "log=$log,c=$LAT_CONNS,rate=$pct%" "$p" "$round" $((slowest * pct / 100)) "$URL"
				stop_proxy
			done
		done
		# Issue 13's latency target: p99 at half of nginx's maximum.
		nginx=$(awk -v k="log=$log,c=$LAT_CONNS" -v r="$round" '$1=="s1" && $2==k && $3=="rps" && $4=="nginx" && $5==r {print $6}' "$RESULTS")
		[ -n "$nginx" ] || continue
		for p in $PROXIES; do
			start_proxy "$p" "$log" 1
			latency s1 "log=$log,c=$LAT_CONNS,rate=50%nginx" "$p" "$round" $((nginx / 2)) "$URL"
			stop_proxy
		done
	done
}

s2() {
	for p in $PROXIES; do
		start_proxy "$p" off 1
		measure s2 "close,c=16" "$p" "$1" wrk -t1 -c16 -d@D@s -H "Connection: close" "$URL"
		stop_proxy
	done
}

s3() {
	cat >"$WORK/up.lua" <<-'LUA'
		wrk.method = "POST"
		wrk.path = "/up"
		wrk.body = string.rep("x", 1048576)
		wrk.headers["Content-Type"] = "application/octet-stream"
	LUA
	for p in $PROXIES; do
		start_proxy "$p" off 1
		measure s3 down "$p" "$1" wrk -t1 -c8 -d@D@s --timeout 30s "${URL}mib"
		measure s3 up "$p" "$1" wrk -t1 -c8 -d@D@s --timeout 30s -s "$WORK/up.lua" "$URL"
		record s3 both rss_mib "$p" "$1" "$(awk -v k="$(peak_rss_kib "$PROXY_PID")" 'BEGIN {printf "%.1f", k / 1024}')"
		stop_proxy
	done
}

# s3rss ROUND: peak RSS by body size, direction and connection count, a
# fresh proxy for each (VmHWM only ever grows).
s3rss() {
	local p size c mode path key idle
	for size in $S3_SIZES; do
		printf 'wrk.method = "POST"\nwrk.path = "/up"\nwrk.body = string.rep("x", %d)\nwrk.headers["Content-Type"] = "application/octet-stream"\n' \
			$((size << 20)) >"$WORK/up$size.lua"
	done
	for p in $RSS_PROXIES; do
		for size in $S3_SIZES; do
			path=mib
			[ "$size" = 1 ] || path=mib$size
			for c in $RSS_CONNS; do
				for mode in down up; do
					key="$mode,size=${size}MiB,c=$c"
					start_proxy "$p" off 1
					idle=$(rss_kib "$PROXY_PID")
					if [ "$mode" = down ]; then
						timeout $((RSS_DUR + 30)) taskset -c 1 wrk -t1 -c"$c" -d"${RSS_DUR}s" --timeout 60s "$URL$path" >/dev/null 2>&1 || true
					else
						timeout $((RSS_DUR + 30)) taskset -c 1 wrk -t1 -c"$c" -d"${RSS_DUR}s" --timeout 60s -s "$WORK/up$size.lua" "$URL" >/dev/null 2>&1 || true
					fi
					record s3rss "$key" idle_mib "$p" "$1" "$(awk -v k="$idle" 'BEGIN {printf "%.1f", k / 1024}')"
					record s3rss "$key" peak_mib "$p" "$1" "$(awk -v k="$(peak_rss_kib "$PROXY_PID")" 'BEGIN {printf "%.1f", k / 1024}')"
					stop_proxy
				done
			done
		done
	done
}

s4() {
	for p in $PROXIES; do
		start_proxy "$p" off 1
		measure s4 "h2,c=8,m=100" "$p" "$1" h2load -c8 -m100 -D @D@ --connect-to=127.0.0.1:$TLS_PORT "https://bench.example.com:$TLS_PORT/"
		stop_proxy
	done
}

s5() {
	for p in $PROXIES; do
		[ "$p" = caddy ] && continue
		start_proxy "$p" off 1
		measure s5 "handshake,c=16" "$p" "$1" wrk -t1 -c16 -d@D@s -H "Connection: close" "https://127.0.0.1:$TLS_PORT/"
		stop_proxy
	done
}

s6() {
	local p routes
	for p in $PROXIES; do
		[ "$p" = haproxy ] || [ "$p" = caddy ] && continue
		for routes in 1 1000; do
			start_proxy "$p" off "$routes"
			measure s6 "routes=$routes" "$p" "$1" wrk -t1 -c64 -d@D@s -H "Host: $S6_HOST" "http://127.0.0.1:$PROXY_PORT$S6_PATH"
			stop_proxy
		done
	done
}

# s10 ROUND: Weir with and without access annotations elsewhere (issue 11).
s10() {
	local p a k
	for p in $PROXIES; do
		case $p in weir*) ;; *) continue ;; esac
		for a in none others self self+auth-url none,again others,again; do
			k="annot=$a"
			ANNOT=${a%,again} start_proxy "$p" off 1
			measure s10 "$k" "$p" "$1" wrk -t1 -c64 -d@D@s -H "$S10_AUTH" -H "$S10_ORIGIN" "$URL"
			stop_proxy
		done
	done
}

echo "machine before: $(cat /proc/loadavg)" >&2
for round in $(seq 1 "$ROUNDS"); do
	for s in $SCENARIOS; do
		echo "round $round $s ($(cut -d' ' -f1-3 /proc/loadavg))" >&2
		"$s" "$round"
	done
done
echo "machine after: $(cat /proc/loadavg)" >&2
"$ROOT/conformance/bench/report.sh" "$RESULTS"
exit 0
