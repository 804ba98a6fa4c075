# Issue 13's scenarios S7-S9 for sidebyside.sh (sourced): S7 and S9 are Go
# tests of this directory (canary_test.go, streams_test.go) whose figures go
# into the results table; S8 runs Weir's Go test (s8_test.go: the
# controller's informers on a fake API, the real proxy on loopback) and,
# side by side, nginx reloading the same change under load. The local
# cluster's S8 is conformance/e2e's TestS8ChangeUnderLoad (docs/benchmarks.md).

S8_CHANGES=${S8_CHANGES:-60}
S8_INGRESSES=${S8_INGRESSES:-100}

# gotest NAME [ENV=VALUE...]: runs the Go test NAME in this directory and
# prints its output (the test's figures are its log lines).
gotest() {
	local name=$1
	shift
	(cd "$ROOT/conformance/bench" && env "$@" go test -count=1 -timeout 30m -run "^$name\$" -v . 2>&1) || true
}

s7() { # deterministic (a seeded draw): round 1 only
	local out share
	[ "$1" = 1 ] || return 0
	out=$(gotest TestS7CanaryAccuracy)
	share=$(echo "$out" | sed -n 's/.*share \([0-9.]*\) %.*/\1/p')
	[ -n "$share" ] && record s7 "weight=10%,n=100000" share_pct weir "$1" "$share"
	echo "$out" | grep -q -- '--- FAIL' && record s7 "weight=10%,n=100000" errors weir "$1" 1
	record s7 "header/cookie-rules" exact_pct weir "$1" "$(echo "$out" | grep -q -- '--- FAIL' && echo 0 || echo 100)"
}

s9() {
	local out
	out=$(gotest TestS9StreamsSurviveTableSwaps)
	if echo "$out" | grep -q '^--- PASS'; then
		record s9 "ws=10,h2=20,swaps=100" survived_pct weir "$1" 100
	else
		echo "$out" >&2
		record s9 "ws=10,h2=20,swaps=100" survived_pct weir "$1" 0
	fi
}

# s8 ROUND: Weir's Go test, then nginx reloading a changed configuration
# file once a second under load at S8_RATE requests/s (default half of
# nginx's S1 maximum at LAT_CONNS connections in this round).
s8() {
	local out key="changes=$S8_CHANGES,1/s,load=50%"
	out=$(gotest TestS8ChangeUnderLoad S8_CHANGES="$S8_CHANGES" S8_INGRESSES="$S8_INGRESSES" S8_RPS="${S8_WEIR_RPS:-2000}")
	echo "$out" | grep 'S8 weir' >&2 || echo "$out" >&2
	record s8 "$key" p50_ms weir "$1" "$(echo "$out" | sed -n 's/.* p50 \([0-9.]*\) ms.*/\1/p')"
	record s8 "$key" p99_ms weir "$1" "$(echo "$out" | sed -n 's/.* p99 \([0-9.]*\) ms.*/\1/p')"
	record s8 "$key" failed weir "$1" "$(echo "$out" | sed -n 's/.* \([0-9]*\) failed$/\1/p')"
	s8_nginx "$1" "$key"
}

# s8_nginx ROUND KEY: the load is wrk (it reopens the keep-alive
# connections that a reload's old workers close; h2load does not), each
# connection paced by a Lua delay to about S8_RATE in all.
s8_nginx() {
	local round=$1 key=$2 rate i target t0 body samples=() out load
	rate=${S8_RATE:-$(awk -v k="log=off,c=$LAT_CONNS" -v r="$round" '$1=="s1" && $2==k && $3=="rps" && $4=="nginx" && $5==r {print int($6/2)}' "$RESULTS")}
	rate=${rate:-5000}
	echo "function delay() return $((LAT_CONNS * 1000 / rate)) end" >"$WORK/pace.lua"
	start_proxy nginx off 1
	s8_nginx_conf a >"$WORK/nginx/nginx.conf"
	nginx -s reload -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>/dev/null
	taskset -c 1 wrk -t1 -c"$LAT_CONNS" -d$((S8_CHANGES + 3))s -s "$WORK/pace.lua" "$URL" >"$WORK/s8-wrk.out" 2>&1 &
	load=$!
	sleep 1
	for i in $(seq 1 "$S8_CHANGES"); do
		target=$([ $((i % 2)) = 1 ] && echo b || echo a)
		t0=$EPOCHREALTIME
		s8_nginx_conf "$target" >"$WORK/nginx/nginx.conf"
		nginx -s reload -c "$WORK/nginx/nginx.conf" -p "$WORK/nginx" 2>/dev/null
		until body=$(s8_get) && [ "$body" = "$target" ]; do :; done
		samples+=("$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", (b - a) * 1000}')")
		sleep 1
	done
	wait "$load" || true
	out=$(cat "$WORK/s8-wrk.out")
	stop_proxy
	record s8 "$key" p50_ms nginx "$round" "$(printf '%s\n' "${samples[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR-1)*0.5+0.5)+1]}')"
	record s8 "$key" p99_ms nginx "$round" "$(printf '%s\n' "${samples[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR-1)*0.99+0.5)+1]}')"
	# Failed: socket errors (a request on a connection an old worker
	# closed) and answers other than 2xx.
	record s8 "$key" failed nginx "$round" "$(echo "$out" | awk '/Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} /Non-2xx/ {n += $NF} END {print n + 0}')"
	record s8 "$key" sent_pct nginx "$round" "$(echo "$out" | awk -v w=$((rate * (S8_CHANGES + 3))) '/requests in/ {printf "%.1f", 100 * $1 / w}')"
	echo "s8 nginx at $rate req/s: $(echo "$out" | grep -E 'requests in|Socket errors|Non-2xx' | tr '\n' ' ')" >&2
}

# s8_nginx_conf TARGET: S1's nginx configuration with / sent to the
# backend's /TARGET.
s8_nginx_conf() { nginx_conf off 1 | sed "s|proxy_pass http://be;|proxy_pass http://be/$1;|"; }

# s8_get: one GET / on a new connection (a reloaded nginx's new workers
# take new connections), by bash alone so that polling costs no process;
# prints the body's first line.
s8_get() {
	local line
	exec 3<>"/dev/tcp/127.0.0.1/$PROXY_PORT" || return 1
	printf 'GET / HTTP/1.1\r\nHost: s8\r\nConnection: close\r\n\r\n' >&3
	while IFS= read -r line <&3; do [ "$line" = $'\r' ] && break; done
	IFS= read -r line <&3
	exec 3<&-
	echo "$line"
}
