#!/usr/bin/env bash
# keycount-latency.sh: issue 13's "the collector does not grow with the
# data": GET/SET latency at a fixed request rate with SMALL keys loaded and
# with LARGE keys loaded (default 100,000 and 20,000,000 keys of 16-byte
# values), cached and redis-server, one fresh process of each per size.
#
# The load is open loop (bench --rate: requests on a fixed schedule, so a
# slow moment shows as latency instead of fewer requests), 1 SET : 10 GETs
# on uniformly random keys of the loaded key space, 50 connections. Printed
# per server and size: p50, p99, p99.9 of GET and SET (ms), cached's GC CPU
# share during the measured run (INFO cpu used_cpu_gc against
# used_cpu_user + used_cpu_sys, both as deltas over the run) and the
# collections it ran, RSS; then cached's large/small ratios, which issue 13
# wants within 1.2 for p99 and p99.9.
#
#   bench/keycount-latency.sh            (from the repository root)
#   SMALL=100000 LARGE=20000000 RATE=40000 DURATION=20s ROUNDS=1 bench/keycount-latency.sh
#   CACHED_ARGS="--io-event-loop no" bench/keycount-latency.sh   (directives for cached)
#   PIN=1 bench/keycount-latency.sh   (server on CPU 0, load generator on CPU 1)
#   SERVERS=cached bench/keycount-latency.sh   (skip redis-server: half the time)
#
# For cached it also prints its event loops' wake-ups during each measured
# run: how many requests one wake-up ran (INFO loop_wakeup_hist) and the
# keys warmed across requests (loop_prefetch_keys, prefetch-batch-max-size).
#
# Latency is wall-clock: run it on an otherwise idle machine (it prints the
# load average); the 20M-key preload takes about a minute per server and
# ~2 GB of memory each. needs: go, redis-server, redis-cli.
set -euo pipefail
small=${SMALL:-100000}
large=${LARGE:-20000000}
rate=${RATE:-40000}
duration=${DURATION:-20s}
rounds=${ROUNDS:-1}
port_c=${PORT_A:-17521}
port_r=${PORT_B:-17522}
. bench/server.sh
go build -o "$tmp/bench" ./bench
client=()
if [ "${PIN:-0}" = 1 ]; then
	SERVER_CPUS=0
	client=(taskset -c 1)
fi

info() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v k="$3" '$1 == k {print $2}'; }

# loops PORT: cached's event-loop counters (INFO stats): wake-ups that ran
# requests, the requests, the wake-ups by requests run (1, 2-3, 4-7,
# 8-15, 16-31, 32+) and the keys warmed; nothing from a build without them.
loops() {
	redis-cli -p "$1" info stats | tr -d '\r' | awk -F: '
		$1 == "loop_wakeups" { w = $2 } $1 == "loop_wakeup_requests" { r = $2 }
		$1 == "loop_wakeup_hist" { gsub(/[0-9]+=/, "", $2); gsub(/,/, " ", $2); h = $2 }
		$1 == "loop_prefetch_keys" { k = $2 }
		END { if (w != "") print w, r, h, k }'
}

# pct OP COLUMN FILE: a latency column of bench's table for OP.
pct() { awk -v op="$1" -v col="$2" '$1 == op {print $col}' "$3"; }

