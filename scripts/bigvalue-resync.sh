#!/usr/bin/env bash
# A 512 MB string and a replica resync (issue 12, "a single slow command
# must not make the cluster flap"): 3 real cluster nodes, SETBIT makes a
# 512 MB value, the replica of its slot is killed with -9 and restarted, so
# the primary snapshots the value to a replica. Prints every pause the
# nodes noticed, memberlist's failure verdicts, the table version (epoch)
# before and ~40 s after, and each node's peak RSS. A quiet run shows no
# pause, no verdict besides the killed node's, and an epoch that grows by
# the kill's re-plans only, and the replica ends holding the whole value
# (STRLEN 536870912).
#
#   scripts/bigvalue-resync.sh            (BIN=path to test a built binary)
#
# Needs redis-cli (Debian: redis-tools) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
bin=${BIN:-$out/cached}
declare -A P G
ports=()
for _ in 1 2 3; do ports+=("$(freeport)"); done
for p in "${ports[@]}"; do G[$p]=$(freeport); done
seed=127.0.0.1:${G[${ports[0]}]}
node() { # node PORT [join]
  "$bin" --port "$1" --cluster-enabled yes --cluster-port "${G[$1]}" ${2:+--cluster-join $seed} \
    --loglevel notice >>"$out/n$1.log" 2>&1 &
  P[$1]=$!
  pids+=("${P[$1]}")
}
node "${ports[0]}"
for p in "${ports[@]:1}"; do node "$p" join; done
info() { { redis-cli -p "$1" cluster info 2>/dev/null || true; } | tr -d '\r' | awk -F: -v f="$2" '$1==f {print $2}'; }
for _ in $(seq 150); do
  [ "$(info "${ports[2]}" cluster_state)" = ok ] && [ "$(info "${ports[2]}" cluster_known_nodes)" = 3 ] && break
  sleep 0.2
done
sleep 3 # the first hand-overs settle
c=${ports[0]}
redis-cli -c -p "$c" SETBIT big 4294967295 1 >/dev/null
redis-cli -c -p "$c" SETRANGE big 100 "$(head -c 50000 /dev/urandom | base64 -w0)" >/dev/null
slot=$(redis-cli -p "$c" cluster keyslot big)
read -r prim repl < <(redis-cli -p "$c" --json cluster slots | python3 -c "
import sys, json
for r in json.load(sys.stdin):
    if r[0] <= $slot <= r[1]: print(r[2][1], r[3][1])")
e0=$(info "$prim" cluster_current_epoch)
echo "slot $slot of the 512 MB key: primary $prim, replica $repl (killed -9 and restarted)"
kill -9 "${P[$repl]}"
wait "${P[$repl]}" 2>/dev/null || true
sleep 0.5
node "$repl" join
states=()
for _ in $(seq 200); do
  s=""
  for p in "${ports[@]}"; do s+="$(info "$p" cluster_state) "; done
  states+=("$s")
  sleep 0.2
done
echo "epoch of the primary before $e0, after $(info "$prim" cluster_current_epoch)"
echo "cluster_state of the 3 nodes, polled 200 times:"
printf '%s\n' "${states[@]}" | sort | uniq -c
echo "pauses and failure verdicts:"
grep -h "was paused\|Marking .* as failed\|lost the majority" "$out"/n*.log | cut -c1-200 || true
echo "STRLEN big on the replica (READONLY): $(printf 'READONLY\nSTRLEN big\n' | redis-cli -p "$repl" 2>&1 | tail -1)"
for p in "${ports[@]}"; do echo "port $p peak RSS $(awk '/VmHWM/ {print $2, $3}' /proc/${P[$p]}/status)"; done
