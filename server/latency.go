package server

import (
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// latencyBucketCount is the number of finite latency buckets: bucket i counts
// durations below 2^i µs, from 1µs to 2^20 µs (about 1.05 s). One more slot
// counts the slower ones.
const latencyBucketCount = 21

// latencyBuckets is a command's latency histogram: fixed exponential buckets
// of atomic counters. observe costs one bit-length and one atomic add, so
// the request path does no map lookup and no allocation.
type latencyBuckets [latencyBucketCount + 1]atomic.Uint64

// observe counts one call that took d.
func (l *latencyBuckets) observe(d time.Duration) {
	i := bits.Len64(uint64(d / time.Microsecond))
	if i > latencyBucketCount {
		i = latencyBucketCount
	}
	l[i].Add(1)
}

// latencyUpperBound is the upper bound of finite bucket i, in seconds.
func latencyUpperBound(i int) float64 { return float64(uint64(1)<<i) / 1e6 }

// snapshot returns the cumulative counts per finite bucket and the total.
func (l *latencyBuckets) snapshot() (cum [latencyBucketCount]uint64, total uint64) {
	for i := range l {
		total += l[i].Load()
		if i < latencyBucketCount {
			cum[i] = total
		}
	}
	return cum, total
}

// reset zeroes the histogram (CONFIG RESETSTAT, LATENCY RESET).
func (l *latencyBuckets) reset() {
	for i := range l {
		l[i].Store(0)
	}
}

// percentileMicros estimates the q-quantile (0 < q <= 1) in microseconds:
// the upper bound of the first bucket whose cumulative count reaches q of
// the total. Unlike Redis's HdrHistogram (about 3 significant digits), the
// buckets are powers of two, so the estimate is an upper bound within a
// factor of 2; calls over ~1 s report the last finite bound.
func (l *latencyBuckets) percentileMicros(q float64) (float64, bool) {
	cum, total := l.snapshot()
	if total == 0 {
		return 0, false
	}
	rank := uint64(math.Ceil(q * float64(total)))
	for i, n := range cum {
		if n >= rank {
			return latencyUpperBound(i) * 1e6, true
		}
	}
	return latencyUpperBound(latencyBucketCount-1) * 1e6, true
}

// latencyStatsInfo writes INFO's latencystats section body, as Redis 7:
// one line per command called, latency_percentiles_usec_<cmd>:p50=…,p99=…,p99.9=…
// (subcommands as container|sub). info.go calls it under "# Latencystats".
func (s *Server) latencyStatsInfo(b *strings.Builder) {
	line := func(c *command) {
		p50, ok := c.latency.percentileMicros(0.50)
		if !ok {
			return
		}
		p99, _ := c.latency.percentileMicros(0.99)
		p999, _ := c.latency.percentileMicros(0.999)
		b.WriteString("latency_percentiles_usec_" + c.fullName + ":p50=" + fmtMicros(p50) +
			",p99=" + fmtMicros(p99) + ",p99.9=" + fmtMicros(p999) + "\r\n")
	}
	for _, c := range s.cmds.sorted() {
		if c.subs == nil {
			line(c)
			continue
		}
		subs := make([]*command, 0, len(c.subs))
		for _, sub := range c.subs {
			subs = append(subs, sub)
		}
		sort.Slice(subs, func(i, j int) bool { return subs[i].name < subs[j].name })
		for _, sub := range subs {
			line(sub)
		}
	}
}

func fmtMicros(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
