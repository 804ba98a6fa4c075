# Shared parts of the side-by-side benchmark (sourced by sidebyside.sh):
# the backend, each proxy's configuration, starting and measuring a proxy.
# Every proxy gets the equivalent configuration: one worker (GOMAXPROCS=1),
# upstream keep-alive, round robin over the one backend, request and
# response streaming (no buffering to disk; 32 KiB buffers, as Weir's), HTTP/2 at most 128 streams per
# connection, and access logs either off for all or on for all (the same
# fields as JSON, to a file, buffered 64 KiB / flushed every second where
# the proxy can buffer).

BACKEND_PORT=${BACKEND_PORT:-18080}
PROXY_PORT=${PROXY_PORT:-18081}
METRICS_PORT=${METRICS_PORT:-18082}
TLS_PORT=${TLS_PORT:-18443}
TICK=$(getconf CLK_TCK)
PIDS=()
cleanup() {
	for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
	sleep 0.3
	rm -rf "$WORK"
}

# need installs what is missing from Debian (the script runs as root on the
# development machine; elsewhere it says what to install).
need() {
	local missing=() c
	for c in nginx:nginx-light haproxy:haproxy caddy:caddy wrk:wrk h2load:nghttp2-client taskset:util-linux openssl:openssl; do
		command -v "${c%%:*}" >/dev/null || missing+=("${c#*:}")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" = 0 ]; then
		apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
	else
		echo "missing: apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
}

# ports_free: refuses to run when another process (another checkout's
# benchmark, say) listens on one of the ports: its answers would be taken
# for ours. Set BACKEND_PORT, PROXY_PORT, METRICS_PORT, TLS_PORT to others.
# A port inside the kernel's ephemeral range can be taken at any moment by
# an outgoing connection's local end (the proxies' own connections to the
# backend among them): a listener there fails to bind now and then.
ports_free() {
	local p lo hi
	read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
	for p in $BACKEND_PORT $PROXY_PORT $METRICS_PORT $TLS_PORT; do
		if [ "$p" -ge "$lo" ] && [ "$p" -le "$hi" ]; then
			echo "port $p is in the ephemeral range $lo-$hi (net.ipv4.ip_local_port_range); choose ports below $lo" >&2
			exit 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "port $p on 127.0.0.1 is in use by another process; choose other ports (BACKEND_PORT, PROXY_PORT, METRICS_PORT, TLS_PORT)" >&2
			exit 1
		fi
	done
}

