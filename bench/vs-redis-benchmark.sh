#!/usr/bin/env bash
# vs-redis-benchmark.sh: runs redis-benchmark and bench against the same
# redis-server, alternating (rb, bench, rb, bench …) so machine drift hits
# both alike, and prints throughput and latency percentiles side by side.
#
# usage: bench/vs-redis-benchmark.sh [ROUNDS]   (from the repository root)
# needs: redis-server, redis-benchmark (Debian's redis-tools), jq, go.
set -euo pipefail
rounds=${1:-3}
port=${PORT:-17379}
clients=50 # except GET-C1: one connection, for latency without queueing
keys=100000
tmp=$(mktemp -d)
bin=$tmp/bench
go build -o "$bin" ./bench

redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no >/dev/null &
pid=$!
trap 'kill $pid; rm -rf "$tmp"' EXIT
until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done

# scenario: name, redis-benchmark test, pipeline, requests, bench ratio, clients
scenarios=(
	"GET-C1 get 1 30000 0:1 1"
	"SET-P1 set 1 100000 1:0 $clients"
	"GET-P1 get 1 100000 0:1 $clients"
	"SET-P16 set 16 500000 1:0 $clients"
	"GET-P16 get 16 500000 0:1 $clients"
)
# row: scenario tool ops/s p50 p99 max cpu mean little (latencies in ms)
row() { awk '{printf "%-8s %-15s %10.0f %8.3f %8.3f %8.3f %8.2f %8.3f %8.3f\n", $1, $2, $3, $4, $5, $6, $7, $8, $9}'; }
# little C P OPS: the mean latency Little's law gives if C connections always had P requests in flight.
little() { awk -v c="$1" -v p="$2" -v o="$3" 'BEGIN {printf "%.3f", c * p / o * 1000}'; }
# cpu N: the client's user+sys CPU seconds (from $tmp/cpu) per million requests.
cpu() { awk -v n="$1" '{printf "%.2f", ($1 + $2) * 1e6 / n}' "$tmp/cpu"; }
TIMEFORMAT='%U %S'
printf '%-8s %-15s %10s %8s %8s %8s %8s %8s %8s\n' scenario tool ops/s p50_ms p99_ms max_ms cpu_s/M mean_ms little_ms
for s in "${scenarios[@]}"; do
	read -r name test pipe n ratio c <<<"$s"
	for ((i = 1; i <= rounds; i++)); do
		{ time redis-benchmark -p "$port" -c "$c" -P "$pipe" -n "$n" -r $keys -d 32 -t "$test" --csv \
			>"$tmp/rb.csv" 2>/dev/null; } 2>"$tmp/cpu"
		IFS=, read -r _ ops mean _ p50 _ p99 mx <<<"$(tail -1 "$tmp/rb.csv" | tr -d '"')"
		echo "$name redis-benchmark $ops $p50 $p99 $mx $(cpu "$n") $mean $(little "$c" "$pipe" "$ops")" | row | tee -a "$tmp/rows"
		{ time "$bin" --addr "127.0.0.1:$port" --clients "$c" --pipeline "$pipe" --requests "$n" \
			--keyspace $keys --data-size 32 --ratio "$ratio" --json "$tmp/r.json" --quiet >/dev/null; } 2>"$tmp/cpu"
		ops=$(jq .total.ops_per_sec "$tmp/r.json")
		jq -r --arg s "$name" --arg c "$(cpu "$n")" --arg l "$(little "$c" "$pipe" "$ops")" \
			'"\($s) bench \(.total.ops_per_sec) \(.total.latency_us.p50/1000) \(.total.latency_us.p99/1000) \(.total.latency_us.max/1000) \($c) \(.total.latency_us.mean/1000) \($l)"' "$tmp/r.json" |
			row | tee -a "$tmp/rows"
	done
done

# Medians per scenario and tool, column by column.
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo
echo "median of $rounds rounds:"
printf '%-8s %-15s %10s %8s %8s %8s %8s %8s %8s\n' scenario tool ops/s p50_ms p99_ms max_ms cpu_s/M mean_ms little_ms
for s in "${scenarios[@]}"; do
	read -r name _ <<<"$s"
	for tool in redis-benchmark bench; do
		grep "^$name  *$tool " "$tmp/rows" >"$tmp/sel"
		echo "$name $tool $(for col in 3 4 5 6 7 8 9; do awk -v c=$col '{print $c}' "$tmp/sel" | median; done | tr '\n' ' ')" | row
	done
done
