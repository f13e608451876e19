#!/usr/bin/env bash
# Compares cached with redis-server on this machine, the fair way on 2 cores:
# each server pinned to CPU 0 (so Go sees one core: GOMAXPROCS=1), the load
# generator (redis-benchmark) pinned to CPU 1, servers measured alternately
# in several rounds, medians compared. Also measures RSS bytes per key after
# loading 1,000,000 keys "key:N" with 32-byte values.
#
#   scripts/compare-redis.sh [rounds] [requests]     (defaults: 5 rounds, 200000)
#
# TESTS picks redis-benchmark's tests (default set,get,incr,mset), e.g.
#   TESTS=lpush,lpop,sadd,hset,zadd,spop,lrange_100 MEMORY=0 scripts/compare-redis.sh
# The test "evalsha" runs EVALSHA of a small script (INCR and EXPIRE of one
# key, issue 15) on random keys: TESTS=evalsha,incr MEMORY=0 scripts/compare-redis.sh
# A test that redis-benchmark prepares with another (lrange_* runs an
# LPUSH first) is recorded by its own line; its CPU time includes the
# preparation. MEMORY=0 skips the RSS-per-key measurement. Besides ops/s the table shows
# requests per second of the server's CPU time (user+system, from
# /proc/PID/stat), which a busy shared machine disturbs less.
# REQUESTS16 sets the requests of the pipeline-16 runs (default: requests),
# which otherwise last a tenth as long as the unpipelined ones.
# INTERLEAVE=1 runs every server of a round at once (all on SERVER_CPUS)
# and each test on one after the other, so that a pair of runs is seconds
# apart instead of minutes: on a machine whose speed drifts (this VM's
# swings by a quarter between minutes) the paired ratios are steadier.
# BASELINE=<git revision> also builds cached at that revision and measures
# it in every round as "base" (before/after under the same load).
# SERVER_CPUS / CLIENT_CPUS (defaults 0 and 1) choose the cores (taskset
# lists) of the servers and of redis-benchmark, e.g. SERVER_CPUS=0,1 for
# the scaling table.
#
# Needs redis-server, redis-benchmark, redis-cli (Debian: redis-server,
# redis-tools), taskset (util-linux) and python3 (for the summary).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
requests=${2:-200000}
tests=${TESTS:-set,get,incr,mset}
memory=${MEMORY:-1}
KEEP_OUT=1 PIN=${SERVER_CPUS:-0}
client_cpus=${CLIENT_CPUS:-1}
. scripts/lib.sh
servers="redis cached"
if [ -n "${BASELINE:-}" ]; then
  src=$(mktemp -d)
  git archive "$BASELINE" | tar -x -C "$src"
  (cd "$src" && go build -o "$out/base" ./cmd/cached)
  rm -rf "$src"
  servers="redis base cached"
fi
evalsha_src="redis.call('incr', KEYS[1]) redis.call('expire', KEYS[1], ARGV[1]) return 1"
declare -A port_of pid_of
for name in $servers; do port_of[$name]=$(freeport); done

# bench NAME P T runs redis-benchmark's test T at pipeline P against the
# running server NAME and appends its line to results.csv.
bench() {
  local name=$1 P=$2 t=$3 port=${port_of[$1]} pid=${pid_of[$1]} n=$requests c0 c1 line
  [ "$P" = 16 ] && n=${REQUESTS16:-$requests}
  c0=$(cpu_ticks "$pid")
  local what=(-t "$t")
  if [ "$t" = evalsha ]; then
    what=(EVALSHA "$(redis-cli -p "$port" SCRIPT LOAD "$evalsha_src")" 1 key:__rand_int__ 100)
  fi
  line=$(taskset -c "$client_cpus" redis-benchmark -p "$port" -c 50 -n "$n" -P "$P" -r 100000 -d 32 \
    --csv "${what[@]}" 2>/dev/null | tail -n +2 | tail -n 1 | tr -d '"')
  [ "$t" = evalsha ] && [ -n "$line" ] && line="EVALSHA,${line#*,}"
  c1=$(cpu_ticks "$pid")
  [ -n "$line" ] && echo "$r,$name,$P,$line,$(python3 -c "print(($c1 - $c0) / $hz)")" >>"$out/results.csv"
  return 0
}

