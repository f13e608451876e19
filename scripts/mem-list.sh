#!/usr/bin/env bash
# Bytes per element of one 1,000,000-element list in cached and in
# redis-server, measured the same way: RSS growth of the server process
# while RPUSH (1000 elements per command, through redis-cli --pipe) builds
# the list "biglist" of elements "element:N"; then MEMORY USAGE of the key.
# Also the growth of anonymous memory alone (anon_kb in scripts/lib.sh:
# without the executable's pages the load maps back).
#
#   scripts/mem-list.sh [elements]        (default 1000000)
#
# Needs redis-server, redis-cli (Debian: redis-server, redis-tools) and python3.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
. scripts/lib.sh

measure() { # name -> "name,rss_bytes_per_elem,memory_usage_per_elem,anon_bytes_per_elem"
  local port before after usage abefore aafter
  port=$(freeport)
  start "$1" "$port"
  settle
  before=$(rss_kb "$pid")
  abefore=$(anon_kb "$pid")
  python3 -c '
import sys
n = int(sys.argv[1])
w = sys.stdout.buffer.write
for start in range(0, n, 1000):
    elems = [b"element:%d" % i for i in range(start, min(n, start + 1000))]
    parts = [b"*%d\r\n$5\r\nRPUSH\r\n$7\r\nbiglist\r\n" % (len(elems) + 2)]
    for e in elems:
        parts.append(b"$%d\r\n%s\r\n" % (len(e), e))
    w(b"".join(parts))
' "$n" | redis-cli -p "$port" --pipe >/dev/null
  [ "$(redis-cli -p "$port" LLEN biglist)" = "$n" ] || { echo "$1: LLEN is not $n" >&2; exit 1; }
  redis-cli -p "$port" MEMORY PURGE >/dev/null 2>&1 || true
  sleep 1
  after=$(rss_kb "$pid")
  aafter=$(anon_kb "$pid")
  usage=$(redis-cli -p "$port" MEMORY USAGE biglist)
  python3 -c "import sys; print('%s,%.1f,%.1f,%.1f' % ('$1', ($after - $before) * 1024 / $n, $usage / $n, ($aafter - $abefore) * 1024 / $n))"
  stop "$pid"
}

r=$(measure redis)
c=$(measure cached)
echo "server,rss_bytes_per_elem,memory_usage_bytes_per_elem,anon_bytes_per_elem"
echo "$r"
echo "$c"
python3 -c "r='$r'.split(','); c='$c'.split(','); print('ratio cached/redis: RSS %.2f, anonymous %.2f' % (float(c[1]) / float(r[1]), float(c[3]) / float(r[3])))"
