#!/usr/bin/env bash
# Proxy routing against a cluster-aware client (issue 14), and what cluster
# mode costs for keys a node owns.
#
#   scripts/proxy-ratio.sh [rounds] [requests]     (defaults: 3 rounds, 300000)
#
# Part 1 starts NODES (default 5) cached nodes with cluster-route proxy,
# waits until every node sees all of them and the slot table is agreed and
# balanced, then in alternating rounds runs the same load
#   redis-benchmark -P 16 -c 50 -r 100000 -d 32 -t set  (then -t get)
# (a) "proxy": plain client against the first node (≈(N-1)/N of the keys
#     forwarded to their owners), and
# (b) "cluster": redis-benchmark --cluster against the same cluster (each
#     request sent to its slot's primary).
# Part 2 (OWNED=0 skips it) runs one node with cluster-enabled yes (it owns
# every slot; with the default cluster-replicas 1, and with 0: routing
# alone) against one node with cluster off, same load, alternately.
#
# How to read it: "ops/s" and p50/p99 are what redis-benchmark printed
# (medians over rounds); "ratio" is proxy/cluster ops/s, the median of the
# per-round ratios (issue 14's goal: >= 0.7). "CPU s/M req" is the CPU time
# (user+system, /proc/PID/stat) all server processes used per million
# requests: it counts work, not waiting, so it survives a machine shared
# with other jobs better than ops/s; the proxy's extra CPU per request over
# the cluster-aware client's is the forwarding cost. A second table splits
# that CPU by process: the first node (the forwarding one), the other nodes
# (under "proxy": the owners, executing and replicating what it forwards)
# and the client (redis-benchmark's own CPU, which shares the cores), and
# gives the ops/s ratio to expect if the cores were the only limit (total
# CPU per request, servers and client, cluster-aware over proxy): a
# measured ratio well under it means the proxy run left CPU idle (latency,
# not work, limited it). Everything runs on the
# same cores (no pinning), so with N nodes on a 2-core machine ops/s shows
# the CPU cost, not scaling. Print `uptime` alongside: a load above the core
# count makes ops/s noise. KEEP_OUT=1 keeps the raw CSV. REV=<git revision>
# measures cached built at that revision instead of the work tree, BIN=<path>
# a cached binary built elsewhere (an experiment).
#
# Needs redis-server's tools (redis-benchmark, redis-cli) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
requests=${2:-300000}
nodes=${NODES:-5}
owned=${OWNED:-1}
. scripts/lib.sh
if [ -n "${REV:-}" ]; then
  src=$(mktemp -d)
  git archive "$REV" | tar -x -C "$src"
  (cd "$src" && go build -o "$out/cached" ./cmd/cached)
  rm -rf "$src"
fi
[ -n "${BIN:-}" ] && cp "$BIN" "$out/cached"

# start_node PORT GOSSIP ARGS... starts a cached node with the directives
# ARGS, appends its PID to pids and node_pids and waits for PING.
node_pids=()
start_node() {
  local port=$1 gossip=$2
  shift 2
  "$out/cached" --port "$port" --bind 127.0.0.1 --loglevel warning --metrics-addr "" \
    --cluster-port "$gossip" "$@" >"$out/node-$port.log" 2>&1 &
  pids+=("$!")
  node_pids+=("$!")
  await_ping "node $port" "$port"
}
stop_nodes() {
  for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  node_pids=()
}

# balanced PORT... succeeds when every node reports cluster_state:ok, all
# N nodes, and one CLUSTER NODES view in which every node is a primary of
# 16384/N ± 5% slots.
balanced() {
  local views=""
  for p in "$@"; do
    redis-cli -p "$p" CLUSTER INFO 2>/dev/null | grep -q "cluster_state:ok" || return 1
    views+=$(redis-cli -p "$p" CLUSTER NODES 2>/dev/null | awk '{ $2=""; $3=""; $5=""; $6=""; $7=""; $8=""; print }' | sort | md5sum)
    views+=$'\n'
  done
  [ "$(echo -n "$views" | sort -u | wc -l)" = 1 ] || return 1
  redis-cli -p "$1" CLUSTER NODES | python3 -c '
import sys
n = int(sys.argv[1]); own = []
for line in sys.stdin:
    f = line.split()
    if "master" not in f[2]:
        continue
    s = 0
    for r in f[8:]:
        a, _, b = r.partition("-")
        s += int(b or a) - int(a) + 1
    own.append(s)
ok = len(own) == n and sum(own) == 16384 and all(abs(x - 16384 / n) <= 16384 / n * 0.05 for x in own)
sys.exit(0 if ok else 1)' "$#"
}

# bench LABEL ROUND PORT TEST [--cluster] runs redis-benchmark and appends
# a CSV row with the CPU the server processes used meanwhile: all of them,
# the first node (the forwarding one in part 1) alone, and the client's
# own (redis-benchmark's, getrusage of the child).
bench() {
  local label=$1 round=$2 port=$3 t=$4
  shift 4
  local c0=0 c1=0 f0 f1 p line
  f0=$(cpu_ticks "${node_pids[0]}")
  for p in "${node_pids[@]}"; do c0=$((c0 + $(cpu_ticks "$p"))); done
  line=$(python3 -c '
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], capture_output=True, text=True).stdout
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
for l in out.splitlines():
    if l.startswith("\"") and l[1:2].isupper() and not l.startswith("\"test\""):
        print(l.replace("\"", "") + f",{ru.ru_utime + ru.ru_stime:.3f}")
