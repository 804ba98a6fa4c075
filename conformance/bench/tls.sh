#!/usr/bin/env bash
# Side-by-side HTTPS run: Weir and nginx (Debian) terminating TLS with the
# same ECDSA P-256 certificate in front of the same nginx "return 200"
# backend. The proxy runs alone on core 0 (one worker / GOMAXPROCS=1); wrk
# and the backend share core 1. Two loads per proxy:
#   keep-alive  HTTPS requests on 64 kept-alive connections
#   handshakes  "Connection: close" on every request: one full TLS handshake
#               per request
# For each: requests per second and the proxy's CPU time per request, and
# the ratios to nginx. Only loopback is used; every run stops by itself.
#
# usage: conformance/bench/tls.sh [seconds per run (default 8)]
set -euo pipefail
DUR=${1:-8}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/weir-tlsbench.XXXXXX)
BACKEND_PORT=18090
PROXY_PORT=18091
METRICS_PORT=18092
TICK=$(getconf CLK_TCK)
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	sleep 0.3
	rm -rf "$WORK"
}
trap cleanup EXIT
for c in wrk nginx openssl taskset; do command -v $c >/dev/null || { echo "missing $c" >&2; exit 1; }; done

(cd "$ROOT" && go build -trimpath -o "$WORK/weir" ./cmd/weir)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=bench.example.com \
	-addext subjectAltName=DNS:bench.example.com -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

mkdir -p "$WORK/backend" "$WORK/nginx"
cat > "$WORK/backend/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/backend/nginx.pid;
error_log $WORK/backend/error.log;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$BACKEND_PORT; location / { return 200 "ok\n"; } } }
CONF
taskset -c 1 nginx -c "$WORK/backend/nginx.conf" -p "$WORK/backend" &
PIDS+=($!)
cat > "$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream be { server 127.0.0.1:$BACKEND_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$PROXY_PORT ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
b64() { base64 -w0 "$1"; }
cat > "$WORK/weir.yaml" <<CONF
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: {name: weir}
spec: {controller: weir.dev/ingress-controller}
---
apiVersion: v1
kind: Secret
metadata: {name: bench-tls, namespace: default}
type: kubernetes.io/tls
data: {tls.crt: $(b64 "$WORK/cert.pem"), tls.key: $(b64 "$WORK/key.pem")}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: default}
spec: {ports: [{name: http, port: 80}]}
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
  tls: [{hosts: [bench.example.com], secretName: bench-tls}]
  rules:
  - host: bench.example.com
    http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: backend, port: {number: 80}}}}]}
CONF

start_proxy() {
	case "$1" in
	nginx) taskset -c 0 nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" & ;;
	weir) GOMAXPROCS=1 taskset -c 0 "$WORK/weir" --manifests "$WORK/weir.yaml" --http-port 0 --https-port $PROXY_PORT \
		--metrics-port $METRICS_PORT --bind-address 127.0.0.1 --access-log=false --log-level error >"$WORK/weir.log" 2>&1 & ;;
	esac
	PROXY_PID=$!
	PIDS+=($PROXY_PID)
	for _ in $(seq 1 100); do
		if curl -fsSk -o /dev/null --resolve bench.example.com:$PROXY_PORT:127.0.0.1 "https://bench.example.com:$PROXY_PORT/"; then return 0; fi
		sleep 0.1
	done
	echo "$1 did not come up" >&2
	return 1
}
cpu_ticks() {
	local total=0 p
	for p in $1 $(pgrep -P "$1" || true); do
		[ -r /proc/$p/stat ] && total=$((total + $(awk '{print $14 + $15}' /proc/$p/stat)))
	done
	echo $total
}

declare -A RPS CPU
URL="https://127.0.0.1:$PROXY_PORT/"
for proxy in nginx weir; do
	start_proxy $proxy
	for load in keepalive handshakes; do
		hdr=(-H "Host: bench.example.com")
		conns=64
		if [ $load = handshakes ]; then hdr+=(-H "Connection: close"); conns=16; fi
		taskset -c 1 wrk -t1 -c$conns -d2s "${hdr[@]}" "$URL" >/dev/null
		before=$(cpu_ticks $PROXY_PID)
		out=$(taskset -c 1 wrk -t1 -c$conns -d${DUR}s "${hdr[@]}" "$URL")
		after=$(cpu_ticks $PROXY_PID)
		reqs=$(echo "$out" | awk '/requests in/ {print $1}')
		RPS[$proxy-$load]=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
		CPU[$proxy-$load]=$(awk -v t=$((after - before)) -v n="$reqs" -v hz="$TICK" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
	done
	kill $PROXY_PID; wait $PROXY_PID 2>/dev/null || true
	sleep 0.5
done
printf "%-8s %-11s %12s %14s %10s %10s\n" proxy load req/s cpu-us/req rps/nginx cpu/nginx
for load in keepalive handshakes; do
	for proxy in nginx weir; do
		printf "%-8s %-11s %12s %14s %10s %10s\n" $proxy $load "${RPS[$proxy-$load]}" "${CPU[$proxy-$load]}" \
			"$(awk -v a="${RPS[$proxy-$load]}" -v b="${RPS[nginx-$load]}" 'BEGIN{printf "%.2f", a/b}')" \
			"$(awk -v a="${CPU[$proxy-$load]}" -v b="${CPU[nginx-$load]}" 'BEGIN{printf "%.2f", a/b}')"
	done
done
