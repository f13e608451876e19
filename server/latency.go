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

// Latency histograms: exponential buckets as Prometheus native histograms of
// schema 4 use them, 16 per power of two, so bucket i holds durations in
// (2^((i-1)/16), 2^(i/16)] seconds; each bucket is 4.4% wide, so a
// percentile read at its bucket's geometric middle is within 2.2% (the
// power-of-two buckets used before read up to 2x high). The same counters
// feed INFO latencystats, LATENCY HISTOGRAM, and the metric, which carries
// both the native buckets and classic ones at powers of two of a second
// (for a Prometheus without native histograms).

const (
	latencySchema   = 4                                     // native histogram schema: 2^4 buckets per power of two
	latencyPerOct   = 1 << latencySchema                    // buckets per power of two
	latencyMinIndex = -24 * latencyPerOct                   // upper bound 2^-24 s ≈ 60 ns: the zero bucket's threshold
	latencyMaxIndex = 10 * latencyPerOct                    // upper bound 2^10 s ≈ 17 min
	latencySlots    = latencyMaxIndex - latencyMinIndex + 2 // see latencyHist
)

// latencyBounds[j] is the upper bound in nanoseconds, rounded down, of
// bucket latencyMinIndex+j: a duration of v ns belongs to the first j with
// v <= latencyBounds[j]. latencyOctave[e] is the first j whose bound is at
// least 2^(e-1) ns, so the search for a v of bit length e looks at ≤17 bounds.
var (
	latencyBounds [latencyMaxIndex - latencyMinIndex + 1]uint64
	latencyOctave [66]int
	latencyCell   [256]uint8 // bounds between 2^(e-1) and the cell's start, for a large e
)

func init() {
	for j := range latencyBounds {
		latencyBounds[j] = uint64(math.Floor(latencyBoundSeconds(latencyMinIndex+j) * 1e9))
	}
	for e := range latencyOctave {
		lo := uint64(0)
		if e > 0 {
			lo = 1 << (e - 1)
		}
		latencyOctave[e] = sort.Search(len(latencyBounds), func(j int) bool { return latencyBounds[j] >= lo })
	}
	const e = 40 // an octave of whole seconds, where rounding to ns does not matter
	for m := range latencyCell {
		lo := uint64(256+m) << (e - 9)
		latencyCell[m] = uint8(sort.Search(len(latencyBounds), func(j int) bool { return latencyBounds[j] >= lo }) - latencyOctave[e])
	}
}

// latencyBoundSeconds is the upper bound of native bucket index i.
func latencyBoundSeconds(i int) float64 { return math.Exp2(float64(i) / latencyPerOct) }

// latencyHist is one command's counters: [0] counts durations up to
// latencyBounds[0] (the zero bucket), [j] for j >= 1 native bucket
// latencyMinIndex+j, (latencyBounds[j-1], latencyBounds[j]], and the last
// one durations above the largest bound.
type latencyHist [latencySlots]atomic.Uint64

// latencyBuckets is a command's latency histogram. Its counters are
// allocated on the first call (most commands are never called), after which
// observe is a bit length, a short binary search and one atomic add: no
// allocation, no lock.
type latencyBuckets struct {
	h atomic.Pointer[latencyHist]
}

// latencySlot returns the counter index for a duration of v ns. The
// bounds sit at the same places within every power of two (up to rounding
// to whole ns), so the 8 bits after v's leading one pick, through
// latencyCell, a bound at most one or two away from v's; the loops finish
// the job exactly.
func latencySlot(v uint64) int {
	if v <= latencyBounds[0] {
		return 0
	}
	if v > latencyBounds[len(latencyBounds)-1] {
		return latencySlots - 1
	}
	e := bits.Len64(v)
	var m uint64
	if e > 9 {
		m = v >> (e - 9) & 0xff
	} else {
		m = v << (9 - e) & 0xff
	}
	j := min(latencyOctave[e]+int(latencyCell[m]), len(latencyBounds)-1)
	for j > 1 && v <= latencyBounds[j-1] {
		j--
	}
	for v > latencyBounds[j] {
		j++
	}
	return j
}

