#!/usr/bin/env bash
# CPU per EVALSHA (INCR + EXPIRE on one key) of redis-server 7 and cached,
# from the servers' own user+system CPU time over a fixed number of
# requests (redis-benchmark, 50 clients, random keys): on a shared machine
# this is steadier than requests per second. cached runs with GOMAXPROCS=1
# so both use one core. INCR is measured the same way as the baseline.
#
# usage: scripts/evalsha-cpu.sh [requests] [redis-port] [cached-port]
set -euo pipefail
N=${1:-300000}
RPORT=${2:-7391}
CPORT=${3:-7392}
cd "$(dirname "$0")/.."
go build -o /tmp/cached-evalsha ./cmd/cached
redis-server --port "$RPORT" --save '' --appendonly no >/dev/null 2>&1 &
RPID=$!
GOMAXPROCS=1 /tmp/cached-evalsha --port "$CPORT" --metrics-addr "" >/dev/null 2>&1 &
CPID=$!
trap 'kill $RPID $CPID' EXIT
for p in "$RPORT" "$CPORT"; do
	until redis-cli -p "$p" ping >/dev/null 2>&1; do sleep 0.1; done
done
SRC="redis.call('incr', KEYS[1]) redis.call('expire', KEYS[1], ARGV[1]) return 1"
tick=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
measure() { # pid port pipeline command...
	local pid=$1 port=$2 pp=$3
	shift 3
	local c0 c1
	c0=$(cpu "$pid")
	redis-benchmark -p "$port" -n "$N" -c 50 -r 100000 -P "$pp" "$@" >/dev/null 2>&1
	c1=$(cpu "$pid")
	echo $(((c1 - c0) * 1000000000 / tick / N))
}
printf '| command | pipeline | redis-server ns CPU/req | cached ns CPU/req | redis/cached |\n| --- | --- | --- | --- | --- |\n'
for pp in 1 16; do
	for what in EVALSHA INCR; do
		if [ "$what" = EVALSHA ]; then
			r=$(measure $RPID "$RPORT" "$pp" EVALSHA "$(redis-cli -p "$RPORT" script load "$SRC")" 1 key:__rand_int__ 100)
			c=$(measure $CPID "$CPORT" "$pp" EVALSHA "$(redis-cli -p "$CPORT" script load "$SRC")" 1 key:__rand_int__ 100)
		else
			r=$(measure $RPID "$RPORT" "$pp" INCR key:__rand_int__)
			c=$(measure $CPID "$CPORT" "$pp" INCR key:__rand_int__)
		fi
		printf '| %s | %s | %s | %s | %s |\n' "$what" "$pp" "$r" "$c" "$(awk -v r="$r" -v c="$c" 'BEGIN{printf "%.2f", r/c}')"
	done
done
