#!/usr/bin/env bash
# Issue 12: what a crash costs a cluster without client traffic.
# Starts NODES nodes (cluster-replicas REPLICAS, default 1), loads KEYS keys
# of SIZE bytes with bench --cluster --preload, leaves the cluster idle for
# 2 s, kills the last node with SIGKILL and measures the time from the kill
# until every surviving node's /metrics shows NODES-1 members, no staged
# slot and no slot its Replicas are still loading (polled every 100 ms over
# HTTP). One line per run: the build, the
# seconds (failure detection included), the keys the survivors loaded by
# snapshots meanwhile (cached_migration_snapshot_keys_loaded_total, summed,
# after less before), the dead node's share of the keys' roles (its keys as
# primary and replica, from its keyspace before the kill) and the CPU the
# survivors used.
#
#   scripts/crash-idle.sh   (KEYS=1000000 NODES=4 REPLICAS=1 SIZE=32 ROUNDS=2 PACE=25 LOGLEVEL=warning)
#
# KEEP_OUT=1 keeps the nodes' logs (in the directory lib.sh makes).
#
# BASE=<git revision> also runs cached built at that revision (labelled
# base), alternating with the work tree's build within each round.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
keys=${KEYS:-1000000}
nodes=${NODES:-4}
builds=(cached)
if [ -n "${BASE:-}" ]; then
  build_rev "$BASE" base
  builds+=(base)
fi
go build -o "$out/bench" ./bench

# syncing PORT prints how many slots the node's Replicas are still loading.
syncing() { curl -s "http://127.0.0.1:$1/metrics" | awk '/^cached_repl_follow_slots\{/ && /state="syncing"/ { s += $2 } END { printf "%d", s }'; }

# settled N MPORT... reports whether every node shows N members, no staged
# slot and no slot its Replicas are still loading (a new replica role is
# not staged: without this the count would stop before its snapshot ends).
settled() {
  local n=$1
  shift
  for m in "$@"; do
    [ "$(metric "$m" cached_cluster_members 2>/dev/null)" = "$n" ] && [ "$(metric "$m" cached_migration_table_staged_slots)" = 0 ] &&
      [ "$(syncing "$m")" = 0 ] || return 1
  done
}

run() { # BUILD
  local bin=$1 ports=() mports=() gossip1= run_pids=()
  for i in $(seq "$nodes"); do
    local port gossip mport join=()
    port=$(freeport); gossip=$(freeport); mport=$(freeport)
    [ "$i" = 1 ] && gossip1=$gossip || join=(--cluster-join "127.0.0.1:$gossip1")
    ports+=("$port"); mports+=("$mport")
    "$out/$bin" --port "$port" --bind 127.0.0.1 --loglevel "${LOGLEVEL:-warning}" --metrics-addr "127.0.0.1:$mport" \
      --cluster-enabled yes --cluster-port "$gossip" --cluster-replicas "${REPLICAS:-1}" \
      --repl-snapshot-pace "${PACE:-25}" "${join[@]}" >"$out/node-$bin-$port.log" 2>&1 &
    run_pids+=($!); pids+=($!)
    await_ping "$bin" "$port"
  done
  for _ in $(seq 600); do settled "$nodes" "${mports[@]}" && break; sleep 0.1; done
  "$out/bench" --addr "127.0.0.1:${ports[0]}" --cluster --preload --keyspace "$keys" --data-size "${SIZE:-32}" \
    --ratio 0:1 --requests 1 --clients 50 --pipeline 16 --quiet >/dev/null
  for _ in $(seq 600); do settled "$nodes" "${mports[@]}" && break; sleep 0.1; done
  sleep 2
  local last=$((nodes - 1))
  # The dead node's roles: every key it holds, as primary or replica.
  local roles
  roles=$(redis-cli -p "${ports[$last]}" DBSIZE)
  local survivors=("${mports[@]:0:$last}") spids=("${run_pids[@]:0:$last}")
  local loaded0 holds0 ticks0 t0
  loaded0=$(loaded "${survivors[@]}")
  holds0=$(holds "${survivors[@]}")
  ticks0=$(for p in "${spids[@]}"; do cpu_ticks "$p"; done | awk '{ s += $1 } END { print s }')
  t0=$(date +%s.%N)
  kill -9 "${run_pids[$last]}"
  wait "${run_pids[$last]}" 2>/dev/null || true
  local took=-
  for _ in $(seq 1200); do # 120 s at most
    if settled "$last" "${survivors[@]}"; then took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'); break; fi
    sleep 0.1
  done
  local keys_loaded=$(($(loaded "${survivors[@]}") - loaded0))
  local cpu
  cpu=$(for p in "${spids[@]}"; do cpu_ticks "$p"; done |
    awk -v t0="$ticks0" -v hz="$hz" '{ s += $1 } END { printf "%.2f", (s - t0) / hz }')
  printf '%-6s %8s s   keys loaded %8d   dead node held %8d   survivors cpu %s s   %s   load %s\n' \
    "$bin" "$took" "$keys_loaded" "$roles" "$cpu" "$(holds_since "$holds0" "${survivors[@]}")" "$(cut -d' ' -f1-3 /proc/loadavg)"
  kill -9 "${spids[@]}" 2>/dev/null || true # a SIGTERM would hand slots over for up to 10 s
  wait "${spids[@]}" 2>/dev/null || true
}

printf '%-6s %10s\n' build crash
for r in $(seq "${ROUNDS:-2}"); do
  for b in "${builds[@]}"; do run "$b"; done
done
