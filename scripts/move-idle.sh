#!/usr/bin/env bash
# Issue 12: how long a join takes on a cluster without client traffic.
# Starts NODES nodes (cluster-replicas 1), loads KEYS keys of SIZE bytes
# with bench --cluster --preload, leaves the cluster idle for 2 s, starts
# one more node and measures the time from its start until every node's
# /metrics shows NODES+1 members and no staged slot (polled every 100 ms
# over HTTP: a client command would count as client activity, which turns
# the pace back on). One line per run: the build, the pace, the seconds,
# and the keys all nodes loaded by snapshots during the join
# (cached_migration_snapshot_keys_loaded_total, summed, after less before).
#
#   scripts/move-idle.sh [PACE...]   (default: 25 no; KEYS=1000000 NODES=3 SIZE=32 ROUNDS=2 LOGLEVEL=warning)
#
# BASE=<git revision> also runs cached built at that revision (labelled
# base), alternating with the work tree's build within each round.
# PERF=DIR records the whole machine (perf record -a -g) from the join's
# start until balanced, one file per run in DIR (perf report -i FILE).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
keys=${KEYS:-1000000}
nodes=${NODES:-3}
paces=("$@")
[ ${#paces[@]} -gt 0 ] || paces=(25 no)
builds=(cached)
if [ -n "${BASE:-}" ]; then
  build_rev "$BASE" base
  builds+=(base)
fi
go build -o "$out/bench" ./bench

run() { # BUILD PACE
  local bin=$1 pace=$2 ports=() mports=() gossip1= run_pids=() perf_pid=
  for i in $(seq $((nodes + 1))); do
    local port gossip mport join=()
    port=$(freeport); gossip=$(freeport); mport=$(freeport)
    [ "$i" = 1 ] && gossip1=$gossip || join=(--cluster-join "127.0.0.1:$gossip1")
    ports+=("$port"); mports+=("$mport")
    if [ "$i" = $((nodes + 1)) ]; then
      while curl -s "http://127.0.0.1:${mports[0]}/metrics" >/dev/null; do # idle before the join
        [ "$(metric "${mports[0]}" cached_migration_table_staged_slots)" = 0 ] && break
        sleep 0.1
      done
      sleep 2
      loaded0=$(loaded "${mports[@]}")
      holds0=$(holds "${mports[@]}")
      ticks0=$(for p in "${run_pids[@]}"; do cpu_ticks "$p"; done | awk '{ s += $1 } END { print s }')
      t0=$(date +%s.%N)
      if [ -n "${PERF:-}" ]; then
        mkdir -p "$PERF"
        perf record -q -a -g -F 999 -o "$PERF/join-$bin-$pace-$(date +%H%M%S).data" >/dev/null 2>&1 &
        perf_pid=$!
      fi
    fi
    "$out/$bin" --port "$port" --bind 127.0.0.1 --loglevel "${LOGLEVEL:-warning}" --metrics-addr "127.0.0.1:$mport" \
      --cluster-enabled yes --cluster-port "$gossip" --repl-snapshot-pace "$pace" "${join[@]}" >"$out/node-$bin-$port.log" 2>&1 &
    run_pids+=($!); pids+=($!)
    if [ "$i" -lt $((nodes + 1)) ]; then
      await_ping "$bin" "$port"
      if [ "$i" = "$nodes" ]; then # every first node up: wait for one table, then load
        for _ in $(seq 600); do
          ok=1
          for m in "${mports[@]}"; do
            [ "$(metric "$m" cached_cluster_members)" = "$nodes" ] && [ "$(metric "$m" cached_migration_table_staged_slots)" = 0 ] || ok=0
          done
          [ $ok = 1 ] && break
          sleep 0.1
        done
        "$out/bench" --addr "127.0.0.1:${ports[0]}" --cluster --preload --keyspace "$keys" --data-size "${SIZE:-32}" \
          --ratio 0:1 --requests 1 --clients 50 --pipeline 16 --quiet >/dev/null
      fi
    fi
  done
  local took=-
  for _ in $(seq 1200); do # 120 s at most
    ok=1
    for m in "${mports[@]}"; do
      [ "$(metric "$m" cached_cluster_members 2>/dev/null)" = $((nodes + 1)) ] && [ "$(metric "$m" cached_migration_table_staged_slots)" = 0 ] || ok=0
    done
    if [ $ok = 1 ]; then took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'); break; fi
    sleep 0.1
  done
  if [ -n "${perf_pid:-}" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" 2>/dev/null || true
    perf_pid=
  fi
  local idle
  idle=$(for m in "${mports[@]}"; do metric "$m" cached_migration_snapshot_unpaced_idle_seconds_total | cut -c1-5; done | paste -sd/)
  local keys_moved=$(($(loaded "${mports[@]}") - loaded0))
  # CPU all nodes used from the join's start to balanced (the joining
  # node's start-up included), in seconds and in µs per key loaded.
  local cpu
  cpu=$(for p in "${run_pids[@]}"; do cpu_ticks "$p"; done |
    awk -v t0="$ticks0" -v k="$keys_moved" -v hz="$hz" '{ s += $1 } END { c = (s - t0) / hz; printf "%.2f s (%.1f µs/key)", c, (k > 0 ? c * 1e6 / k : 0) }')
  printf '%-6s %-5s %8s s   keys loaded %8d   cpu %s   unpaced idle work %s s   %s   load %s\n' "$bin" "$pace" "$took" "$keys_moved" "$cpu" "${idle:--}" \
    "$(holds_since "$holds0" "${mports[@]}")" "$(cut -d' ' -f1-3 /proc/loadavg)"
  kill "${run_pids[@]}" 2>/dev/null || true
  wait "${run_pids[@]}" 2>/dev/null || true
}

printf '%-6s %-5s %10s\n' build pace join
for r in $(seq "${ROUNDS:-2}"); do
  for pace in "${paces[@]}"; do
    for b in "${builds[@]}"; do run "$b" "$pace"; done
  done
done
