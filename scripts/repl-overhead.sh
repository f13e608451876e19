#!/usr/bin/env bash
# Replication's cost on SET throughput: two 3-node cached clusters on free
# ports, one with cluster-replicas 0 and one with 1, loaded alternately by
# redis-benchmark --cluster (SET, random keys) in the same run.
# Usage (repository root): scripts/repl-overhead.sh [rounds] [requests]
# BIN=<path> measures that cached binary instead of the work tree's. At the
# end it prints each node's repl_behind_cuts and repl_full_sync_slots: a
# replica cut for lagging is snapshotted again, which costs more than the
# records it missed.
set -euo pipefail
rounds=${1:-3}
n=${2:-200000}
source scripts/lib.sh
[ -n "${BIN:-}" ] && cp "$BIN" "$out/cached"

# cluster R starts 3 nodes with cluster-replicas R; sets first to the
# first node's port (not a command substitution: their PIDs must reach
# the cleanup in this shell).
cluster() {
  local g0=""
  first=""
  for i in 0 1 2; do
    local p g seed=()
    p=$(freeport); g=$(freeport)
    [ -n "$g0" ] && seed=(--cluster-join "127.0.0.1:$g0")
    "$out/cached" --port "$p" --cluster-enabled yes --cluster-port "$g" --cluster-replicas "$1" \
      --loglevel warning --metrics-addr "" "${seed[@]}" >>"$out/cluster-$1.log" 2>&1 &
    pids+=($!)
    await_ping "node $p" "$p"
    [ -z "$first" ] && first=$p g0=$g
  done
  for _ in $(seq 200); do
    redis-cli -p "$first" CLUSTER INFO | grep -q 'cluster_known_nodes:3' && break
    sleep 0.05
  done
  sleep 2
}
cluster 0
p0=$first
cluster 1
p1=$first
for r in $(seq "$rounds"); do
  for pr in "0:$p0" "1:$p1"; do
    rep=${pr%%:*} port=${pr#*:}
    rps=$(redis-benchmark --cluster -p "$port" -t set -n "$n" -c 50 -P 16 -r 1000000 -d 32 -q 2>/dev/null |
      tr '\r' '\n' | awk '/^SET:/ {print $2}' | tail -1)
    echo "round $r replicas $rep: SET $rps requests/s"
  done
done
for port in "$p0" "$p1"; do
  for p in $(redis-cli -p "$port" CLUSTER NODES | awk '{split($2, a, "[:@]"); print a[2]}'); do
    echo "node $p: $(redis-cli -p "$p" INFO replication | tr -d '\r' | grep -E '^repl_(behind_cuts|full_sync_slots):' | tr '\n' ' ')"
  done
done
