#!/usr/bin/env bash
# Memory of one 1,000,000-member sorted set: RSS growth per member in
# cached and in redis-server, measured the same way (RSS before and after
# loading members "member:N" with score N through redis-cli --pipe, ZADD
# in batches of 1,000 pairs, then MEMORY PURGE and a one-second settle).
#
#   scripts/mem-zset.sh [members]      (default 1000000)
#
# Needs redis-server, redis-cli (Debian: redis-server, redis-tools) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
out=$(mktemp -d)
go build -o "$out/cached" ./cmd/cached

pids=()
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start() { # name port -> pid in $pid
  case $1 in
    cached) "$out/cached" --port "$2" --bind 127.0.0.1 --loglevel warning >"$out/$1.log" 2>&1 & pid=$! ;;
    redis) redis-server --port "$2" --save '' --appendonly no --bind 127.0.0.1 >"$out/$1.log" 2>&1 & pid=$! ;;
  esac
  pids+=("$pid")
  for _ in $(seq 100); do redis-cli -p "$2" PING >/dev/null 2>&1 && return; sleep 0.1; done
  echo "$1 did not start" >&2; exit 1
}

load() { # port
  python3 - "$n" <<'PY' | redis-cli -p "$1" --pipe >/dev/null
import sys
n = int(sys.argv[1])
w = sys.stdout.buffer.write
for lo in range(0, n, 1000):
    hi = min(n, lo + 1000)
    parts = [b"ZADD", b"z"]
    for i in range(lo, hi):
        parts += [b"%d" % i, b"member:%d" % i]
    w(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
PY
}

per_member() { # name -> bytes per member on stdout
  local port before after card
  port=$(freeport)
  start "$1" "$port"
  before=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  load "$port"
  redis-cli -p "$port" MEMORY PURGE >/dev/null 2>&1 || true
  sleep 1
  after=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
  card=$(redis-cli -p "$port" ZCARD z)
  [ "$card" = "$n" ] || { echo "$1: ZCARD z = $card, want $n" >&2; exit 1; }
  enc=$(redis-cli -p "$port" OBJECT ENCODING z)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$(( (after - before) * 1024 / n )) $enc"
}

read -r redis renc < <(per_member redis)
read -r cached cenc < <(per_member cached)
echo "sorted set of $n members (\"member:N\", score N), RSS growth per member:"
echo "  redis-server $(redis-server --version | awk '{print $3}') ($renc): $redis B"
echo "  cached ($cenc): $cached B"
python3 -c "print(f'  cached/redis: {$cached/$redis:.2f}')"
