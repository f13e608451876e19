#!/usr/bin/env bash
# compare-cached-redis.sh: the three ready-made scenarios of bench/README.md,
# each run with --compare against cached (A) and redis-server (B) started
# here with the same settings. Prints bench's comparison output per scenario.
#
# usage: bench/compare-cached-redis.sh [ROUNDS] [DURATION]   (from the repository root)
# needs: redis-server and redis-cli 7 on PATH, go.
set -euo pipefail
rounds=${1:-2}
dur=${2:-3s}
pa=${PORT_A:-17501}
pb=${PORT_B:-17502}
tmp=$(mktemp -d)
go build -o "$tmp/bench" ./bench
go build -o "$tmp/cached" ./cmd/cached
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# start_pair EXTRA...: cached on $pa and redis-server on $pb, same directives.
start_pair() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	pids=()
	"$tmp/cached" --port "$pa" --bind 127.0.0.1 --loglevel warning "$@" >"$tmp/cached.log" 2>&1 &
	pids+=($!)
	redis-server --port "$pb" --bind 127.0.0.1 --save '' --appendonly no "$@" >"$tmp/redis.log" 2>&1 &
	pids+=($!)
	for port in "$pa" "$pb"; do
		for _ in $(seq 100); do
			if "$tmp/bench" --addr "127.0.0.1:$port" --requests 1 --clients 1 --ratio 0:1 --quiet >/dev/null 2>&1; then break; fi
			sleep 0.1
		done
	done
}

run() {
	echo "### $1"
	shift
	echo "bench $*"
	"$tmp/bench" --compare "127.0.0.1:$pa,127.0.0.1:$pb" --rounds "$rounds" --quiet "$@"
	echo
}

start_pair --maxmemory 4mb --maxmemory-policy allkeys-lru
run "cache with eviction" --keyspace 400000 --data-size 100 --preload \
	--key-dist zipf:0.99 --ratio 1:10 --clients 50 --warmup 1s --duration "$dur"
for port in "$pa" "$pb"; do
	echo "127.0.0.1:$port keeps $(redis-cli -p "$port" dbsize) keys," \
		"$(redis-cli -p "$port" info memory | tr -d '\r' | grep -E '^used_memory:')"
done
echo

start_pair
run "throughput" --ratio 1:1 --pipeline 16 --clients 50 \
	--keyspace 100000 --data-size 32 --preload --duration "$dur"
run "latency under fixed rate" --rate 20000 --ratio 1:10 --clients 50 --preload \
	--keyspace 100000 --key-dist zipf:0.99 --warmup 1s --duration "$dur"