echo "round,server,pipeline,test,rps,avg_ms,min_ms,p50_ms,p95_ms,p99_ms,max_ms,server_cpu_s" >"$out/results.csv"
for r in $(seq "$rounds"); do
  if [ "${INTERLEAVE:-0}" = 1 ]; then
    for name in $servers; do start $name "${port_of[$name]}"; pid_of[$name]=$pid; done
    for P in 1 16; do
      for t in ${tests//,/ }; do
        for name in $servers; do bench $name $P "$t"; done
      done
    done
    for name in $servers; do stop "${pid_of[$name]}"; done
  else
    for name in $servers; do
      start $name "${port_of[$name]}"
      pid_of[$name]=$pid
      for P in 1 16; do
        for t in ${tests//,/ }; do bench $name $P "$t"; done
      done
      stop "$pid"
    done
  fi
done

rss_per_key() { # name port
  start "$1" "$2"
  local before after
  settle
  before=$(rss_kb "$pid")
  python3 -c '
import sys
w = sys.stdout.buffer.write
v = b"x" * 32
for i in range(1000000):
    k = b"key:%d" % i
    w(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$32\r\n%s\r\n" % (len(k), k, v))
' | redis-cli -p "$2" --pipe >/dev/null
  redis-cli -p "$2" MEMORY PURGE >/dev/null 2>&1 || true
  sleep 1
  after=$(rss_kb "$pid")
  echo "$1,$(( (after - before) * 1024 / 1000000 ))"
  stop $pid
}
echo "server,rss_bytes_per_key" >"$out/memory.csv"
if [ "$memory" = 1 ]; then
  rss_per_key redis "${port_of[redis]}" >>"$out/memory.csv"
  rss_per_key cached "${port_of[cached]}" >>"$out/memory.csv"
fi

python3 - "$out/results.csv" "$out/memory.csv" "$requests" "${REQUESTS16:-$requests}" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
tests = sorted({(int(r["pipeline"]), r["test"]) for r in rows})
base = any(r["server"] == "base" for r in rows)
requests = {1: int(sys.argv[3]), 16: int(sys.argv[4])}
# Requests per second of server CPU time: what one core would serve; on a
# machine other work shares it is steadier than ops/s.
eff = lambda r: requests[int(r["pipeline"])] / max(float(r["server_cpu_s"]), 1e-9)
head = "| test | pipeline | redis ops/s (median) | cached ops/s (median) | cached/redis ops/s (median of paired ratios) | spread | cached/redis ops per server CPU-second (median of paired ratios) | p99 cached/redis (median of paired ratios) | redis p50/p99 ms | cached p50/p99 ms |"
if base:
    head += " base/redis ops/s | base/redis ops per CPU-second | base p50/p99 ms |"
print(head)
print("|" + " --- |" * (head.count("|") - 1))
for p, t in tests:
    sel = lambda s: [r for r in rows if r["server"] == s and r["test"] == t and int(r["pipeline"]) == p]
    rr, cc, bb = sel("redis"), sel("cached"), sel("base")
    if not rr or not cc:
        continue
    rm = statistics.median(float(r["rps"]) for r in rr)
    cm = statistics.median(float(r["rps"]) for r in cc)
    ratios = [float(c["rps"]) / float(r["rps"]) for r, c in zip(rr, cc)]
    p99 = [float(c["p99_ms"]) / float(r["p99_ms"]) for r, c in zip(rr, cc)]
    lat = lambda xs, k: statistics.median(float(x[k]) for x in xs)
    effr = [eff(c) / eff(r) for r, c in zip(rr, cc)]
    line = (f"| {t} | {p} | {rm:,.0f} | {cm:,.0f} | {statistics.median(ratios):.2f} | {min(ratios):.2f}–{max(ratios):.2f} | "
            f"{statistics.median(effr):.2f} | {statistics.median(p99):.2f} | {lat(rr,'p50_ms'):.3f}/{lat(rr,'p99_ms'):.3f} | {lat(cc,'p50_ms'):.3f}/{lat(cc,'p99_ms'):.3f} |")
    if base and bb:
        bratios = [float(b["rps"]) / float(r["rps"]) for r, b in zip(rr, bb)]
        beff = [eff(b) / eff(r) for r, b in zip(rr, bb)]
        line += f" {statistics.median(bratios):.2f} | {statistics.median(beff):.2f} | {lat(bb,'p50_ms'):.3f}/{lat(bb,'p99_ms'):.3f} |"
    print(line)
mem = {r["server"]: int(r["rss_bytes_per_key"]) for r in csv.DictReader(open(sys.argv[2]))}
if mem:
  print()
  print(f"RSS bytes per key (1,000,000 keys, 32-byte values): redis {mem['redis']}, cached {mem['cached']}, "
      f"cached/redis {mem['cached']/mem['redis']:.2f}")
PY
echo "raw data: $out"
