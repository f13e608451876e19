#!/usr/bin/env bash
# Memory per element of a 1,000,000-member hash and a 1,000,000-member set,
# cached vs redis-server, measured the same way: RSS growth of a fresh server
# while one key is loaded through redis-cli --pipe (HSET of 1000 pairs
# "field:N" -> "value:N" per command; SADD of 1000 members "member:N"), after
# MEMORY PURGE and a second's settling. Prints bytes per element and the
# cached/redis ratio, plus each server's MEMORY USAGE of the key.
#
#   scripts/mem-hash-set.sh [members]      (default 1000000)
#
# Needs redis-server and redis-cli (Debian: redis-server, redis-tools) and
# python3. Servers listen on 127.0.0.1 ports chosen free at run time and are
# killed by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
members=${1:-1000000}
. scripts/lib.sh

gen() { # kind -> RESP commands on stdout
  python3 - "$1" "$members" <<'PY'
import sys
kind, n = sys.argv[1], int(sys.argv[2])
w = sys.stdout.buffer.write
def cmd(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    w(b"".join(out))
for lo in range(0, n, 1000):
    args = [b"HSET", b"bighash"] if kind == "hash" else [b"SADD", b"bigset"]
    for i in range(lo, min(lo + 1000, n)):
        if kind == "hash":
            args += [b"field:%d" % i, b"value:%d" % i]
        else:
            args.append(b"member:%d" % i)
    cmd(args)
PY
}

measure() { # server kind -> "bytes_per_elem memory_usage anon_bytes_per_elem"
  local port before after usage key abefore aafter
  port=$(freeport)
  start "$1" "$port"
  key=bighash; [ "$2" = set ] && key=bigset
  settle
  before=$(rss_kb "$pid")
  abefore=$(anon_kb "$pid")
  gen "$2" | redis-cli -p "$port" --pipe >/dev/null
  redis-cli -p "$port" MEMORY PURGE >/dev/null 2>&1 || true
  sleep 1
  after=$(rss_kb "$pid")
  aafter=$(anon_kb "$pid")
  usage=$(redis-cli -p "$port" MEMORY USAGE "$key" SAMPLES 0)
  stop "$pid"
  python3 -c "print('%.1f %s %.1f' % (($after - $before) * 1024 / $members, '$usage', ($aafter - $abefore) * 1024 / $members))"
}

printf "%-5s %-7s %12s %16s %13s\n" kind server "RSS B/elem" "MEMORY USAGE" "anon B/elem"
for kind in hash set; do
  read -r r ru ra <<<"$(measure redis $kind)"
  read -r c cu ca <<<"$(measure cached $kind)"
  printf "%-5s %-7s %12s %16s %13s\n" "$kind" redis "$r" "$ru" "$ra"
  printf "%-5s %-7s %12s %16s %13s\n" "$kind" cached "$c" "$cu" "$ca"
  python3 -c "print('%-5s cached/redis ratio: RSS %.2f, anonymous %.2f' % ('$kind', $c / $r, $ca / $ra))"
done
