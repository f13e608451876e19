#!/usr/bin/env bash
# Counts per request for cached with one goroutine per connection
# ("cached"), cached with io-event-loop yes ("loop") and redis-server, in
# the same run (issue 14): read and write system calls (/proc/PID/io syscr,
# syscw), context switches (/proc/PID/status voluntary + nonvoluntary, all
# threads: /proc/PID/task/*/status), server CPU time, plus redis-benchmark's
# ops/s and p99. Pinned as compare-redis.sh: servers on SERVER_CPUS
# (default 0), redis-benchmark on CLIENT_CPUS (default 1); the servers take
# turns in each round; medians over the rounds.
#
#   scripts/eventloop-counts.sh [rounds] [requests]   (defaults: 3, 200000)
#
# TESTS picks redis-benchmark's tests (default set,get,mset); PIPELINES the
# -P values (default "1 16"); CONNS the clients (default 50).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
requests=${2:-200000}
tests=${TESTS:-set,get,mset}
pipelines=${PIPELINES:-1 16}
conns=${CONNS:-50}
KEEP_OUT=1 PIN=${SERVER_CPUS:-0}
client_cpus=${CLIENT_CPUS:-1}
. scripts/lib.sh
port=$(freeport)

# counters PID prints "syscr syscw ctxsw cputicks" for the process (every thread).
counters() {
  local r w cs
  r=$(awk '/^syscr/ {print $2}' "/proc/$1/io")
  w=$(awk '/^syscw/ {print $2}' "/proc/$1/io")
  cs=$(cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s}')
  echo "$r $w $cs $(awk '{print $14 + $15}' "/proc/$1/stat")"
}

echo "round,server,pipeline,test,rps,p99_ms,syscr,syscw,ctxsw,cpu_s" >"$out/counts.csv"
for r in $(seq "$rounds"); do
  for name in cached loop redis; do
    start $name "$port"
    for P in $pipelines; do
      for t in ${tests//,/ }; do
        read -r r0 w0 c0 t0 < <(counters "$pid")
        line=$(taskset -c "$client_cpus" redis-benchmark -p "$port" -c "$conns" -n "$requests" -P "$P" -r 100000 -d 32 \
          --csv -t "$t" 2>/dev/null | tail -n +2 | tr -d '"')
        read -r r1 w1 c1 t1 < <(counters "$pid")
        IFS=, read -r tname rps _avg _min _p50 _p95 p99 _max <<<"$line"
        echo "$r,$name,$P,$tname,$rps,$p99,$((r1 - r0)),$((w1 - w0)),$((c1 - c0)),$(python3 -c "print(($t1 - $t0) / $hz)")" >>"$out/counts.csv"
      done
    done
    stop "$pid"
  done
done

python3 - "$out/counts.csv" "$requests" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
n = int(sys.argv[2])
med = lambda xs: statistics.median(xs) if xs else float("nan")
print("| test | P | server | ops/s | p99 ms | reads/req | writes/req | ctx switches/req | CPU µs/req | ops/s vs redis | p99 vs redis |")
print("|" + " --- |" * 11)
for p, t in sorted({(int(r["pipeline"]), r["test"]) for r in rows}):
    sel = lambda s: [r for r in rows if r["server"] == s and r["test"] == t and int(r["pipeline"]) == p]
    red = sel("redis")
    for s in ("cached", "loop", "redis"):
        xs = sel(s)
        if not xs:
            continue
        f = lambda k: med([float(x[k]) for x in xs])
        # Paired per round with redis-server, as compare-redis.sh.
        ratio = med([float(a["rps"]) / float(b["rps"]) for a, b in zip(xs, red)])
        p99r = med([float(a["p99_ms"]) / float(b["p99_ms"]) for a, b in zip(xs, red)])
        print(f"| {t} | {p} | {s} | {f('rps'):.0f} | {f('p99_ms'):.3f} | {f('syscr')/n:.3f} | {f('syscw')/n:.3f} | "
              f"{f('ctxsw')/n:.3f} | {f('cpu_s')*1e6/n:.2f} | {ratio:.2f} | {p99r:.2f} |")
print(f"\nraw: {sys.argv[1]}")
PY