setup() {
	ports_free
	chmod 755 "$WORK" # the backend's workers serve files from it
	echo "building weir..." >&2
	(cd "$ROOT" && go build -trimpath -o "$WORK/weir-bin" ./cmd/weir)
	if [ -n "${BASE:-}" ]; then
		# The proxy "weir-base": Weir as of git revision BASE, for a
		# before/after comparison within the same rounds.
		echo "building weir at $BASE..." >&2
		mkdir -p "$WORK/base"
		git -C "$ROOT" archive "$BASE" | tar -x -C "$WORK/base"
		(cd "$WORK/base" && go build -trimpath -o "$WORK/weir-base-bin" ./cmd/weir)
	fi
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=bench.example.com \
		-addext subjectAltName=DNS:bench.example.com -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
	cat "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/both.pem"
	head -c 1048576 /dev/zero | tr '\0' x >"$WORK/mib"
	mkdir -p "$WORK/backend" "$WORK/www"
	cp "$WORK/mib" "$WORK/www/mib"
	for s in ${S3_SIZES:-1 16 128}; do # S3's RSS check: one file per body size (MiB)
		[ "$s" = 1 ] || head -c $((s << 20)) /dev/zero | tr '\0' x >"$WORK/www/mib$s"
	done
	{
		nginx_head backend
		cat <<-CONF
		http {
		  access_log off;
		  keepalive_requests 10000000;
		  client_max_body_size 256m;
		  client_body_buffer_size 2m;
		  server {
		    listen 127.0.0.1:$BACKEND_PORT reuseport backlog=4096;
		    root $WORK/www;
		    location /mib { } # /mib, /mib16, /mib128 (S3 sizes)
		    # An upload is read whole before the answer (through /ok), so
		    # that no proxy sees its answer while still sending.
		    location = /up { client_body_buffer_size 2m; proxy_pass http://127.0.0.1:$BACKEND_PORT/ok; }
		    location = /ok { return 200 "ok\n"; }
		    # S8's two routes: the proxy's / goes to /a or /b.
		    location = /a { return 200 "a\n"; }
		    location = /b { return 200 "b\n"; }
		    location / { return 200 "ok\n"; }
		  }
		}
	CONF
	} >"$WORK/backend/nginx.conf"
	taskset -c 1 nginx -c "$WORK/backend/nginx.conf" -p "$WORK/backend" &
	PIDS+=($!)
}

# The routes: ROUTES=1 is one prefix route "/"; ROUTES=1000 is 100 hosts x
# 10 paths (Exact, Prefix, and a wildcard host every tenth), and requests go
# to host h57.bench.test, path /p7/x (a Prefix route in the middle).
S6_HOST=h57.bench.test
S6_PATH=/p7/x

nginx_head() { # DIR: one worker, in the foreground, files in $WORK/DIR
	printf 'worker_processes 1;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/error.log;\nevents { worker_connections 8192; }\n' "$WORK/$1" "$WORK/$1"
}

nginx_conf() { # LOG ROUTES
	local log="access_log off;" servers h p name
	if [ "$1" = on ]; then
		log="log_format j escape=json '{\"time\":\"\$time_iso8601\",\"client\":\"\$remote_addr\",\"method\":\"\$request_method\",\"host\":\"\$host\",\"uri\":\"\$request_uri\",\"proto\":\"\$server_protocol\",\"status\":\$status,\"bytes\":\$body_bytes_sent,\"duration\":\$request_time,\"upstream\":\"\$upstream_addr\",\"upstream_latency\":\"\$upstream_response_time\",\"request_id\":\"\$request_id\",\"user_agent\":\"\$http_user_agent\"}';
  access_log $WORK/nginx/access.log j buffer=64k flush=1s;"
	fi
	local loc='proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; proxy_request_buffering off; proxy_buffer_size 32k; proxy_buffers 4 32k;'
	servers="server { listen 127.0.0.1:$PROXY_PORT reuseport backlog=4096; listen 127.0.0.1:$TLS_PORT ssl http2;
    ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem; location / { $loc } }"
	if [ "$2" = 1000 ]; then
		servers=$(for h in $(seq 0 99); do
			name="h$h.bench.test"
			[ $((h % 10)) = 9 ] && name="*.w$h.bench.test"
			printf 'server { listen 127.0.0.1:%s; server_name %s;' $PROXY_PORT "$name"
			for p in $(seq 0 9); do
				if [ $((p % 2)) = 0 ]; then printf ' location = /p%s { %s }' $p "$loc"; else printf ' location /p%s/ { %s }' $p "$loc"; fi
			done
			printf ' }\n'
		done)
	fi
	nginx_head nginx
	cat <<-CONF
		http {
		  $log
		  keepalive_requests 10000000;
		  client_max_body_size 256m;
		  http2_max_concurrent_streams 128;
		  server_names_hash_bucket_size 128;
		  upstream be { server 127.0.0.1:$BACKEND_PORT; keepalive 128; keepalive_requests 10000000; }
		  $servers
		}
	CONF
}

