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
. scripts/lib.sh

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

per_member() { # name -> bytes per member, encoding, anonymous bytes per member on stdout
  local port before after card abefore aafter
  port=$(freeport)
  start "$1" "$port"
  settle
  before=$(rss_kb "$pid")
  abefore=$(anon_kb "$pid")
  load "$port"
  redis-cli -p "$port" MEMORY PURGE >/dev/null 2>&1 || true
  sleep 1
  after=$(rss_kb "$pid")
  aafter=$(anon_kb "$pid")
  card=$(redis-cli -p "$port" ZCARD z)
  [ "$card" = "$n" ] || { echo "$1: ZCARD z = $card, want $n" >&2; exit 1; }
  enc=$(redis-cli -p "$port" OBJECT ENCODING z)
  stop "$pid"
  echo "$(( (after - before) * 1024 / n )) $enc $(( (aafter - abefore) * 1024 / n ))"
}

read -r redis renc ranon < <(per_member redis)
read -r cached cenc canon < <(per_member cached)
echo "sorted set of $n members (\"member:N\", score N), RSS growth per member (anonymous memory alone):"
echo "  redis-server $(redis-server --version | awk '{print $3}') ($renc): $redis B ($ranon B)"
echo "  cached ($cenc): $cached B ($canon B)"
python3 -c "print(f'  cached/redis: {$cached/$redis:.2f} ({$canon/$ranon:.2f})')"
