#!/usr/bin/env bash
# memory.sh: issue 13's memory measurements, cached and redis-server side by
# side, one fresh process of each per scenario. Prints a markdown table.
#
#   steady state  SETs over a fixed key space with redis-benchmark -r, a 3 s
#                 rest, no MEMORY PURGE: RSS growth per key, and the growth
#                 of anonymous memory alone (RssAnon: without the code
#                 pages a load maps back, see anon in bench/server.sh)
#   maxmemory     allkeys-lru under more data than fits: peak RSS while
#                 writing, sampled every 100 ms, against 1.25 × maxmemory + 16 MiB
#   shift         the same bound while the value size changes between phases
#   phases        the shift phase by phase: evictions per SET, keys held at
#                 the phase's end, peak RSS so far, SET p99 (redis-benchmark)
#   deletes       2,000,000 SETs of 200 B over 1,000,000 keys, then 3 keys of
#                 4 deleted: RSS above the start, full and 3 s after the deletes
#   refill        noeviction, maxmemory 32mb: fill with 200-byte values until
#                 OOM, delete every other key, write new keys until OOM
#                 again: how many of the deleted keys' room new keys take
#                 back, and how many keys the fill stored. REFILL_MAXMEMORY
#                 sets another limit; REFILL_PURGE=1 sends MEMORY PURGE after
#                 the deletes (a GC cycle in cached)
#   collections   hashes, sets, sorted sets and lists of 10, 100 and 1,000
#                 elements (≈1,000,000 elements each): RSS growth per element.
#                 The datasets (7-70 MB) mostly stay under cached's 64 MB
#                 gc-min-heap, so no GC runs during such a load: cached's
#                 growth counts everything it allocated, garbage included.
#   20M keys      only with LARGE=1: 20,000,000 keys of 16-byte values
#
# usage: bench/memory.sh [steady|small|maxmemory|shift|phases|deletes|refill|collections|large|all]
#        (small: the steady rows of 32- and 8-byte values only)  (from the repository root)
# needs: go, redis-server, redis-cli and redis-benchmark 7 on PATH.
set -euo pipefail
what=${1:-all}
port_c=${PORT_A:-17511}
port_r=${PORT_B:-17512}
. bench/server.sh

# peak_while CMD...: runs CMD, sampling the server's RSS; prints the peak
# (or $PEAK0 if that is higher: a peak over several runs).
peak_while() {
	local peak=${PEAK0:-0} r
	"$@" >/dev/null 2>&1 &
	local load=$!
	while kill -0 "$load" 2>/dev/null; do
		r=$(rss)
		if [ "$r" -gt "$peak" ]; then peak=$r; fi
		sleep 0.1
	done
	wait "$load"
	echo "$peak"
}

# evicted PORT: the server's evicted_keys.
evicted() { redis-cli -p "$1" info stats | tr -d '\r' | awk -F: '/^evicted_keys:/ {print $2}'; }

port_of() { if [ "$1" = cached ]; then echo "$port_c"; else echo "$port_r"; fi; }

row() { printf '| %s | %s | %s | %s |\n' "$@"; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'; }

# steady N R D: N SETs of D-byte values over R random keys; bytes per key.
steady() {
	local n=$1 r=$2 d=$3 out=() anons=()
	for srv in redis cached; do
		local port
		port=$(port_of $srv)
		start $srv "$port"
		local before after keys abefore aafter
		settle
		before=$(rss)
		abefore=$(anon)
		redis-benchmark -p "$port" -t set -n "$n" -r "$r" -d "$d" -P 16 -c 50 -q >/dev/null 2>&1
		sleep 3
		after=$(rss)
		aafter=$(anon)
		keys=$(redis-cli -p "$port" dbsize)
		out+=("$(awk -v a="$after" -v b="$before" -v k="$keys" 'BEGIN { printf "%.0f", (a - b) / k }')")
		anons+=("$(awk -v a="$aafter" -v b="$abefore" -v k="$keys" 'BEGIN { printf "%.0f", (a - b) / k }')")
		stop
	done
	row "steady: $n SETs, $r keys, ${d}-byte values (B/key)" "${out[0]}" "${out[1]}" "$(ratio "${out[1]}" "${out[0]}")"
	row "steady, anonymous memory alone (B/key)" "${anons[0]}" "${anons[1]}" "$(ratio "${anons[1]}" "${anons[0]}")"
}

# mib BYTES: whole MiB.
mib() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1048576 }'; }