measure() { # SERVER PORT KEYS
	local srv=$1 port=$2 keys=$3 out="$tmp/run.txt"
	# shellcheck disable=SC2086 # CACHED_ARGS is a list of words
	if [ "$srv" = cached ]; then start cached "$port" ${CACHED_ARGS:-}; else start redis "$port"; fi
	"${client[@]}" "$tmp/bench" --addr "127.0.0.1:$port" --keyspace "$keys" --data-size 16 --preload \
		--ratio 1:10 --key-dist uniform --rate 0 --requests 1 --quiet >/dev/null
	local gc0=0 cpu0=0 cyc0=0 loops0=""
	if [ "$srv" = cached ]; then
		loops0=$(loops "$port")
		gc0=$(info "$port" cpu used_cpu_gc)
		cpu0=$(awk -v u="$(info "$port" cpu used_cpu_user)" -v s="$(info "$port" cpu used_cpu_sys)" 'BEGIN {print u + s}')
		cyc0=$(info "$port" cpu gc_cycles)
	fi
	"${client[@]}" "$tmp/bench" --addr "127.0.0.1:$port" --keyspace "$keys" --data-size 16 --ratio 1:10 \
		--key-dist uniform --rate "$rate" --duration "$duration" --warmup 3s --quiet >"$out"
	local share="-" cycles="-"
	if [ "$srv" = cached ]; then
		local gc1 cpu1
		gc1=$(info "$port" cpu used_cpu_gc)
		cpu1=$(awk -v u="$(info "$port" cpu used_cpu_user)" -v s="$(info "$port" cpu used_cpu_sys)" 'BEGIN {print u + s}')
		share=$(awk -v g0="$gc0" -v g1="$gc1" -v c0="$cpu0" -v c1="$cpu1" 'BEGIN { if (c1 > c0) printf "%.1f%%", 100 * (g1 - g0) / (c1 - c0); else print "-" }')
		cycles=$(($(info "$port" cpu gc_cycles) - cyc0))
		echo "$keys $(awk -v c0="$cpu0" -v c1="$cpu1" 'BEGIN {printf "%.2f", c1 - c0}')" >>"$tmp/cpu.txt"
		if [ -n "$loops0" ]; then
			echo "$keys $loops0 $(loops "$port")" >>"$tmp/loops.txt"
		fi
	fi
	local dbsize r
	dbsize=$(redis-cli -p "$port" dbsize)
	r=$(rss)
	stop
	# bench's table: op requests ops/s p50 p90 p99 p99.9 max errors hit
	printf '| %s | %s | %s / %s / %s | %s / %s / %s | %s | %s | %s | %s |\n' "$srv" "$dbsize" \
		"$(pct GET 4 "$out")" "$(pct GET 6 "$out")" "$(pct GET 7 "$out")" \
		"$(pct SET 4 "$out")" "$(pct SET 6 "$out")" "$(pct SET 7 "$out")" \
		"$(pct TOTAL 3 "$out")" "$share" "$cycles" "$((r / 1048576)) MiB"
	if [ "$srv" = cached ]; then
		echo "$keys $(pct GET 6 "$out") $(pct GET 7 "$out") $(pct SET 6 "$out") $(pct SET 7 "$out")" >>"$tmp/cached.txt"
	fi
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); ${SERVER_CPUS:+server on CPU $SERVER_CPUS, load generator on CPU 1; }rate $rate/s, $duration, 16-byte values, 1 SET : 10 GET, uniform keys"
echo
echo "| server | keys | GET p50 / p99 / p99.9 ms | SET p50 / p99 / p99.9 ms | ops/s | GC CPU share | GCs | RSS |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for _ in $(seq "$rounds"); do
	for keys in "$small" "$large"; do
		for srv in ${SERVERS:-redis cached}; do
			case $srv in
			redis) measure redis "$port_r" "$keys" ;;
			cached) measure cached "$port_c" "$keys" ;;
			*) echo "SERVERS: unknown server $srv" >&2 && exit 2 ;;
			esac
		done
	done
done
echo
# cached's large/small ratio per round (lines alternate small, large).
awk 'NR % 2 == 1 { split($0, s) } NR % 2 == 0 {
	printf "cached %s vs %s keys: GET p99 %.2f×, p99.9 %.2f×; SET p99 %.2f×, p99.9 %.2f×\n", $1, s[1], $2 / s[2], $3 / s[3], $4 / s[4], $5 / s[5] }' "$tmp/cached.txt"
# cached's CPU time (user + system, INFO cpu) over each measured run,
# warm-up included.
awk -v n="$rate" -v d="$duration" 'BEGIN { sub(/s$/, "", d) } {
	printf "cached %s keys: %s s of CPU over the run, %.2f µs a request\n", $1, $2, 1e6 * $2 / (n * (d + 3)) }' "$tmp/cpu.txt"
# cached's event loops during each measured run (deltas; fields: keys,
# then wake-ups, requests, six histogram buckets, keys warmed, before and
# after).
if [ -s "$tmp/loops.txt" ]; then
	awk '{ printf "cached %s keys: %d loop wake-ups ran %d requests (%.2f a wake-up); by requests run 1: %d, 2-3: %d, 4-7: %d, 8-15: %d, 16-31: %d, 32+: %d; %d keys warmed\n",
		$1, $11 - $2, $12 - $3, ($12 - $3) / ($11 - $2 + ($11 == $2)), $13 - $4, $14 - $5, $15 - $6, $16 - $7, $17 - $8, $18 - $9, $19 - $10 }' "$tmp/loops.txt"
fi