// observe counts one call that took d.
func (l *latencyBuckets) observe(d time.Duration) {
	h := l.h.Load()
	if h == nil {
		h = l.alloc()
	}
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h[latencySlot(v)].Add(1)
}

func (l *latencyBuckets) alloc() *latencyHist {
	l.h.CompareAndSwap(nil, new(latencyHist))
	return l.h.Load()
}

// counts copies the counters (nil if never called) and their total.
func (l *latencyBuckets) counts() ([]uint64, uint64) {
	h := l.h.Load()
	if h == nil {
		return nil, 0
	}
	out := make([]uint64, len(h))
	var total uint64
	for i := range h {
		out[i] = h[i].Load()
		total += out[i]
	}
	return out, total
}

// total is the number of calls counted.
func (l *latencyBuckets) total() uint64 {
	_, t := l.counts()
	return t
}

// reset zeroes the histogram (CONFIG RESETSTAT, LATENCY RESET).
func (l *latencyBuckets) reset() {
	if h := l.h.Load(); h != nil {
		for i := range h {
			h[i].Store(0)
		}
	}
}

// slotMicros is a representative value of counter slot i in µs: the
// geometric middle of its bucket (the zero bucket: its bound; beyond the
// last bound: that bound).
func slotMicros(i int) float64 {
	switch {
	case i == 0:
		return float64(latencyBounds[0]) / 1e3
	case i == latencySlots-1:
		return float64(latencyBounds[len(latencyBounds)-1]) / 1e3
	}
	idx := latencyMinIndex + i
	return math.Exp2((float64(idx)-0.5)/latencyPerOct) * 1e6
}

// percentileMicros estimates the q-quantile (0 < q <= 1) in µs: the middle
// of the bucket holding the ceil(q*total)-th call, within 2.2%.
func (l *latencyBuckets) percentileMicros(q float64) (float64, bool) {
	cs, total := l.counts()
	if total == 0 {
		return 0, false
	}
	rank := max(uint64(math.Ceil(q*float64(total))), 1)
	var cum uint64
	for i, n := range cs {
		cum += n
		if cum >= rank {
			return slotMicros(i), true
		}
	}
	return slotMicros(len(cs) - 1), true
}

// powersOfTwoMicros returns cumulative counts at 1, 2, 4, … 2^(n-1) µs (for
// LATENCY HISTOGRAM): a bucket counts under the first power of two at or
// above its upper bound, so a count may show one power of two high when its
// 4.4%-wide bucket straddles one.
func (l *latencyBuckets) powersOfTwoMicros(n int) (cum []uint64, total uint64) {
	cs, total := l.counts()
	cum = make([]uint64, n)
	if cs == nil {
		return cum, 0
	}
	var run uint64
	p := 0
	for i, c := range cs {
		if i == len(cs)-1 {
			break // beyond every bound: only in total
		}
		bound := float64(latencyBounds[i]) / 1e3 // µs
		for p < n && float64(uint64(1)<<p) < bound {
			cum[p] = run
			p++
		}
		run += c
	}
	for ; p < n; p++ {
		cum[p] = run
	}
	return cum, total
}

// latencyStatsInfo writes INFO's latencystats section body, as Redis 7:
// one line per command called, latency_percentiles_usec_<cmd>:p50=…,p99=…,p99.9=…
// (the percentiles of latency-tracking-info-percentiles; subcommands as
// container|sub), nothing while latency-tracking is off. info.go calls it
// under "# Latencystats".
func (s *Server) latencyStatsInfo(b *strings.Builder) {
	if !s.latTracking.Load() {
		return
	}
	ps := *s.latPercents.Load()
	line := func(c *command) {
		if c.latency.total() == 0 {
			return
		}
		b.WriteString("latency_percentiles_usec_" + c.fullName + ":")
		for i, p := range ps {
			v, _ := c.latency.percentileMicros(p / 100)
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("p" + strconv.FormatFloat(p, 'f', -1, 64) + "=" + fmtMicros(v))
		}
		b.WriteString("\r\n")
	}
	for _, c := range s.cmds.sorted() {
		if c.subs == nil {
			line(c)
			continue
		}
		for _, sub := range sortedSubs(c) {
			line(sub)
		}
	}
}

func fmtMicros(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
