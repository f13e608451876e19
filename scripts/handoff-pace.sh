#!/usr/bin/env bash
# Issue 12: client p99 against move time for a list of snapshot paces.
# Runs TestBinaryClusterHandoff (cmd/cached/handoff_test.go: N nodes under
# go-redis load, a join N->N+1, a graceful leave back) once per value of
# repl-snapshot-pace per round, alternating the values within a round,
# and prints one line per run: the pace, the join's and the leave's move
# time, the keys all nodes loaded by snapshot during each (the leaver's
# not counted), p99 before and during each, and during/before as a ratio.
#
#   scripts/handoff-pace.sh [PACE...]   (default: no 75 50 25; KEYS=300000 ROUNDS=3 NODES=3 RATE=0)
#
# RATE=R runs the client open loop at R requests/s in all (0: closed loop,
# as fast as 4 workers go, which keeps a 2-core machine saturated). The
# busy columns are the machine's CPU busy share (/proc/stat) before and
# during each move.
#
# BASE=<git revision> also runs cached built at that revision (build
# "base"), alternating with the work tree's build ("tree") within each
# round; the test binary is the work tree's for both.
#
# A pace is what the directive takes: a percentage 1-100, yes (50) or no
# (unpaced). The machine's load average is printed with each run: run it
# on an idle machine for figures to compare (docs/performance.md).
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${KEYS:-300000}
rounds=${ROUNDS:-3}
paces=("$@")
[ ${#paces[@]} -gt 0 ] || paces=(no 75 50 25)
out=${OUT:-$(mktemp -d)}
go build -o "$out/cached" ./cmd/cached/
go test -c -o "$out/handoff.test" ./cmd/cached/
builds=(tree)
if [ -n "${BASE:-}" ]; then
  src=$(mktemp -d)
  git archive "$BASE" | tar -x -C "$src"
  (cd "$src" && go build -o "$out/cached-base" ./cmd/cached/)
  rm -rf "$src"
  builds+=(base)
fi
# ms converts a Go duration (1.234s, 5.6ms, 789µs) to milliseconds.
ms() { awk -v d="$1" 'BEGIN { v = d + 0; if (d ~ /µs$/) v /= 1000; else if (d ~ /ms$/) ; else if (d ~ /s$/) v *= 1000; printf "%.2f", v }'; }
fmt='%-5s %-5s %-5s %10s %9s %10s %10s %7s %9s   %10s %9s %10s %10s %7s %9s  %s\n'
printf "$fmt" round build pace join_ms keys p99_bef p99_dur ratio busy% leave_ms keys p99_bef p99_dur ratio busy% load
for r in $(seq "$rounds"); do
  for pace in "${paces[@]}"; do
    for build in "${builds[@]}"; do
      bin="$out/cached"
      [ "$build" = base ] && bin="$out/cached-base"
      log="$out/r$r-$build-pace-$pace.log"
      load=$(cut -d' ' -f1-3 /proc/loadavg)
      (cd cmd/cached && CACHED_HANDOFF_BIN="$bin" CACHED_HANDOFF_KEYS="$keys" CACHED_HANDOFF_NODES="${NODES:-3}" CACHED_HANDOFF_RATE="${RATE:-0}" \
        CACHED_HANDOFF_ARGS="--repl-snapshot-pace $pace" \
        "$out/handoff.test" -test.count=1 -test.timeout 30m -test.run TestBinaryClusterHandoff -test.v >"$log" 2>&1) ||
        { echo "round $r build $build pace $pace: test failed, see $log"; tail -5 "$log"; continue; }
      line=("$r" "$build" "$pace")
      for what in join leave; do
        m=$(grep -oE "$what [0-9]+->[0-9]+( \([^)]*\))?: [a-z ]*after [0-9.]+[µm]?s; .*p99 before [0-9.]+[µm]?s, during [0-9.]+[µm]?s" "$log" | head -1)
        took=$(echo "$m" | grep -oE "after [0-9.]+[µm]?s" | cut -d' ' -f2)
        bef=$(echo "$m" | grep -oE "before [0-9.]+[µm]?s" | cut -d' ' -f2)
        dur=$(echo "$m" | grep -oE "during [0-9.]+[µm]?s" | cut -d' ' -f2)
        b=$(ms "$bef"); d=$(ms "$dur")
        busy=$(grep -oE "$what [0-9]+->[0-9]+( \([^)]*\))?: .*machine CPU busy [0-9-]+% before, [0-9-]+% during" "$log" | head -1 |
          grep -oE "busy [0-9-]+% before, [0-9-]+% during" | awk '{ gsub("%|,", ""); print $2 "/" $4 }')
        loaded=$(echo "$m" | grep -oE "snapshot keys loaded [0-9]+" | awk '{ print $4 }')
        line+=("$(ms "$took")" "${loaded:--}" "$b" "$d" "$(awk -v b="$b" -v d="$d" 'BEGIN { if (b > 0) printf "%.1fx", d / b; else print "-" }')" "${busy:--}")
      done
      printf "$fmt" "${line[@]}" "$load"
    done
  done
done
echo "logs in $out"
