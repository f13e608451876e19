# bench/server.sh: what bench/memory.sh, bench/evict-cost.sh,
# bench/memory-info.sh and bench/hitratio.sh share, sourced from the
# repository root. It builds cached into $tmp (removed on exit with the
# server still running) as it ships: scripts/build-static.sh, static, no
# libc mapped (a plain `go build` links libc for the cgo resolver, 1.4 MiB
# more RSS), and defines:
#
#   start SERVER PORT DIRECTIVES...   starts cached or redis-server on PORT
#                                     (PID in $pid; $SERVER_ENV is passed to
#                                     cached; $SERVER_CPUS, a CPU list, pins
#                                     either with taskset), waits for PING
#   settle                            waits until a fresh cached has dropped
#                                     the binary's pages start-up mapped (1 s
#                                     after start, server/exepages_linux.go),
#                                     so RSS growth from then on is the data's
#   stop                              ends it
#   rss                               its resident set in bytes
#   anon                              the anonymous part of it (RssAnon)
#   cpu                               its utime+stime in clock ticks
tmp=$(mktemp -d)
sh scripts/build-static.sh "$tmp/cached"
pid=""
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

start() {
	local srv=$1 port=$2
	shift 2
	if [ "$srv" = cached ]; then
		env ${SERVER_ENV:-} ${SERVER_CPUS:+taskset -c "$SERVER_CPUS"} "$tmp/cached" --port "$port" --bind 127.0.0.1 --loglevel warning --metrics-addr "" "$@" >"$tmp/$srv.log" 2>&1 &
	else
		${SERVER_CPUS:+taskset -c "$SERVER_CPUS"} redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no "$@" >"$tmp/$srv.log" 2>&1 &
	fi
	pid=$!
	for _ in $(seq 100); do
		if redis-cli -p "$port" ping >/dev/null 2>&1; then return; fi
		sleep 0.1
	done
	echo "$srv did not start" >&2
	exit 1
}

settle() { sleep 1.5; }

stop() {
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=""
}

rss() { awk '/^VmRSS:/ {printf "%.0f\n", $2 * 1024}' "/proc/$pid/status"; } # %.0f: mawk prints large numbers as 2.2e+09

# anon: the anonymous part of rss (RssAnon), without the pages of files:
# the executable's code a load maps back is counted for cached only
# (scripts/lib.sh, anon_kb).
anon() { awk '/^RssAnon:/ {printf "%.0f\n", $2 * 1024}' "/proc/$pid/status"; }

cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