' redis-benchmark -p "$port" "$@" -P 16 -c 50 -n "$requests" -r 100000 -d 32 -t "$t" --csv 2>/dev/null || true)
  for p in "${node_pids[@]}"; do c1=$((c1 + $(cpu_ticks "$p"))); done
  f1=$(cpu_ticks "${node_pids[0]}")
  [ -n "$line" ] && echo "$round,$label,$line,$(python3 -c "print(($c1 - $c0) / $hz, ($f1 - $f0) / $hz, sep=',')")" >>"$out/results.csv"
  return 0
}

echo "round,setup,test,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms,client_cpu_s,server_cpu_s,first_cpu_s" >"$out/results.csv"
echo "uptime before: $(uptime)"

ports=()
gossip1=$(freeport)
for i in $(seq "$nodes"); do
  port=$(freeport) gossip=$(freeport)
  [ "$i" = 1 ] && gossip=$gossip1
  join=()
  [ "$i" != 1 ] && join=(--cluster-join "127.0.0.1:$gossip1")
  start_node "$port" "$gossip" --cluster-enabled yes --cluster-route proxy "${join[@]}"
  ports+=("$port")
done
ok=0
for _ in $(seq 600); do
  if balanced "${ports[@]}"; then ok=1; break; fi
  sleep 0.1
done
[ "$ok" = 1 ] || { echo "the cluster did not become ok and balanced in 60 s" >&2; exit 1; }
echo "$nodes nodes up: ${ports[*]}"
for r in $(seq "$rounds"); do
  for t in set get; do
    bench proxy "$r" "${ports[0]}" "$t"
    bench cluster "$r" "${ports[0]}" "$t" --cluster
  done
done
stop_nodes

if [ "$owned" = 1 ]; then
  for r in $(seq "$rounds"); do
    for mode in single cluster1 cluster1r0; do
      port=$(freeport) gossip=$(freeport)
      case $mode in
        single) start_node "$port" "$gossip" ;;
        cluster1) start_node "$port" "$gossip" --cluster-enabled yes ;;
        cluster1r0) start_node "$port" "$gossip" --cluster-enabled yes --cluster-replicas 0 ;;
      esac
      if [ $mode != single ]; then
        for _ in $(seq 300); do balanced "$port" && break; sleep 0.1; done
      fi
      for t in set get; do bench $mode "$r" "$port" "$t"; done
      stop_nodes
    done
  done
fi
echo "uptime after: $(uptime)"

python3 - "$out/results.csv" "$requests" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
req = int(sys.argv[2])
med = statistics.median
def sel(s, t): return [r for r in rows if r["setup"] == s and r["test"].upper() == t]
def show(a, b, title):
    print(f"\n{title}")
    print(f"| test | {a} ops/s | {b} ops/s | {a}/{b} ops/s (median of rounds' ratios) | {a} p50/p99 ms | {b} p50/p99 ms | {a} CPU s/M req | {b} CPU s/M req | CPU ratio |")
    print("|" + " --- |" * 9)
    for t in ("SET", "GET"):
        x, y = sel(a, t), sel(b, t)
        if not x or not y:
            continue
        ratio = med(float(p["rps"]) / float(q["rps"]) for p, q in zip(x, y))
        cpu = lambda rs: med(float(r["server_cpu_s"]) for r in rs) * 1e6 / req
        lat = lambda rs: f'{med(float(r["p50_ms"]) for r in rs):.2f}/{med(float(r["p99_ms"]) for r in rs):.2f}'
        print(f'| {t} | {med(float(r["rps"]) for r in x):,.0f} | {med(float(r["rps"]) for r in y):,.0f} | {ratio:.2f} | '
              f'{lat(x)} | {lat(y)} | {cpu(x):.2f} | {cpu(y):.2f} | {cpu(x) / cpu(y):.2f} |')
def split(a, b, title):
    # Where the CPU goes, per million requests (medians over rounds): the
    # first node (the forwarding one under "proxy"), the other nodes, and
    # the client; "CPU-bound ratio" is b's total CPU per request (servers
    # and client) over a's, the ops/s ratio to expect when the machine's
    # cores are the limit.
    print(f"\n{title}")
    print(f"| test | setup | first node | other nodes | all nodes | client | CPU-bound ratio {a}/{b} |")
    print("|" + " --- |" * 7)
    for t in ("SET", "GET"):
        x, y = sel(a, t), sel(b, t)
        if not x or not y:
            continue
        m = lambda rs, f: med(f(r) for r in rs) * 1e6 / req
        first = lambda r: float(r["first_cpu_s"])
        allc = lambda r: float(r["server_cpu_s"])
        client = lambda r: float(r["client_cpu_s"])
        tot = lambda rs: m(rs, lambda r: allc(r) + client(r))
        for name, rs in ((a, x), (b, y)):
            print(f"| {t} | {name} | {m(rs, first):.2f} | {m(rs, lambda r: allc(r) - first(r)):.2f} | {m(rs, allc):.2f} | {m(rs, client):.2f} | "
                  + (f"{tot(y) / tot(x):.2f} |" if name == a else " |"))
show("proxy", "cluster", "Proxy (plain client on one node) vs cluster-aware client, same cluster, -P 16 -c 50:")
split("proxy", "cluster", "CPU s per million requests by process, same runs:")
if sel("single", "SET"):
    show("cluster1", "single", "One node: cluster-enabled yes (owns every slot; cluster-replicas 1, the default) vs cluster off, -P 16 -c 50:")
    show("cluster1r0", "single", "One node: cluster-enabled yes, cluster-replicas 0 (routing only) vs cluster off, -P 16 -c 50:")
PY
[ "${KEEP_OUT:-0}" = 1 ] && echo "raw data: $out"
exit 0
