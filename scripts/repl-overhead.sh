#!/usr/bin/env bash
# Replication's cost on SET throughput: two 3-node cached clusters on free
# ports, one with cluster-replicas 0 and one with 1, loaded alternately by
# redis-benchmark --cluster (SET, random keys) in the same run.
# Usage (repository root): scripts/repl-overhead.sh [rounds] [requests]
# BIN=<path> measures that cached binary instead of the work tree's. At the
# end it prints each node's repl_behind_cuts and repl_full_sync_slots: a
# replica cut for lagging is snapshotted again, which costs more than the
# records it missed.
# REDIS=1 also runs two redis-server clusters the same way, 3 primaries
# and 3 primaries with one replica each (6 processes: Redis runs a replica
# as its own process, cached runs it inside each node), so that the
# cost of replication can be compared on the same cores.
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

# rcluster R starts 3 redis-server primaries, with R replicas each, as a
# Redis Cluster (redis-cli --cluster create), waits until every replica's
# link is up; sets first like cluster.
rcluster() {
  local addrs=() ports=()
  for _ in $(seq $((3 * (1 + $1)))); do
    local p g
    p=$(freeport); g=$(freeport)
    redis-server --port "$p" --cluster-port "$g" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "$out/nodes-$p.conf" --save '' --appendonly no --dir "$out" \
      --loglevel warning >>"$out/redis-cluster-$1.log" 2>&1 &
    pids+=($!)
    await_ping "redis-server $p" "$p"
    addrs+=("127.0.0.1:$p") ports+=("$p")
  done
  redis-cli --cluster create "${addrs[@]}" --cluster-replicas "$1" --cluster-yes >>"$out/redis-cluster-$1.log" 2>&1
  first=${ports[0]}
  for _ in $(seq 400); do
    local ok=0
    for p in "${ports[@]}"; do
      local repl
      redis-cli -p "$p" CLUSTER INFO | grep -q 'cluster_state:ok' || continue
      repl=$(redis-cli -p "$p" INFO replication)
      # a replica counts once its link to the primary is up
      grep -q 'role:slave' <<<"$repl" && ! grep -q 'master_link_status:up' <<<"$repl" && continue
      ok=$((ok + 1))
    done
    [ "$ok" = "${#ports[@]}" ] && break
    sleep 0.05
  done
  sleep 2
}

# set_rps PORT prints the SET requests/s of one redis-benchmark run
# against the cluster PORT belongs to.
set_rps() {
  redis-benchmark --cluster -p "$1" -t set -n "$n" -c 50 -P 16 -r 1000000 -d 32 -q 2>/dev/null |
    tr '\r' '\n' | awk '/^SET:/ {print $2}' | tail -1
}

cluster 0
p0=$first
cluster 1
p1=$first
runs=("cached:0:$p0" "cached:1:$p1")
if [ "${REDIS:-0}" = 1 ]; then
  rcluster 0
  runs+=("redis:0:$first")
  rcluster 1
  runs+=("redis:1:$first")
fi
for r in $(seq "$rounds"); do
  for run in "${runs[@]}"; do
    IFS=: read -r srv rep port <<<"$run"
    echo "round $r $srv replicas $rep: SET $(set_rps "$port") requests/s"
  done
done
for port in "$p0" "$p1"; do
  for p in $(redis-cli -p "$port" CLUSTER NODES | awk '{split($2, a, "[:@]"); print a[2]}'); do
    echo "node $p: $(redis-cli -p "$p" INFO replication | tr -d '\r' | grep -E '^repl_(behind_cuts|full_sync_slots):' | tr '\n' ' ')"
  done
done
