#!/usr/bin/env bash
# hitratio.sh: issue 13's hit ratio at equal RSS, cached against
# redis-server, under a cache-aside workload: GETs of zipf-distributed keys
# (default skew 0.99 over 1,000,000 keys), and after every miss a SET of that
# key (bench --cache-aside), as an application in front of a database does.
#
# For each eviction policy (allkeys-lru, allkeys-lfu) and each maxmemory in
# REDIS_SIZES / CACHED_SIZES (cached's list reaches lower and higher, so
# its RSS brackets redis-server's: its runtime's baseline is larger and
# its bytes per key smaller), one fresh process runs WARM requests unmeasured,
# then REQUESTS measured ones (fixed counts and seed, so runs repeat); the
# row gives the GET hit ratio, the process's RSS at the end, used_memory and
# the keys held. Equal maxmemory is not equal memory (the two count
# different things), so the last lines compare at equal RSS: for every
# redis-server row, cached's hit ratio at that RSS, interpolated linearly
# between the two cached rows whose RSS brackets it.
#
#   bench/hitratio.sh                         (from the repository root)
#   REDIS_SIZES="16mb 32mb" CACHED_SIZES="8mb 16mb 32mb 48mb" KEYS=1000000 DATA=100 bench/hitratio.sh
#
# Hit ratios and RSS do not depend much on machine load (fixed request
# counts); ops/s do, and are not printed. needs: go, redis-server, redis-cli.
set -euo pipefail
redis_sizes=${REDIS_SIZES:-16mb 32mb 64mb}
cached_sizes=${CACHED_SIZES:-8mb 16mb 32mb 48mb 64mb 96mb}
keys=${KEYS:-1000000}
data=${DATA:-100}
skew=${SKEW:-0.99}
warm=${WARM:-1000000}
requests=${REQUESTS:-2000000}
policies=${POLICIES:-allkeys-lru allkeys-lfu}
port_c=${PORT_A:-17531}
port_r=${PORT_B:-17532}
. bench/server.sh
go build -o "$tmp/bench" ./bench

info() { redis-cli -p "$1" info "$2" | tr -d '\r' | awk -F: -v k="$3" '$1 == k {print $2}'; }

load() { # PORT REQUESTS
	"$tmp/bench" --addr "127.0.0.1:$1" --keyspace "$keys" --data-size "$data" --key-dist "zipf:$skew" \
		--ratio 0:1 --cache-aside --pipeline 8 --clients 50 --requests "$2" --seed 1 --quiet
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $keys keys zipf:$skew, $data-byte values, cache-aside, $warm warm-up + $requests measured requests"
echo
echo "| policy | server | maxmemory | GET hit ratio | RSS MiB | used_memory MiB | keys |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for policy in $policies; do
	for srv in redis cached; do
		port=$port_r sizes=$redis_sizes
		if [ "$srv" = cached ]; then port=$port_c sizes=$cached_sizes; fi
		for size in $sizes; do
			start "$srv" "$port" --maxmemory "$size" --maxmemory-policy "$policy"
			load "$port" "$warm" >/dev/null
			hit=$(load "$port" "$requests" | awk '$1 == "GET" {print $NF}')
			r=$(rss)
			used=$(info "$port" memory used_memory)
			n=$(redis-cli -p "$port" dbsize)
			stop
			printf '| %s | %s | %s | %s | %.1f | %.1f | %s |\n' "$policy" "$srv" "$size" "$hit" \
				"$(awk -v r="$r" 'BEGIN {print r / 1048576}')" "$(awk -v u="$used" 'BEGIN {print u / 1048576}')" "$n"
			echo "$policy $srv $r ${hit%\%}" >>"$tmp/rows"
		done
	done
done
echo
# For each redis row: cached's hit ratio at the same RSS (same policy).
awk '$2 == "cached" { n[$1]++; cr[$1, n[$1]] = $3; ch[$1, n[$1]] = $4 }
     $2 == "redis"  { m++; rp[m] = $1; rr[m] = $3; rh[m] = $4 }
     END {
	for (i = 1; i <= m; i++) {
		p = rp[i]; at = "outside cached'"'"'s measured RSS range"; best = -1
		for (j = 1; j < n[p]; j++) {
			for (k = j + 1; k <= n[p]; k++) {
				lo = cr[p, j]; hi = cr[p, k]; hl = ch[p, j]; hh = ch[p, k]
				if (lo > hi) { x = lo; lo = hi; hi = x; x = hl; hl = hh; hh = x }
				# the narrowest pair of rows around the RSS
				if (lo <= rr[i] && rr[i] <= hi && hi > lo && (best < 0 || hi - lo < best)) {
					best = hi - lo
					at = sprintf("%.2f%%", hl + (hh - hl) * (rr[i] - lo) / (hi - lo))
				}
			}
		}
		printf "%s at redis-server'"'"'s RSS %.1f MiB: redis-server %.2f%%, cached %s\n", p, rr[i] / 1048576, rh[i], at
	}
}' "$tmp/rows"
