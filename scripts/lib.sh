# Shared by the comparison scripts (sourced from the repository root, after
# `set -euo pipefail`): builds cached into $out, starts cached or
# redis-server on free ports, stops every server it started on exit.
# PIN=<cpu> pins the servers with taskset; KEEP_OUT=1 keeps $out (raw data).

out=$(mktemp -d)
go build -o "$out/cached" ./cmd/cached

pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ "${KEEP_OUT:-0}" = 1 ] || rm -rf "$out"
}
trap cleanup EXIT

# freeport prints a TCP port on 127.0.0.1 that nothing listens on now
# (TCP or UDP: a gossip port takes both), below the kernel's ephemeral
# range, where no outgoing connection takes it before the server binds it
# (internal/freeport says why).
freeport() {
  python3 -c '
import random, socket
for _ in range(200):
    p = random.randrange(10000, 32768)
    try:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", p))
            s.close()
    except OSError:
        continue
    print(p)
    break
else:
    raise SystemExit("no free port")
'
}

# start NAME PORT starts cached (or the binary $out/NAME, e.g. base; loop:
# cached with io-event-loop yes) or redis (NAME) on PORT and waits until it
# answers PING; its PID is left in $pid.
start() {
  local pin=()
  [ -n "${PIN:-}" ] && pin=(taskset -c "$PIN")
  case $1 in
    cached|base) "${pin[@]}" "$out/$1" --port "$2" --bind 127.0.0.1 --loglevel warning >"$out/$1.log" 2>&1 & pid=$! ;;
    loop) "${pin[@]}" "$out/cached" --port "$2" --bind 127.0.0.1 --loglevel warning --io-event-loop yes >"$out/$1.log" 2>&1 & pid=$! ;;
    redis) "${pin[@]}" redis-server --port "$2" --bind 127.0.0.1 --save '' --appendonly no --dir "$out" >"$out/$1.log" 2>&1 & pid=$! ;;
  esac
  pids+=("$pid")
  await_ping "$1" "$2"
}

# await_ping NAME PORT waits (10 s at most) until the server on PORT
# answers PING; if it does not, it says NAME did not start and exits.
await_ping() {
  for _ in $(seq 100); do redis-cli -p "$2" PING >/dev/null 2>&1 && return; sleep 0.1; done
  echo "$1 did not start" >&2
  exit 1
}

# stop PID ends a server start started.
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

# settle waits until a server just started has settled to its idle RSS:
# cached drops the start-up pages of its code from RSS one second after it
# starts (server/exepages_linux.go), ~9 MiB of a plain `go build`, so an
# RSS taken before that is no baseline (a growth from it read 8 B per list
# element where the data alone is 16). bench/server.sh waits the same.
settle() { sleep 1.5; }

# rss_kb PID prints the process's resident set size in KiB.
rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# anon_kb PID prints the anonymous part of it (RssAnon), in KiB: RSS less
# the pages of files, the executable's code among them. A load maps back
# the code it runs, and cached's loaded code pages (~5 MiB, the kernel
# mapping up to 64 KiB around each fault) left RSS only after its exe drop
# (server/exepages_linux.go, every 10 s), while redis-server's were
# resident from its start: RSS growth counts them for cached only, a fixed
# cost that reads as ~5 B an element in a 1,000,000-element load. Both
# columns are printed (docs/performance.md, "Stop 44").
anon_kb() { awk '/RssAnon/ {print $2}' "/proc/$1/status"; }

# hz and cpu_ticks PID: a process's user+system CPU time in clock ticks
# (/proc/PID/stat), hz ticks per second.
hz=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# build_rev REV NAME builds cached at git revision REV as $out/NAME.
build_rev() {
  local src
  src=$(mktemp -d)
  git archive "$1" | tar -x -C "$src"
  (cd "$src" && go build -o "$out/$2" ./cmd/cached)
  rm -rf "$src"
}

# metric PORT NAME prints the value of a metric without labels from the
# node whose /metrics listens on PORT (empty if none).
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'; }

# loaded MPORT... sums the snapshot keys the nodes loaded so far.
loaded() { for m in "$@"; do metric "$m" cached_migration_snapshot_keys_loaded_total || true; done | awk '{ s += $1 } END { printf "%d", s }'; }

# holds MPORT... prints four numbers, summed over the nodes: replica slots
# moved on at their old primary's seal, held for it, of those on a link
# followed for nothing else, and let go short of it
# (cached_migration_seal_resumes_total, cached_migration_holds_total).
holds() {
  for m in "$@"; do curl -s "http://127.0.0.1:$m/metrics" || true; done | awk '
    $1 == "cached_migration_seal_resumes_total" { r += $2 }
    /^cached_migration_holds_total\{/ { split($1, a, "\""); h[a[2]] += $2 }
    END { printf "%d %d %d %d", r, h["held"], h["whole_link"], h["abandoned"] }'
}

# holds_since "R H W A" MPORT... prints the holds counts since the four
# numbers holds printed earlier.
holds_since() {
  local before=$1
  shift
  echo "$before $(holds "$@")" | awk '{ printf "seal resumes %d, holds %d (whole link %d, abandoned %d)", $5 - $1, $6 - $2, $7 - $3, $8 - $4 }'
}
