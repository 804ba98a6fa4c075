#!/usr/bin/env bash
# Side-by-side load run: Weir, nginx, HAProxy and Caddy (Debian packages)
# each proxy in turn in front of the same nginx "return 200" backend.
# The proxy runs alone on core 0 (one worker / GOMAXPROCS=1); wrk and the
# backend share core 1. For each proxy it prints requests per second, p99
# latency and the proxy's own CPU time per request (utime+stime of its
# processes over the run divided by the requests wrk completed), and the
# ratios to nginx. Only loopback is used; every run stops by itself.
#
# usage: [ROUNDS=3] conformance/bench/sidebyside.sh [seconds per run (default 10)] [connections (default 64)]
# Every round runs the four proxies in turn; the ratios are taken within a
# round and their median over the rounds is printed last, so a noisy moment
# of the machine moves one round, not the result.
set -euo pipefail
DUR=${1:-10}
CONNS=${2:-64}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/weir-bench.XXXXXX)
BACKEND_PORT=18080
PROXY_PORT=18081
METRICS_PORT=18082
TICK=$(getconf CLK_TCK)
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	sleep 0.3
	rm -rf "$WORK"
}
trap cleanup EXIT

need() { command -v "$1" >/dev/null || { echo "missing $1: apt-get install -y $2" >&2; exit 1; }; }
need wrk wrk; need nginx nginx-light; need haproxy haproxy; need caddy caddy; need taskset util-linux

echo "building weir..." >&2
(cd "$ROOT" && go build -trimpath -o "$WORK/weir" ./cmd/weir)

# --- the backend: nginx answering 200 on core 1 ---------------------------
mkdir -p "$WORK/backend"
cat > "$WORK/backend/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/backend/nginx.pid;
error_log $WORK/backend/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 "ok\n"; } }
}
CONF
taskset -c 1 nginx -c "$WORK/backend/nginx.conf" -p "$WORK/backend" &
PIDS+=($!)

# --- the proxies -----------------------------------------------------------
mkdir -p "$WORK/nginx" "$WORK/caddy" "$WORK/haproxy"
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream be { server 127.0.0.1:$BACKEND_PORT; keepalive 128; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:$PROXY_PORT;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
cat > "$WORK/haproxy/haproxy.cfg" <<CONF
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  http-reuse always
frontend fe
  bind 127.0.0.1:$PROXY_PORT
  default_backend be
backend be
  server s1 127.0.0.1:$BACKEND_PORT
CONF
cat > "$WORK/caddy/Caddyfile" <<CONF
{
  admin off
  auto_https off
}
http://:$PROXY_PORT {
  bind 127.0.0.1
  reverse_proxy 127.0.0.1:$BACKEND_PORT
}
CONF
cat > "$WORK/weir.yaml" <<CONF
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: weir}
spec: {controller: weir.dev/ingress-controller}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: default}
spec: {ports: [{name: http, port: 80, targetPort: $BACKEND_PORT}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: backend-1, namespace: default, labels: {kubernetes.io/service-name: backend}}
addressType: IPv4
ports: [{name: http, port: $BACKEND_PORT, protocol: TCP}]
endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: bench, namespace: default}
spec:
  ingressClassName: weir
  rules:
  - http:
      paths:
      - {path: /, pathType: Prefix, backend: {service: {name: backend, port: {number: 80}}}}
CONF

start_proxy() {
	case "$1" in
	nginx) taskset -c 0 nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" & ;;
	haproxy) taskset -c 0 haproxy -db -f "$WORK/haproxy/haproxy.cfg" >"$WORK/haproxy/log" 2>&1 & ;;
	caddy) GOMAXPROCS=1 taskset -c 0 caddy run --adapter caddyfile --config "$WORK/caddy/Caddyfile" >"$WORK/caddy/log" 2>&1 & ;;
	weir) GOMAXPROCS=1 taskset -c 0 "$WORK/weir" --manifests "$WORK/weir.yaml" --http-port $PROXY_PORT --https-port 0 \
		--metrics-port $METRICS_PORT --bind-address 127.0.0.1 --access-log=false --log-level error >"$WORK/weir.log" 2>&1 & ;;
	esac
	PROXY_PID=$!
	PIDS+=($PROXY_PID)
	for _ in $(seq 1 100); do
		if curl -fsS -o /dev/null "http://127.0.0.1:$PROXY_PORT/"; then return 0; fi
		sleep 0.1
	done
	echo "$1 did not come up" >&2
	return 1
}

# cpu_ticks PID: utime+stime of PID and its children processes.
cpu_ticks() {
	local total=0 p
	for p in $1 $(pgrep -P "$1" || true); do
		[ -r /proc/$p/stat ] || continue
		total=$((total + $(awk '{print $14 + $15}' /proc/$p/stat)))
	done
	echo $total
}

ROUNDS=${ROUNDS:-3}
declare -A RPS P99 CPU
for round in $(seq 1 "$ROUNDS"); do
	for proxy in nginx haproxy caddy weir; do
		start_proxy $proxy
		# warm up, then measure
		taskset -c 1 wrk -t1 -c$CONNS -d2s "http://127.0.0.1:$PROXY_PORT/" >/dev/null
		before=$(cpu_ticks $PROXY_PID)
		out=$(taskset -c 1 wrk -t1 -c$CONNS -d${DUR}s --latency "http://127.0.0.1:$PROXY_PORT/")
		after=$(cpu_ticks $PROXY_PID)
		reqs=$(echo "$out" | awk '/requests in/ {print $1}')
		errs=$(echo "$out" | awk '/Non-2xx|Socket errors/ {print}')
		RPS[$proxy,$round]=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
		P99[$proxy,$round]=$(echo "$out" | awk '$1=="99%" {print $2}')
		CPU[$proxy,$round]=$(awk -v t=$((after - before)) -v n="$reqs" -v hz="$TICK" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
		[ -n "$errs" ] && echo "$proxy: $errs" >&2
		kill $PROXY_PID; wait $PROXY_PID 2>/dev/null || true
		sleep 0.5
	done
done

# Per round, and the median over the rounds of each ratio to nginx.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf "%-8s %5s %12s %10s %12s %10s %10s\n" proxy round req/s p99 cpu-us/req rps/nginx cpu/nginx
for proxy in nginx haproxy caddy weir; do
	for round in $(seq 1 "$ROUNDS"); do
		printf "%-8s %5s %12s %10s %12s %10s %10s\n" $proxy $round "${RPS[$proxy,$round]}" "${P99[$proxy,$round]}" "${CPU[$proxy,$round]}" \
			"$(awk -v a="${RPS[$proxy,$round]}" -v b="${RPS[nginx,$round]}" 'BEGIN{printf "%.2f", a/b}')" \
			"$(awk -v a="${CPU[$proxy,$round]}" -v b="${CPU[nginx,$round]}" 'BEGIN{printf "%.2f", a/b}')"
	done
done
echo
printf "%-8s %16s %16s\n" proxy "median cpu/nginx" "median rps/nginx"
for proxy in nginx haproxy caddy weir; do
	c=$(for r in $(seq 1 "$ROUNDS"); do awk -v a="${CPU[$proxy,$r]}" -v b="${CPU[nginx,$r]}" 'BEGIN{printf "%.3f\n", a/b}'; done | median)
	q=$(for r in $(seq 1 "$ROUNDS"); do awk -v a="${RPS[$proxy,$r]}" -v b="${RPS[nginx,$r]}" 'BEGIN{printf "%.3f\n", a/b}'; done | median)
	printf "%-8s %16.2f %16.2f\n" $proxy "$c" "$q"
done
