#!/usr/bin/env bash
# memory-info.sh: the steady load of bench/memory.sh (3,000,000 SETs over
# 1,000,000 random keys) against one fresh cached, then, per key after a
# 3 s rest: the server's CPU seconds over the load, RSS growth, and the
# INFO memory fields used_memory, allocator_allocated (Go heap objects),
# allocator_active, allocator_resident and used_memory_rss. It shows where
# RSS goes beyond the store's own bytes (docs/performance.md, issue 13).
#
# usage: bench/memory-info.sh [VALUE_BYTES]   (default 32; from the repository root)
#        ENV="GOGC=6" bench/memory-info.sh    runs the server with that environment
# needs: go, redis-cli and redis-benchmark on PATH.
set -euo pipefail
d=${1:-32}
port=${PORT_A:-17531}
. bench/server.sh
SERVER_ENV=${ENV:-} start cached "$port"
settle
before=$(rss)
redis-benchmark -p "$port" -t set -n 3000000 -r 1000000 -d "$d" -P 16 -c 50 -q >/dev/null 2>&1
sleep 3
after=$(rss)
cpu=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$pid/stat")
keys=$(redis-cli -p "$port" dbsize)
redis-cli -p "$port" info memory | tr -d '\r' | awk -F: -v k="$keys" -v a="$after" -v b="$before" -v cpu="$cpu" -v d="$d" '
	/^(used_memory|allocator_allocated|allocator_active|allocator_resident|used_memory_rss):/ { s = s sprintf(" %s=%.1f", $1, $2 / k) }
	END { printf "%d-byte values, %d keys: cpu=%ss rss-growth=%.1f%s (B/key)\n", d, k, cpu, (a - b) / k, s }'
