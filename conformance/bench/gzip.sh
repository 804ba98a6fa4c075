#!/usr/bin/env bash
# CPU per MiB of gzip: nginx's gzip module against Weir's compress.Writer
# (proxy/compress), each serving the same text file at level 1 (the
# default of ingress-nginx's gzip-level) with and without gzip. Both run
# pinned to core 1 (nginx one worker, Weir's server GOMAXPROCS=1); curl,
# which does not decode, runs on core 0. CPU is read from /proc (user +
# system time of the serving process), so other load on the machine moves
# wall time, not the figures. The gzip cost is CPU per MiB with gzip minus
# without; the ratio Weir/nginx is taken per round, and the median and
# range over the rounds are printed. Loopback only; stops by itself.
#
# usage: [ROUNDS=5] [N=100] [CORPUS=file] conformance/bench/gzip.sh
set -euo pipefail
ROUNDS=${ROUNDS:-5}
N=${N:-100}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d)
SRC="$ROOT/_gzipbench" # inside the module, so it can import proxy/compress
cleanup() {
	[ -f "$TMP/nginx.pid" ] && kill "$(cat "$TMP/nginx.pid")" 2>/dev/null || true
	kill "${PIDS[@]}" 2>/dev/null || true
	rm -rf "$TMP" "$SRC"
}
PIDS=()
trap cleanup EXIT
mkdir -p "$TMP/www" "$SRC"
chmod 755 "$TMP" "$TMP/www" # nginx workers run as an unprivileged user
if [ -n "${CORPUS:-}" ]; then
	cp "$CORPUS" "$TMP/www/corpus.txt"
else
	(cd "$ROOT" && cat $(git ls-files '*.go' '*.md') | head -c 4194304 >"$TMP/www/corpus.txt")
fi
cat >"$SRC/main.go" <<'EOF'
package main

import (
	"log"
	"net/http"
	"os"
	"strconv"

	"weir.dev/weir/proxy/compress"
)

// Serves os.Args[1] on os.Args[2], through compress.Writer unless
// os.Args[3] is "plain", in the proxy's 32 KiB pieces.
func main() {
	body, err := os.ReadFile(os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	p, _ := compress.New(compress.Defaults())
	if os.Args[3] == "plain" {
		p = nil
	}
	log.Fatal(http.ListenAndServe(os.Args[2], http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p != nil {
			cw := p.Wrap(w, r)
			defer cw.Close(false)
			w = cw
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		for off := 0; off < len(body); off += 32 << 10 {
			w.Write(body[off:min(off+32<<10, len(body))])
		}
	})))
}
EOF
(cd "$ROOT" && go build -o "$TMP/gzipserve" ./_gzipbench)
cat >"$TMP/nginx.conf" <<EOF
worker_processes 1;
daemon on;
pid $TMP/nginx.pid;
error_log $TMP/error.log;
events { worker_connections 64; }
http {
  access_log off;
  sendfile off;
  types { text/plain txt; }
  server { listen 127.0.0.1:18090; root $TMP/www; gzip on; gzip_comp_level 1; gzip_min_length 256; gzip_types text/plain; gzip_vary on; }
  server { listen 127.0.0.1:18091; root $TMP/www; gzip off; }
}
EOF
taskset -c 1 nginx -c "$TMP/nginx.conf" -p "$TMP"
GOMAXPROCS=1 taskset -c 1 "$TMP/gzipserve" "$TMP/www/corpus.txt" 127.0.0.1:18081 gzip & PIDS+=($!)
WG=$!
GOMAXPROCS=1 taskset -c 1 "$TMP/gzipserve" "$TMP/www/corpus.txt" 127.0.0.1:18082 plain & PIDS+=($!)
WP=$!
sleep 1
NW=$(pgrep -P "$(cat "$TMP/nginx.pid")")
MIB=$(stat -c %s "$TMP/www/corpus.txt")
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
measure() { # pid url: CPU ticks (1/100 s) for N requests
	local a b
	a=$(ticks "$1")
	for _ in $(seq "$N"); do taskset -c 0 curl -sf -o /dev/null -H 'Accept-Encoding: gzip' "$2"; done
	b=$(ticks "$1")
	echo $((b - a))
}
echo "compressed bytes: nginx $(curl -s -H 'Accept-Encoding: gzip' http://127.0.0.1:18090/corpus.txt | wc -c), weir $(curl -s -H 'Accept-Encoding: gzip' http://127.0.0.1:18081/ | wc -c), of $MIB"
echo "round  ms/MiB: nginx-gzip nginx-plain weir-gzip weir-plain  gzip-only weir/nginx"
rows=""
for r in $(seq "$ROUNDS"); do
	ng=$(measure "$NW" http://127.0.0.1:18090/corpus.txt)
	np=$(measure "$NW" http://127.0.0.1:18091/corpus.txt)
	wg=$(measure "$WG" http://127.0.0.1:18081/)
	wp=$(measure "$WP" http://127.0.0.1:18082/)
	rows="$rows $ng,$np,$wg,$wp"
	echo "$r $ng $np $wg $wp" | awk -v n="$N" -v b="$MIB" '{m=n*b/1048576; printf "%5d  %.2f %.2f %.2f %.2f  %.3f\n", $1, $2*10/m, $3*10/m, $4*10/m, $5*10/m, ($4-$5)/($2-$3)}'
done
echo "$rows" | tr ' ' '\n' | grep , | awk -F, '{print ($3-$4)/($1-$2)}' | sort -g |
	awk '{v[NR]=$1} END {printf "gzip CPU per MiB, Weir/nginx: median %.2f, range %.2f-%.2f over %d rounds\n", v[int((NR+1)/2)], v[1], v[NR], NR}'
