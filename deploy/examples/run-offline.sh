#!/usr/bin/env bash
# `make run`: Weir in offline mode on deploy/examples/demo.yaml, in front of
# two weir-echo backends on loopback. It sends a few hundred requests, prints
# the split it saw and the curl lines to try, then serves until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/../.."
PORT=${PORT:-8080}
mkdir -p bin
go build -trimpath -o bin/weir ./cmd/weir
go build -trimpath -o bin/weir-echo ./cmd/weir-echo
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null' EXIT
bin/weir-echo -listen 127.0.0.1:9001 -name v1 & pids+=($!)
bin/weir-echo -listen 127.0.0.1:9002 -name v2 & pids+=($!)
bin/weir --manifests deploy/examples/demo.yaml --bind-address 127.0.0.1 --http-port "$PORT" --https-port 0 \
	--metrics-port 10254 --access-log=false --shutdown-delay 0 & pids+=($!)
for _ in $(seq 1 100); do curl -fs -o /dev/null http://127.0.0.1:10254/readyz && break; sleep 0.1; done
v1=0; v2=0
for _ in $(seq 1 300); do
	case "$(curl -s -H 'Host: app.example.com' "http://127.0.0.1:$PORT/" | grep -o '"backend":"v[12]"')" in
	*v1*) v1=$((v1 + 1)) ;;
	*v2*) v2=$((v2 + 1)) ;;
	esac
done
echo "300 requests to app.example.com: v1 $v1, v2 (canary, weight 20) $v2"
cat <<MSG

Weir is serving on http://127.0.0.1:$PORT (metrics on :10254/metrics). Try:
  curl -H 'Host: app.example.com' http://127.0.0.1:$PORT/                          # 80 % v1, 20 % v2
  curl -H 'Host: app.example.com' -H 'X-Canary: always' http://127.0.0.1:$PORT/    # always v2
  curl -H 'Host: app.example.com' -H 'X-Canary: never' http://127.0.0.1:$PORT/     # always v1
  curl -H 'Host: app.example.com' --cookie canary=always http://127.0.0.1:$PORT/   # always v2
Edit deploy/examples/demo.yaml (the weight, say) and Weir picks the change up within a second.
Ctrl-C stops everything.
MSG
wait