haproxy_conf() { # LOG
	local log=""
	[ "$1" = on ] && log="log stdout format raw local0
  option httplog
  log-format '{\"time\":\"%tr\",\"client\":\"%ci\",\"method\":\"%HM\",\"host\":\"%[capture.req.hdr(0),json(utf8s)]\",\"uri\":\"%[capture.req.uri,json(utf8s)]\",\"proto\":\"%HV\",\"status\":%ST,\"bytes\":%B,\"duration\":%Ta,\"upstream\":\"%si:%sp\",\"upstream_latency\":%Tr,\"request_id\":\"%ID\",\"user_agent\":\"%[capture.req.hdr(1),json(utf8s)]\"}'
  http-request capture req.hdr(host) len 128
  http-request capture req.hdr(user-agent) len 256
  unique-id-format %{+X}o%ci%cp%rt"
	cat <<-CONF
		global
		  nbthread 1
		  maxconn 8192
		  tune.h2.max-concurrent-streams 128
		defaults
		  mode http
		  timeout connect 5s
		  timeout client 60s
		  timeout server 60s
		  http-reuse always
		frontend fe
		  bind 127.0.0.1:$PROXY_PORT
		  bind 127.0.0.1:$TLS_PORT ssl crt $WORK/both.pem alpn h2,http/1.1
		  $log
		  default_backend be
		backend be
		  server s1 127.0.0.1:$BACKEND_PORT
	CONF
}

caddy_conf() { # LOG
	local log=""
	[ "$1" = on ] && log="log {
    output file $WORK/caddy/access.log
    format json
  }"
	cat <<-CONF
		{
		  admin off
		  auto_https off
		  servers {
		    protocols h1 h2
		  }
		}
		(proxy) {
		  bind 127.0.0.1
		  $log
		  reverse_proxy 127.0.0.1:$BACKEND_PORT
		}
		http://:$PROXY_PORT {
		  import proxy
		}
		https://bench.example.com:$TLS_PORT {
		  import proxy
		  tls $WORK/cert.pem $WORK/key.pem
		}
	CONF
}

weir_manifests() { # ROUTES
	local b64c b64k h p t path name
	b64c=$(base64 -w0 "$WORK/cert.pem")
	b64k=$(base64 -w0 "$WORK/key.pem")
	cat <<-CONF
		apiVersion: networking.k8s.io/v1
		kind: IngressClass
		metadata: {name: weir}
		spec: {controller: weir.dev/ingress-controller}
		---
		apiVersion: v1
		kind: Secret
		metadata: {name: bench-tls, namespace: default}
		type: kubernetes.io/tls
		data: {tls.crt: $b64c, tls.key: $b64k}
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
	CONF
	local be='backend: {service: {name: backend, port: {number: 80}}}'
	if [ "$1" = 1000 ]; then
		for h in $(seq 0 99); do
			name="h$h.bench.test"
			[ $((h % 10)) = 9 ] && name="'*.w$h.bench.test'"
			printf -- '---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: r%s, namespace: default}\nspec:\n  ingressClassName: weir\n  rules:\n  - host: %s\n    http:\n      paths:\n' $h "$name"
			for p in $(seq 0 9); do
				if [ $((p % 2)) = 0 ]; then t=Exact; path=/p$p; else t=Prefix; path=/p$p/; fi
				printf '      - {path: %s, pathType: %s, %s}\n' $path $t "$be"
			done
		done
		return
	fi
	s10_manifests "${ANNOT:-none}"
	cat <<-CONF
		---
		apiVersion: networking.k8s.io/v1
		kind: Ingress
		metadata:
		  name: bench
		  namespace: default
		  annotations:
		    nginx.ingress.kubernetes.io/proxy-body-size: 256m
		$(s10_self "${ANNOT:-none}")
		spec:
		  ingressClassName: weir
		  tls: [{hosts: [bench.example.com], secretName: bench-tls}]
		  rules:
		  - http:
		      paths:
		      - {path: /, pathType: Prefix, $be}
		  - host: bench.example.com
		    http:
		      paths:
		      - {path: /, pathType: Prefix, $be}
	CONF
}

