#!/usr/bin/env bash
# Failover as clients see it: starts a 3-node cached cluster (default
# settings: one replica per slot) on free ports, kills one node with
# SIGKILL and reports, from the kill, when every slot the dead node was
# primary of took a write again through
#   - ioredis' Cluster client with default options (installed with npm
#     into a temporary directory: IOREDIS_DIR=<dir with node_modules/ioredis>
#     reuses one), and
#   - fresh `redis-cli -c` invocations against a surviving node (one per
#     probe, as scripts use it; a long-lived redis-cli -c session that was
#     redirected to the dead node keeps reconnecting to it and never
#     recovers).
# go-redis is measured by `CACHED_FAILOVER_FIGURES=5 go test -run
# TestBinaryFailoverKill9 -v ./cmd/cached/`.
# Usage (repository root): scripts/failover-clients.sh [runs]
set -euo pipefail
runs=${1:-3}
source scripts/lib.sh

idir=${IOREDIS_DIR:-}
if [ -z "$idir" ]; then
  idir="$out/ioredis"
  mkdir -p "$idir"
  (cd "$idir" && npm init -y >/dev/null && npm install --silent ioredis@5 >/dev/null)
fi

cat >"$out/probe.js" <<'JS'
// node probe.js host:port... : writes one key per slot of the slots given
// on stdin's first line (comma-separated) until each took a write, prints
// the milliseconds since the time given as argv[2] (ms since the epoch).
const Redis = require(process.env.IOREDIS + '/node_modules/ioredis');
const since = Number(process.argv[2]);
const nodes = process.argv.slice(3).map(a => { const [host, port] = a.split(':'); return { host, port: Number(port) }; });
const keys = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const c = new Redis.Cluster(nodes);
let left = keys.slice();
async function round() {
  const res = await Promise.all(left.map(k => c.set(k, 'probe').then(() => null, () => k)));
  left = res.filter(k => k !== null);
  if (left.length === 0) {
    console.log(Date.now() - since);
    c.disconnect();
    return;
  }
  setTimeout(round, 5);
}
c.on('error', () => {});
setTimeout(round, 0);
JS

# keys.py prints a JSON array with one key per slot listed on stdin.
cat >"$out/keys.py" <<'PY'
import sys, json
def crc16(b):
    crc = 0
    for x in b:
        crc ^= x << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xffff
    return crc
want = set(int(s) for s in sys.stdin.read().split())
keys, i = {}, 0
while len(keys) < len(want):
    k = "probe:%d" % i
    s = crc16(k.encode()) % 16384
    if s in want and s not in keys:
        keys[s] = k
    i += 1
print(json.dumps([keys[s] for s in sorted(keys)]))
PY

for run in $(seq "$runs"); do
  ports=() gports=() cpids=()
  for i in 0 1 2; do
    p=$(freeport); g=$(freeport)
    seed=()
    [ "$i" -gt 0 ] && seed=(--cluster-join "127.0.0.1:${gports[0]}")
    "$out/cached" --port "$p" --cluster-enabled yes --cluster-port "$g" --loglevel warning --metrics-addr "" "${seed[@]}" >>"$out/cluster.log" 2>&1 &
    cpids+=($!) pids+=($!) ports+=("$p") gports+=("$g")
    await_ping "node $p" "$p"
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 200); do
      redis-cli -p "$p" CLUSTER INFO | grep -q 'cluster_known_nodes:3' && redis-cli -p "$p" CLUSTER INFO | grep -q 'cluster_state:ok' && break
      sleep 0.05
    done
  done
  sleep 1 # replicas sync
  victim=${ports[2]}
  slots=$(redis-cli -p "${ports[0]}" CLUSTER SLOTS | python3 -c '
import sys
lines = [l.strip() for l in sys.stdin]
# flat RESP text: start, end, then per node host, port, id
out, i = [], 0
while i < len(lines):
    if i + 4 < len(lines) and lines[i].isdigit() and lines[i+1].isdigit() and lines[i+3] == sys.argv[1]:
        out += range(int(lines[i]), int(lines[i+1]) + 1)
    i += 1
print(" ".join(map(str, out)))' "$victim")
  keys=$(echo "$slots" | python3 "$out/keys.py")
  [ "$keys" != "[]" ] || { echo "no slots of the victim found" >&2; exit 1; }
  kill -9 "${cpids[2]}"
  t0=$(date +%s%3N)
  echo "$keys" | IOREDIS="$idir" node "$out/probe.js" "$t0" "127.0.0.1:${ports[0]}" "127.0.0.1:${ports[1]}" >"$out/ioredis.ms" &
  ipid=$!
  # redis-cli -c: one fresh invocation per probe, on every 128th key of the
  # dead node's slots in turn (each must take a write once).
  for k in $(echo "$keys" | python3 -c 'import sys, json; print("\n".join(json.load(sys.stdin)[::128]))'); do
    until [ "$(timeout 2 redis-cli -c -p "${ports[0]}" SET "$k" probe 2>/dev/null)" = OK ]; do sleep 0.01; done
  done
  t1=$(date +%s%3N)
  wait "$ipid" || true
  echo "run $run: $(echo "$slots" | wc -w) slots; ioredis (defaults) $(cat "$out/ioredis.ms") ms; redis-cli -c (fresh per probe, every 128th slot) $((t1 - t0)) ms"
  for p in "${cpids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
done
