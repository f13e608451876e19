#!/usr/bin/env bash
# evict-cost.sh: CPU cost of an evicting SET, cached and redis-server side by
# side (issue 13). For each server, one fresh process per run:
#
#   plain     SETs of new keys (-r 100000000) with no maxmemory: nothing is evicted
#   evicting  the same SETs with maxmemory 16mb allkeys-lru (after a fill
#             pass, every SET evicts about one key)
#
# It prints the server's CPU time (utime+stime from /proc) per SET in each
# case, the keys evicted per SET, and the difference: the CPU an eviction
# adds to a SET. CPU time, not wall time, so the figure holds on a loaded
# machine better than ops/s (caches and frequency still move it).
#
# usage: bench/evict-cost.sh [N]   (N SETs per run, default 2000000; from the repository root)
# needs: go, redis-server, redis-cli and redis-benchmark 7 on PATH.
set -euo pipefail
n=${1:-2000000}
port=${PORT_A:-17521}
. bench/server.sh

evicted() { redis-cli -p "$port" info stats | awk -F: '/^evicted_keys:/ {print $2+0}'; }

load() { redis-benchmark -p "$port" -t set -n "$1" -r 100000000 -d 32 -P 16 -c 50 -q >/dev/null 2>&1; }

# run SERVER DIRECTIVES...: fills with n/2 SETs, then measures n more; prints
# "µs-per-SET evicted-per-SET".
run() {
	local srv=$1
	shift
	start "$srv" "$port" "$@"
	load $((n / 2))
	local c0 e0 c1 e1
	c0=$(cpu)
	e0=$(evicted)
	load "$n"
	c1=$(cpu)
	e1=$(evicted)
	stop
	awk -v c=$((c1 - c0)) -v e=$((e1 - e0)) -v n="$n" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.3f %.2f", c / hz / n * 1e6, e / n }'
}

echo "| server | plain µs/SET | evicting µs/SET | evicted/SET | eviction µs |"
echo "| --- | --- | --- | --- | --- |"
for srv in redis cached; do
	read -r p _ <<<"$(run $srv)"
	read -r e k <<<"$(run $srv --maxmemory 16mb --maxmemory-policy allkeys-lru)"
	printf '| %s | %s | %s | %s | %s |\n' "$srv" "$p" "$e" "$k" "$(awk -v p="$p" -v e="$e" 'BEGIN { printf "%.3f", e - p }')"
done