# start_proxy NAME LOG ROUTES: the proxy alone on core 0, its access log
# (when on) in $WORK/NAME/access.log.
start_proxy() {
	start_proxy_once "$@" && return 0
	# One retry: on a shared machine a proxy has been seen to vanish at
	# start without a word (another process's kill?); a second failure ends
	# the run.
	echo "retrying $1 once" >&2
	stop_proxy
	start_proxy_once "$@"
}

start_proxy_once() {
	local name=$1 log=$2 routes=$3
	mkdir -p "$WORK/$name"
	rm -f "$WORK/$name/access.log"
	case $name in
	nginx)
		nginx_conf "$log" "$routes" >"$WORK/nginx/nginx.conf"
		taskset -c 0 nginx -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" &
		;;
	haproxy)
		haproxy_conf "$log" >"$WORK/haproxy/haproxy.cfg"
		taskset -c 0 haproxy -db -f "$WORK/haproxy/haproxy.cfg" >"$WORK/haproxy/access.log" 2>"$WORK/haproxy/err" &
		;;
	caddy)
		caddy_conf "$log" >"$WORK/caddy/Caddyfile"
		GOMAXPROCS=1 taskset -c 0 caddy run --adapter caddyfile --config "$WORK/caddy/Caddyfile" >"$WORK/caddy/err" 2>&1 &
		;;
	weir | weir-base)
		weir_manifests "$routes" >"$WORK/$name/weir.yaml"
		local flags=(--access-log=false --log-level error)
		[ "$log" = on ] && flags=(--access-log=true --log-level info)
		GOMAXPROCS=1 taskset -c 0 "$WORK/$name-bin" --manifests "$WORK/$name/weir.yaml" --http-port $PROXY_PORT --https-port $TLS_PORT \
			--metrics-port $METRICS_PORT --bind-address 127.0.0.1 "${flags[@]}" ${WEIR_FLAGS:-} 2>"$WORK/$name/access.log" >/dev/null &
		;;
	esac
	PROXY_PID=$!
	PIDS+=($PROXY_PID)
	local url="http://127.0.0.1:$PROXY_PORT/"
	[ "$routes" = 1000 ] && url="http://$S6_HOST:$PROXY_PORT$S6_PATH"
	for _ in $(seq 1 300); do
		# The process must still be alive: if it could not bind, an answer
		# came from someone else.
		kill -0 "$PROXY_PID" 2>/dev/null || break
		curl -fsS -o /dev/null -H "$S10_AUTH" --resolve "$S6_HOST:$PROXY_PORT:127.0.0.1" "$url" 2>/dev/null && kill -0 "$PROXY_PID" 2>/dev/null && return 0
		sleep 0.1
	done
	local st=running
	kill -0 "$PROXY_PID" 2>/dev/null || { wait "$PROXY_PID" 2>/dev/null; st="exited with status $?"; }
	[ -x "$WORK/$name-bin" ] || [ "${name#weir}" = "$name" ] || st="$st; $WORK/$name-bin is gone"
	echo "$name did not come up ($st); its output:" >&2
	tail -5 "$WORK/$name/"{access.log,err} >&2 2>/dev/null || true
	return 1
}

stop_proxy() {
	kill "$PROXY_PID" 2>/dev/null || true
	wait "$PROXY_PID" 2>/dev/null || true
	sleep 0.3
}

# cpu_ticks PID: utime+stime of PID and its child processes.
cpu_ticks() {
	local total=0 p
	for p in $1 $(pgrep -P "$1" || true); do
		[ -r "/proc/$p/stat" ] || continue
		total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	echo $total
}

# rss_kib PID: the largest current VmRSS of PID and its children (as
# peak_rss_kib: nginx's worker, not its master, is the one that proxies).
rss_kib() {
	local best=0 p v
	for p in $1 $(pgrep -P "$1" || true); do
		v=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		[ "${v:-0}" -gt "$best" ] && best=$v
	done
	echo $best
}

