#!/usr/bin/env bash
# The per-core table (issue 14, "Scale with cores"): the compare-redis
# workload (redis-benchmark -c 50 -r 100000 -d 32, pipeline 1 and 16) with
# the server on 1, 2, … cores, cached and, for reference, redis-server.
#
#   scripts/percore.sh [rounds] [requests]     (defaults: 3 rounds, 200000)
#
# With k cores the server is pinned (taskset) to CPUs 0..k-1, cached with
# GOMAXPROCS=k, redis-server with io-threads k (io-threads-do-reads yes;
# io-threads 1 is plain single-threaded Redis). redis-benchmark runs on the
# remaining CPUs k..n-1; when none remain (k = n, e.g. 2 on a 2-core
# machine) it shares all of them with the server, and the table says
# "shared": then ops/s is bounded by the machine, not by the server, and
# only the CPU per request compares. MAXCORES caps k (default: every CPU).
# TESTS picks redis-benchmark's tests (default set,get). Servers alternate
# within each round; the table shows medians over the rounds.
#
# How to read it: "ops/s" is redis-benchmark's; "µs CPU/req" is the
# server's user+system CPU time (/proc/PID/stat) per request, which a
# loaded machine disturbs less than ops/s; "× 1 core" is ops/s against the
# same server's 1-core figure. Run it on an idle machine with at least 3
# CPUs for a meaningful 2-core row (print `uptime` with it).
#
# Needs redis-server, redis-benchmark, redis-cli, taskset and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
requests=${2:-200000}
tests=${TESTS:-set,get}
ncpu=$(nproc)
maxcores=${MAXCORES:-$ncpu}
. scripts/lib.sh

# serve NAME CORES PORT starts cached or redis-server on CPUs 0..CORES-1;
# PID in $pid.
serve() {
  local cpus="0-$(($2 - 1))"
  case $1 in
    cached) GOMAXPROCS=$2 taskset -c "$cpus" "$out/cached" --port "$3" --bind 127.0.0.1 --loglevel warning \
      --metrics-addr "" >"$out/cached.log" 2>&1 & pid=$! ;;
    redis) taskset -c "$cpus" redis-server --port "$3" --bind 127.0.0.1 --save '' --appendonly no --dir "$out" \
      --io-threads "$2" --io-threads-do-reads yes >"$out/redis.log" 2>&1 & pid=$! ;;
  esac
  pids+=("$pid")
  await_ping "$1" "$3"
}

echo "uptime before: $(uptime)"
echo "cores,client,round,server,pipeline,test,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms,server_cpu_s" >"$out/results.csv"
for k in $(seq "$maxcores"); do
  client="$k-$((ncpu - 1))" placement=separate
  if [ "$k" -ge "$ncpu" ]; then client="0-$((ncpu - 1))" placement=shared; fi
  for r in $(seq "$rounds"); do
    for name in redis cached; do
      port=$(freeport)
      serve $name "$k" "$port"
      for P in 1 16; do
        for t in ${tests//,/ }; do
          c0=$(cpu_ticks "$pid")
          line=$(taskset -c "$client" redis-benchmark -p "$port" -c 50 -n "$requests" -P $P -r 100000 -d 32 \
            -t "$t" --csv 2>/dev/null | grep '^"[A-Z]' | grep -v '^"test"' | tr -d '"' || true)
          c1=$(cpu_ticks "$pid")
          [ -n "$line" ] && echo "$k,$placement,$r,$name,$P,$line,$(python3 -c "print(($c1 - $c0) / $hz)")" >>"$out/results.csv"
        done
      done
      stop "$pid"
    done
  done
done
echo "uptime after: $(uptime)"

python3 - "$out/results.csv" "$requests" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
req = int(sys.argv[2])
med = statistics.median
keys = sorted({(r["test"], int(r["pipeline"])) for r in rows})
cores = sorted({int(r["cores"]) for r in rows})
print("| test | pipeline | server cores | client | server | ops/s | × 1 core | p50/p99 ms | µs CPU/req |")
print("|" + " --- |" * 9)
for t, p in keys:
    for name in ("cached", "redis"):
        one = None
        for k in cores:
            sel = [r for r in rows if r["test"] == t and int(r["pipeline"]) == p and r["server"] == name and int(r["cores"]) == k]
            if not sel:
                continue
            ops = med(float(r["rps"]) for r in sel)
            one = one or ops
            cpu = med(float(r["server_cpu_s"]) for r in sel) * 1e6 / req
            lat = f'{med(float(r["p50_ms"]) for r in sel):.2f}/{med(float(r["p99_ms"]) for r in sel):.2f}'
            label = "cached GOMAXPROCS=%d" % k if name == "cached" else "redis io-threads %d" % k
            print(f'| {t} | {p} | {k} | {sel[0]["client"]} | {label} | {ops:,.0f} | {ops / one:.2f} | {lat} | {cpu:.2f} |')
PY
[ "${KEEP_OUT:-0}" = 1 ] && echo "raw data: $out"
exit 0
