#!/usr/bin/env bash
# ballast-latency.sh: how much of a big key space's latency is the
# machine's. A server with a SMALL key space (default 100,000 keys of
# 16-byte values) is measured as bench/keycount-latency.sh measures it
# (open loop at RATE requests/s, 1 SET : 10 GETs on uniform keys, 50
# connections, server on CPU 0, load generator on CPU 1), first alone and
# then while bench/ballast holds BALLAST_MB MiB (default 1200: what cached
# holds with 20,000,000 such keys) on CPU 1 and wakes every WAKE (a list;
# the ballast does nothing else). The ballast shares no data, lock or
# socket with the server: whatever it changes is the machine's cost of a
# large process, which a 20,000,000-key server pays too.
#
#   bench/ballast-latency.sh        (from the repository root)
#   SERVERS="cached redis" KEYS=100000 RATE=10000 DURATION=10s BALLAST_MB=1200 WAKES="100ms 10ms" ROUNDS=2 bench/ballast-latency.sh
#
# Prints one row per server, round and setting: GET p50 / p99 / p99.9 in
# ms and the p99 against the same round's run without a ballast.
# Latency is wall-clock: run it on an otherwise idle machine. needs: go,
# redis-server (for SERVERS=redis), redis-cli, taskset.
set -euo pipefail
keys=${KEYS:-100000}
rate=${RATE:-10000}
duration=${DURATION:-10s}
ballast_mb=${BALLAST_MB:-1200}
read -r -a wakes <<<"${WAKES:-100ms 10ms}"
rounds=${ROUNDS:-2}
port_c=${PORT_A:-17551}
port_r=${PORT_B:-17552}
SERVER_CPUS=0
. bench/server.sh
go build -o "$tmp/bench" ./bench
go build -o "$tmp/ballast" ./bench/ballast
bpid=""
stop_ballast() {
	if [ -n "$bpid" ]; then kill "$bpid" 2>/dev/null || true; wait "$bpid" 2>/dev/null || true; fi
	bpid=""
}
trap 'stop_ballast; cleanup' EXIT

# run PORT: one measured run; prints GET p50 p99 p99.9 (bench's table).
run() {
	taskset -c 1 "$tmp/bench" --addr "127.0.0.1:$1" --keyspace "$keys" --data-size 16 --ratio 1:10 \
		--key-dist uniform --rate "$rate" --duration "$duration" --warmup 1s --quiet |
		awk '$1 == "GET" {print $4, $6, $7}'
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); server on CPU 0, load generator and ballast on CPU 1; $keys keys, rate $rate/s, $duration; ballast $ballast_mb MiB"
echo
echo "| server | round | ballast wakes every | GET p50 / p99 / p99.9 ms | p99 / alone |"
echo "| --- | --- | --- | --- | --- |"
for round in $(seq "$rounds"); do
	for srv in ${SERVERS:-cached redis}; do
		port=$port_c
		[ "$srv" = redis ] && port=$port_r
		start "$srv" "$port"
		taskset -c 1 "$tmp/bench" --addr "127.0.0.1:$port" --keyspace "$keys" --data-size 16 --preload \
			--ratio 1:10 --key-dist uniform --rate 0 --requests 1 --quiet >/dev/null
		read -r p50 alone p999 <<<"$(run "$port")"
		echo "| $srv | $round | no ballast | $p50 / $alone / $p999 | 1.00 |"
		for w in "${wakes[@]}"; do
			taskset -c 1 "$tmp/ballast" -mb "$ballast_mb" -wake "$w" >"$tmp/ballast.out" &
			bpid=$!
			for _ in $(seq 300); do # until it holds all of it
				grep -q holding "$tmp/ballast.out" && break
				sleep 0.1
			done
			sleep 1
			read -r p50 p99 p999 <<<"$(run "$port")"
			stop_ballast
			echo "| $srv | $round | $w | $p50 / $p99 / $p999 | $(awk -v a="$p99" -v b="$alone" 'BEGIN { printf "%.2f", a / b }') |"
		done
		stop
	done
done