# peak_rss_kib PID: the largest VmHWM of PID and its children.
peak_rss_kib() {
	local best=0 p v
	for p in $1 $(pgrep -P "$1" || true); do
		v=$(awk '/^VmHWM/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
		[ "${v:-0}" -gt "$best" ] && best=$v
	done
	echo $best
}

# busy_ticks: all CPUs' non-idle ticks so far (the machine's load).
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

median() { sort -g | awk '{a[NR]=$1} END {if (NR) print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# S10 (issue 11: an Ingress without annotations pays nothing for them).
# ANNOT=none: the bench Ingress alone. ANNOT=others: the same, plus
# Ingresses on other hosts using each access family (basic auth, external
# auth, CORS, rate limits, custom errors with a default backend, a mirror,
# a source allowlist). ANNOT=self: the bench Ingress itself carries basic
# auth, CORS, rate limits far above the load and custom errors;
# ANNOT=self+auth-url adds external auth (a subrequest to the backend's /ok
# per request). The load sends an Authorization and an Origin header
# always, so only the configuration differs between the runs.
S10_AUTH="Authorization: Basic $(printf bench:bench | base64)"
S10_ORIGIN="Origin: https://app.example.com"
s10_annotations() { # FAMILY: annotation lines (4 spaces deep) of one access family
	local a="    nginx.ingress.kubernetes.io"
	case $1 in
	basic) printf '%s/auth-type: basic\n%s/auth-secret: bench-htpasswd\n%s/auth-realm: bench\n' "$a" "$a" "$a" ;;
	external) printf '%s/auth-url: "http://127.0.0.1:%s/ok"\n' "$a" "$BACKEND_PORT" ;;
	cors) printf '%s/enable-cors: "true"\n%s/cors-allow-origin: "https://*.example.com"\n%s/cors-allow-credentials: "true"\n' "$a" "$a" "$a" ;;
	limits) printf '%s/limit-rps: "1000000"\n%s/limit-connections: "100000"\n' "$a" "$a" ;;
	errors) printf '%s/custom-http-errors: "404,503"\n%s/default-backend: backend\n' "$a" "$a" ;;
	mirror) printf '%s/mirror-target: "http://127.0.0.1:%s/ok"\n' "$a" "$BACKEND_PORT" ;;
	allow) printf '%s/whitelist-source-range: "127.0.0.0/8,10.0.0.0/8"\n' "$a" ;;
	esac
}

s10_self() { # ANNOT: the bench Ingress's own annotations beyond proxy-body-size
	local f fams=""
	case $1 in
	self) fams="basic cors limits errors" ;;
	self+auth-url) fams="basic cors limits errors external" ;;
	esac
	for f in $fams; do s10_annotations "$f"; done
}

s10_manifests() { # ANNOT: the htpasswd Secret, and with "others" the other hosts' Ingresses
	local f i
	printf -- '---\napiVersion: v1\nkind: Secret\nmetadata: {name: bench-htpasswd, namespace: default}\ntype: Opaque\n'
	# data, not stringData: --manifests stores objects as written, and
	# only an API server turns stringData into data.
	printf 'data: {auth: %s}\n' "$(printf 'bench:{SHA}%s\n' "$(printf bench | openssl dgst -sha1 -binary | base64)" | base64 -w0)"
	[ "$1" = others ] || return 0
	for f in basic external cors limits errors mirror allow; do
		for i in 1 2; do
			printf -- '---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: s10-%s-%s\n  namespace: default\n  annotations:\n' "$f" "$i"
			s10_annotations "$f"
			printf 'spec:\n  ingressClassName: weir\n  rules:\n  - host: %s%s.bench.test\n    http:\n      paths:\n' "$f" "$i"
			printf '      - {path: /, pathType: Prefix, backend: {service: {name: backend, port: {number: 80}}}}\n'
		done
	done
}
