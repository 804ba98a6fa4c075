#!/usr/bin/env bash
# pair.sh: CPU per request of two proxies measured at the same moments.
#
# sidebyside.sh runs each proxy alone on core 0, one after the other; on a
# shared virtual machine the cost of a request can move by a quarter from
# one run of a binary to the next, so a difference of a few per cent
# between two builds drowns. Here both proxies run at once, both on core 0,
# each loaded by its own wrk on core 1 with the same number of connections:
# whatever the machine does to one it does to the other, and the ratio of
# their CPU per request holds still (7 rounds of two builds of Weir moved
# within +-1.5 % of their median in docs/performance.md). What it gives up:
# each proxy has half a core and shares its caches with the other, so the
# figures are ratios between the two, not what either does alone; the
# issue's own figures stay sidebyside.sh's.
#
#   PAIR="weir weir-base" BASE=<git revision> conformance/bench/pair.sh
#   PAIR="nginx weir" CONNS=256 LOG=on conformance/bench/pair.sh
#
# PAIR: two of nginx, haproxy, caddy, weir, weir-base (Weir as of BASE);
# CONNS (64): connections per proxy; ROUNDS (7); DUR (8): seconds per round;
# LOG (off): access logs off or on for both; SHAPE (s1): s1, small GETs on
# kept-alive connections (wrk); s2, a new connection per request (wrk with
# "Connection: close"); s4, HTTP/2 over TLS multiplexed (h2load -m100,
# CONNS connections, 8 unless set). Prints, per round, each one's
# requests and CPU per request and the first's over the second's, then the
# median and range of that ratio.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${BENCH_TMP:-/tmp}/weir-pair.XXXXXX")
S3_SIZES=1
# shellcheck source=lib.sh
. "$ROOT/conformance/bench/lib.sh"
trap cleanup EXIT
read -r A B <<<"${PAIR:-weir weir-base}"
[ -n "$B" ] && [ "$A" != "$B" ] || { echo "PAIR names two different proxies" >&2; exit 2; }
[ "$A" != weir-base ] && [ "$B" != weir-base ] || [ -n "${BASE:-}" ] || { echo "weir-base needs BASE" >&2; exit 2; }
SHAPE=${SHAPE:-s1} LOG=${LOG:-off} DUR=${DUR:-8}
case $SHAPE in
s1 | s2) CONNS=${CONNS:-64} ;;
s4) CONNS=${CONNS:-8} ;;
*)
	echo "SHAPE is s1, s2 or s4" >&2
	exit 2
	;;
esac
# The second proxy listens 100 ports above the first.
P0=$PROXY_PORT T0=$TLS_PORT M0=$METRICS_PORT
for p in $((P0 + 100)) $((T0 + 100)) $((M0 + 100)); do
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		echo "port $p is in use; move PROXY_PORT, TLS_PORT, METRICS_PORT" >&2
		exit 1
	fi
done
need
setup

# load PORT TLSPORT SECONDS OUT: the load on core 1, in the background
# (its pid in WRK).
load() {
	case $SHAPE in
	s1) taskset -c 1 wrk -t1 -c"$CONNS" -d"$3s" "http://127.0.0.1:$1/" >"$4" 2>&1 & ;;
	s2) taskset -c 1 wrk -t1 -c"$CONNS" -H "Connection: close" -d"$3s" "http://127.0.0.1:$1/" >"$4" 2>&1 & ;;
	s4) taskset -c 1 h2load -c"$CONNS" -m100 -D "$3" --connect-to="127.0.0.1:$2" "https://bench.example.com:$2/" >"$4" 2>&1 & ;;
	esac
	WRK=$!
}

# served OUT: the requests a load run completed without error.
served() {
	case $SHAPE in
	s1 | s2) grep -q "^ *Non-2xx" "$1" || awk '/requests in/ {print $1}' "$1" ;;
	s4) awk '/^requests:/ && $8 == $6 {print $8}' "$1" ;; # all done succeeded
	esac
}

ratios=()
for round in $(seq 1 "${ROUNDS:-7}"); do
	PROXY_PORT=$P0 TLS_PORT=$T0 METRICS_PORT=$M0 start_proxy "$A" "$LOG" 1
	pa=$PROXY_PID
	PROXY_PORT=$((P0 + 100)) TLS_PORT=$((T0 + 100)) METRICS_PORT=$((M0 + 100)) start_proxy "$B" "$LOG" 1
	pb=$PROXY_PID
	pa2=$((P0 + 100)) ta2=$((T0 + 100))
	load "$P0" "$T0" 1 /dev/null && w=$WRK && load "$pa2" "$ta2" 1 /dev/null && wait "$w" "$WRK" || true # warm-up
	a0=$(cpu_ticks "$pa") b0=$(cpu_ticks "$pb")
	load "$P0" "$T0" "$DUR" "$WORK/wa" && w=$WRK && load "$pa2" "$ta2" "$DUR" "$WORK/wb" && wait "$w" "$WRK" || true
	a1=$(cpu_ticks "$pa") b1=$(cpu_ticks "$pb")
	na=$(served "$WORK/wa") nb=$(served "$WORK/wb")
	if [ "${na:-0}" -gt 0 ] && [ "${nb:-0}" -gt 0 ]; then
		r=$(awk -v ta=$((a1 - a0)) -v tb=$((b1 - b0)) -v na="$na" -v nb="$nb" -v hz="$TICK" \
			'BEGIN {ca = ta / hz * 1e6 / na; cb = tb / hz * 1e6 / nb; printf "%.2f %.2f %.3f", ca, cb, ca / cb}')
		read -r ca cb ratio <<<"$r"
		ratios+=("$ratio")
		echo "round $round $SHAPE c=$CONNS log=$LOG: $A $na requests, $ca us CPU each; $B $nb requests, $cb us each; $A/$B $ratio"
	else
		echo "round $round: a load run failed or saw errors; not counted" >&2
	fi
	kill "$pa" "$pb" 2>/dev/null || true
	wait "$pa" "$pb" 2>/dev/null || true
	sleep 0.3
done
[ ${#ratios[@]} -gt 0 ] || exit 1
printf '%s\n' "${ratios[@]}" | sort -g | awk -v a="$A" -v b="$B" '{v[NR] = $1}
	END {m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	printf "%s/%s CPU per request: median %.3f (%.3f-%.3f) over %d rounds\n", a, b, m, v[1], v[NR], NR}'
