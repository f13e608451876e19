#!/usr/bin/env bash
# Stop 16's counts (docs/performance.md): for cached with io-event-loop yes
# built from BASE (a git revision, default HEAD~1) and from the work tree,
# taking turns, GET -P 16 per batch of 16: context switches of every
# thread (/proc), and, in a second run under strace -c -f, the futex,
# nanosleep (sysmon) and epoll_pwait calls. Server on SERVER_CPUS (0),
# redis-benchmark on CLIENT_CPUS (1).
#
#   scripts/eventloop-sysmon.sh [rounds] [requests]   (defaults: 2, 200000)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}
requests=${2:-200000}
base=${BASE:-HEAD~1}
KEEP_OUT=1 PIN=${SERVER_CPUS:-0}
client_cpus=${CLIENT_CPUS:-1}
. scripts/lib.sh
wt=$(mktemp -d)
git worktree add -q --detach "$wt" "$base"
(cd "$wt" && go build -o "$out/base" ./cmd/cached)
git worktree remove --force "$wt"
port=$(freeport)
batches=$((requests / 16))
ctx() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ {s += $2} END {print s}'; }
echo "round,server,p99_ms,ctxsw_per_batch,futex_per_batch,nanosleep_per_batch,epoll_pwait_per_batch"
for r in $(seq "$rounds"); do
  for name in base cached; do
    taskset -c "$PIN" "$out/$name" --port "$port" --bind 127.0.0.1 --loglevel warning --io-event-loop yes >"$out/$name.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    await_ping "$name" "$port"
    bench() { taskset -c "$client_cpus" redis-benchmark -p "$port" -c 50 -n "$requests" -P 16 -r 100000 -d 32 --csv -t "$1" 2>/dev/null | tail -n +2 | tr -d '"'; }
    bench set >/dev/null
    c0=$(ctx "$pid")
    IFS=, read -r _ _ _ _ _ _ p99 _ <<<"$(bench get)"
    c1=$(ctx "$pid")
    strace -c -f -p "$pid" -o "$out/strace.$name.$r" & st=$!
    sleep 1
    bench get >/dev/null
    kill -INT "$st"; wait "$st" 2>/dev/null || true
    calls() { awk -v s="$1" '$NF == s {print $4}' "$out/strace.$name.$r" | head -1; }
    python3 -c "import sys; b=$batches; f=lambda x: float(x or 0)/b; print('$r,$name,$p99,%.3f,%.3f,%.3f,%.3f' % ((($c1)-($c0))/b, f('$(calls futex)'), f('$(calls nanosleep)'), f('$(calls epoll_pwait)')))"
    stop "$pid"
  done
done