# limit MAXMEMORY: issue 13's bound on RSS, 1.25 × maxmemory + 16 MiB, in MiB.
limit() { awk -v m="${1%mb}" 'BEGIN { printf "%.0f", 1.25 * m + 16 }'; }

# bound MAXMEMORY N D: peak RSS in MiB under allkeys-lru.
bound() {
	local mm=$1 n=$2 d=$3 out=()
	for srv in redis cached; do
		local port
		port=$(port_of $srv)
		start $srv "$port" --maxmemory "$mm" --maxmemory-policy allkeys-lru
		out+=("$(mib "$(peak_while redis-benchmark -p "$port" -t set -n "$n" -r 10000000 -d "$d" -P 16 -c 50 -q)")")
		stop
	done
	row "maxmemory $mm, $n SETs of $d B: peak RSS MiB (bound $(limit "$mm"))" "${out[0]}" "${out[1]}" "$(ratio "${out[1]}" "${out[0]}")"
}

# shift_steps: the SETs and value size of each phase of the value-size
# shift (size_shift, shift_phases), each more data than 64mb holds.
shift_steps=("1500000 200" "600000 1024" "2000000 64" "1500000 200")

# size_shift MAXMEMORY: peak RSS in MiB under allkeys-lru while the value size
# moves between phases (200 B, 1 KB, 64 B, 200 B again), each phase more
# data than fits: freed slab items are reused by their size class only.
size_shift() {
	local mm=$1 out=()
	for srv in redis cached; do
		local port
		port=$(port_of $srv)
		start $srv "$port" --maxmemory "$mm" --maxmemory-policy allkeys-lru
		local cmds="" step
		for step in "${shift_steps[@]}"; do
			set -- $step
			cmds+="redis-benchmark -p $port -t set -r 10000000 -P 16 -c 50 -q -n $1 -d $2; "
		done
		out+=("$(mib "$(peak_while bash -c "$cmds")")")
		stop
	done
	row "maxmemory $mm, value size 200 → 1024 → 64 → 200 B: peak RSS MiB (bound $(limit "$mm"))" "${out[0]}" "${out[1]}" "$(ratio "${out[1]}" "${out[0]}")"
}

# shift_phases MAXMEMORY: size_shift's phases one at a time, one row per
# server and phase.
shift_phases() {
	local mm=$1
	printf '| server | phase | evicted per SET | keys at the end | peak RSS so far MiB | SET p99 ms |\n| --- | --- | --- | --- | --- | --- |\n'
	for srv in redis cached; do
		local port peak=0 step
		port=$(port_of $srv)
		start $srv "$port" --maxmemory "$mm" --maxmemory-policy allkeys-lru
		settle
		for step in "${shift_steps[@]}"; do
			set -- $step
			local ev0 ev1 p99
			ev0=$(evicted "$port")
			peak=$(PEAK0=$peak peak_while bash -c "redis-benchmark -p $port -t set -r 10000000 -P 16 -c 50 -n $1 -d $2 --csv >$tmp/phase.csv")
			ev1=$(evicted "$port")
			p99=$(tail -1 "$tmp/phase.csv" | tr -d '"' | awk -F, '{print $7}') # test,rps,avg,min,p50,p95,p99,max
			printf '| %s | %s B | %s | %s | %s | %s |\n' "$srv" "$2" \
				"$(awk -v e=$((ev1 - ev0)) -v n="$1" 'BEGIN { printf "%.2f", e / n }')" \
				"$(redis-cli -p "$port" dbsize)" "$(mib "$peak")" "$p99"
		done
		stop
	done
}

# deletes: RSS growth in MiB with the keys written, then after deleting 3 of
# every 4 (and a 3 s rest, no MEMORY PURGE).
deletes() {
	local out=()
	for srv in redis cached; do
		local port before full after
		port=$(port_of $srv)
		start $srv "$port"
		settle
		before=$(rss)
		redis-benchmark -p "$port" -t set -n 2000000 -r 1000000 -d 200 -P 16 -c 50 -q >/dev/null 2>&1
		sleep 2
		full=$(rss)
		redis-cli -p "$port" --scan --pattern 'key:*' | awk 'NR % 4 != 0 { print "DEL " $0 }' | redis-cli -p "$port" >/dev/null
		sleep 3
		after=$(rss)
		out+=("$(((full - before) / 1048576)) → $(((after - before) / 1048576))")
		stop
	done
	row "1000000 keys of 200 B, 3 of 4 deleted: RSS growth MiB, full → after" "${out[0]}" "${out[1]}" "-"
}

