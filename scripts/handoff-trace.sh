#!/usr/bin/env bash
# Issue 12: what client requests wait for while slots move. Runs
# TestBinaryClusterHandoff (cmd/cached/handoff_test.go: 3 nodes, go-redis
# load, a join 3->4, a graceful leave 4->3) once per binary given, in turn,
# ROUNDS times, with CACHED_TRACE_DIR set, so every process writes a
# runtime/trace window after the join. Then scripts/tracewin (its own
# module: golang.org/x/exp/trace reads the traces; cached does not depend
# on it) prints, for the join window, per server process:
#   - "all Ps held by non-conn goroutines": stretches in which no P was
#     free for a connection's goroutine (the runtime then notices a
#     request's bytes only when sysmon polls, every 10 ms), by holder;
#   - connection goroutines' runnable waits and lock waits by holder;
# and for the client process the latency of go-redis's network waits.
# These are counts from the Go scheduler, which survive a loaded machine
# better than the client's p99 (also printed).
#
#   scripts/handoff-trace.sh OLD_BINARY NEW_BINARY   (KEYS=300000 ROUNDS=2 NODES=3)
#
# Each binary must have cmd/cached/trace.go (SIGUSR1 ends a process
# without it): to compare with an older commit, build that commit with
# this branch's cmd/cached/trace.go and main.go copied in.
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${KEYS:-300000}
rounds=${ROUNDS:-2}
out=${OUT:-$(mktemp -d)}
(cd scripts/tracewin && go build -o "$out/tracewin" .)
go test -c -o "$out/handoff.test" ./cmd/cached/
for r in $(seq "$rounds"); do
  for bin in "$@"; do
    dir="$out/r$r-$(basename "$bin")"
    mkdir -p "$dir"
    echo "== round $r, $bin, load $(cut -d' ' -f1-3 /proc/loadavg)"
    (cd cmd/cached && CACHED_TRACE_DIR="$dir" CACHED_HANDOFF_BIN="$bin" CACHED_HANDOFF_KEYS="$keys" CACHED_HANDOFF_NODES="${NODES:-3}" \
      "$out/handoff.test" -test.count=1 -test.run TestBinaryClusterHandoff -test.v >"$dir/test.log" 2>&1) ||
      { echo "test failed: $dir/test.log"; tail -20 "$dir/test.log"; }
    grep -oE "(join [0-9]+->[0-9]+|leave [0-9]+->[0-9]+): [a-z ]*after [0-9.]+m?s|p99 before [0-9.]+m?s, during [0-9.]+m?s" "$dir/test.log" | paste -sd' ' - || true
    win=$(grep -oE "join window [^ ]+ \.\. [^ ]+" "$dir/test.log" | awk '{print "-from " $3 " -to " $5}')
    for f in "$dir"/cached-*-2.trace; do
      echo "-- $(basename "$f")"
      "$out/tracewin" -conn serveConn $win -top 0 "$f" >"$f.txt"
      grep -E "^all Ps|^conn runnable" "$f.txt" || true
      grep -E "^ +[0-9.]+[mµ]?s +[0-9]+ +sync" "$f.txt" | head -4 || true
    done
    for f in "$dir"/client-*-2.trace; do
      echo "-- client $(basename "$f") (join window)"
      "$out/tracewin" -conn hoLoad $win -top 0 "$f" | grep -E "^conn network" || true
    done
  done
done
echo "traces and logs in $out"
