#!/usr/bin/env bash
# Replica lag under load: a 3-node cached cluster with cluster-replicas 1
# on free ports, loaded by redis-benchmark --cluster (SET, random keys,
# pipelined) while every node's INFO replication is sampled every 100 ms.
# Prints the lag each primary reports for its replicas (lag_records: records
# appended after the replica's last acknowledgement; lag_ms: append time of
# the newest record minus that of the acknowledged one), as median, p99 and
# max over the samples taken under load. Replicas acknowledge every 100 ms,
# so lag_ms includes up to that much of acknowledgement delay. Then, once
# the load has ended, how long the replicas took to catch up (every
# primary's lag_records 0) and the records they had left: a replica that
# applies slower than its primary writes is still applying then, and
# records left / time is its apply rate with the machine to itself.
# Usage (repository root): scripts/repl-lag.sh [requests] [pipeline]
# BIN=<path> measures that cached binary instead of the work tree's.
set -euo pipefail
n=${1:-2000000}
pipeline=${2:-16}
source scripts/lib.sh
[ -n "${BIN:-}" ] && cp "$BIN" "$out/cached"

ports=()
g0=""
for i in 0 1 2; do
  p=$(freeport); g=$(freeport)
  seed=()
  [ -n "$g0" ] && seed=(--cluster-join "127.0.0.1:$g0")
  "$out/cached" --port "$p" --cluster-enabled yes --cluster-port "$g" --cluster-replicas 1 \
    --loglevel warning --metrics-addr "" "${seed[@]}" >>"$out/cluster.log" 2>&1 &
  pids+=($!)
  await_ping "node $p" "$p"
  ports+=("$p")
  [ -z "$g0" ] && g0=$g
done
# Settled: every node sees 3 members and every replica link is live.
for _ in $(seq 600); do
  ok=1
  for p in "${ports[@]}"; do
    redis-cli -p "$p" CLUSTER INFO | grep -q 'cluster_known_nodes:3' || ok=0
    redis-cli -p "$p" INFO migration | grep -q 'migration_state:idle' || ok=0
  done
  [ $ok = 1 ] && break
  sleep 0.1
done

redis-benchmark --cluster -p "${ports[0]}" -t set -n "$n" -c 50 -P "$pipeline" -r 1000000 -d 32 -q \
  >"$out/bench.txt" 2>&1 &
bench=$!
pids+=("$bench")
while kill -0 "$bench" 2>/dev/null; do
  for p in "${ports[@]}"; do
    redis-cli -p "$p" INFO replication | tr -d '\r' | grep -o 'lag_records=[0-9]*,lag_ms=[0-9]*' >>"$out/lag.txt" || true
  done
  sleep 0.1
done
wait "$bench" 2>/dev/null || true
# lag_left prints the records every primary reports its replicas behind by.
lag_left() {
  for p in "${ports[@]}"; do redis-cli -p "$p" INFO replication; done |
    tr -d '\r' | grep -o 'lag_records=[0-9]*' | awk -F= '{s += $2} END {print s + 0}'
}
t0=$(date +%s.%N)
left=$(lag_left)
for _ in $(seq 6000); do
  [ "$(lag_left)" = 0 ] && break
  sleep 0.02
done
t1=$(date +%s.%N)
rps=$(tr '\r' '\n' <"$out/bench.txt" | awk '/^SET:/ {print $2}' | tail -1)
echo "SET load: $rps requests/s (redis-benchmark --cluster, -c 50 -P $pipeline, $n requests)"
# summary FIELD NAME: median, p99 and max of column FIELD over the samples.
summary() {
  sed 's/lag_records=\([0-9]*\),lag_ms=\([0-9]*\)/\1 \2/' "$out/lag.txt" | sort -n -k"$1" | awk -v f="$1" -v name="$2" '
    { v[NR] = $f }
    END {
      if (NR == 0) { print "no samples"; exit }
      p = int(NR * 0.99); if (p < 1) p = 1
      printf "%s over %d samples: median %d, p99 %d, max %d\n", name, NR, v[int((NR + 1) / 2)], v[p], v[NR]
    }'
}
summary 1 lag_records
summary 2 lag_ms
awk -v l="$left" -v a="$t0" -v b="$t1" 'BEGIN {
  d = b - a
  printf "after the load: %d records left, caught up in %.2f s", l, d
  if (l > 0 && d > 0.05) printf " (%.0f records/s)", l / d
  printf "\n"
}'
for p in "${ports[@]}"; do
  printf 'node %s: ' "$p"
  redis-cli -p "$p" INFO replication | tr -d '\r' | grep -E '^repl_behind_cuts:' | tr '\n' ' '
  echo
done