# refill: keys written after deleting half of them under noeviction.
refill() {
	local out=() mm=${REFILL_MAXMEMORY:-32mb}
	for srv in redis cached; do
		local port filled kept refilled
		port=$(port_of $srv)
		start $srv "$port" --maxmemory "$mm" --maxmemory-policy noeviction
		settle
		# redis-benchmark goes on after OOM errors; -r 100000000 makes
		# nearly every key new
		redis-benchmark -p "$port" -t set -n 400000 -r 100000000 -d 200 -P 16 -c 4 -q >/dev/null 2>&1 || true # it ends non-zero after OOM errors
		filled=$(redis-cli -p "$port" dbsize)
		redis-cli -p "$port" --scan --pattern 'key:*' | awk 'NR % 2 == 0 { print "DEL " $0 }' | redis-cli -p "$port" >/dev/null
		kept=$(redis-cli -p "$port" dbsize)
		if [ "${REFILL_PURGE:-0}" = 1 ]; then redis-cli -p "$port" memory purge >/dev/null; fi
		sleep 1.5
		redis-benchmark -p "$port" -t set -n 400000 -r 100000000 -d 200 -P 16 -c 4 -q >/dev/null 2>&1 || true # it ends non-zero after OOM errors
		refilled=$(($(redis-cli -p "$port" dbsize) - kept))
		out+=("$refilled of $((filled - kept)) ($(awk -v a="$refilled" -v b=$((filled - kept)) 'BEGIN { printf "%.0f", 100 * a / b }') %), filled $filled")
		stop
	done
	local how=$mm
	if [ "${REFILL_PURGE:-0}" = 1 ]; then how+=", MEMORY PURGE after the deletes"; fi
	row "noeviction $how: new keys stored after deleting half (of the deleted)" "${out[0]}" "${out[1]}" "-"
}

# collection TYPE SIZE: RSS growth per element for ≈1,000,000 elements.
collection() {
	local typ=$1 size=$2 out=()
	local keys=$((1000000 / size))
	awk -v typ="$typ" -v size="$size" -v keys="$keys" 'BEGIN {
		cmd["hash"] = "HSET"; cmd["set"] = "SADD"; cmd["zset"] = "ZADD"; cmd["list"] = "RPUSH"
		for (k = 0; k < keys; k++) {
			line = cmd[typ] " " typ ":" k
			for (e = 0; e < size; e++) {
				if (typ == "hash") line = line " f" e " v" e
				else if (typ == "zset") line = line " " e " m" e
				else line = line " m" e
			}
			print line
		}
	}' >"$tmp/load.txt"
	for srv in redis cached; do
		local port
		port=$(port_of $srv)
		start $srv "$port"
		local before after
		settle
		before=$(rss)
		redis-cli -p "$port" <"$tmp/load.txt" >/dev/null
		sleep 3
		after=$(rss)
		out+=("$(awk -v a="$after" -v b="$before" -v n=$((keys * size)) 'BEGIN { printf "%.1f", (a - b) / n }')")
		stop
	done
	row "$typ of $size elements (B/element)" "${out[0]}" "${out[1]}" "$(ratio "${out[1]}" "${out[0]}")"
}

# large: 20,000,000 keys of 16-byte values; RSS per key.
large() {
	steady 20000000 20000000 16
}

if [ "$what" != phases ]; then # phases prints a table of its own
	echo "| scenario | redis-server | cached | cached/redis |"
	echo "| --- | --- | --- | --- |"
fi
case $what in
steady | all)
	steady 3000000 1000000 32
	steady 3000000 1000000 8
	steady 1000000 300000 1024
	;;&
small)
	steady 3000000 1000000 32
	steady 3000000 1000000 8
	;;
maxmemory | all)
	bound 64mb 2000000 200
	bound 100mb 600000 1024
	;;&
shift | all)
	size_shift 64mb
	;;&
phases)
	shift_phases 64mb
	;;
deletes | all)
	deletes
	;;&
refill | all)
	refill
	;;&
collections | all)
	for typ in hash set zset list; do
		for size in 10 100 1000; do collection "$typ" "$size"; done
	done
	;;&
large)
	large
	;;
all)
	if [ "${LARGE:-0}" = 1 ]; then large; fi
	;;
esac
