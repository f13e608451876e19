// Package latency owns the server's latency instruments: the per-command
// Histogram (exponential buckets as Prometheus native histograms of schema
// 4 use them) that feeds INFO latencystats, LATENCY HISTOGRAM and the
// cached_command_duration_seconds metric, and the latency Monitor (Redis's
// LATENCY LATEST / HISTORY events). The commands are the server's.
package latency

import (
	"math"
	"math/bits"
	"sort"
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
	schema    = 4                       // native histogram schema: 2^4 buckets per power of two
	perOctave = 1 << schema             // buckets per power of two
	minIndex  = -24 * perOctave         // upper bound 2^-24 s ≈ 60 ns: the zero bucket's threshold
	maxIndex  = 10 * perOctave          // upper bound 2^10 s ≈ 17 min
	numSlots  = maxIndex - minIndex + 2 // see counters
)

// bounds[j] is the upper bound in nanoseconds, rounded down, of
// bucket minIndex+j: a duration of v ns belongs to the first j with
// v <= bounds[j]. octave[e] is the first j whose bound is at
// least 2^(e-1) ns, so the search for a v of bit length e looks at ≤17 bounds.
var (
	bounds [maxIndex - minIndex + 1]uint64
	octave [66]int
	cell   [256]uint8 // bounds between 2^(e-1) and the cell's start, for a large e
)

func init() {
	for j := range bounds {
		bounds[j] = uint64(math.Floor(boundSeconds(minIndex+j) * 1e9))
	}
	for e := range octave {
		lo := uint64(0)
		if e > 0 {
			lo = 1 << (e - 1)
		}
		octave[e] = sort.Search(len(bounds), func(j int) bool { return bounds[j] >= lo })
	}
	const e = 40 // an octave of whole seconds, where rounding to ns does not matter
	for m := range cell {
		lo := uint64(256+m) << (e - 9)
		cell[m] = uint8(sort.Search(len(bounds), func(j int) bool { return bounds[j] >= lo }) - octave[e])
	}
}

// boundSeconds is the upper bound of native bucket index i.
func boundSeconds(i int) float64 { return math.Exp2(float64(i) / perOctave) }

// counters is one command's counters: [0] counts durations up to
// bounds[0] (the zero bucket), [j] for j >= 1 native bucket
// minIndex+j, (bounds[j-1], bounds[j]], and the last
// one durations above the largest bound.
type counters [numSlots]atomic.Uint64

// Histogram is a command's latency histogram. Its counters are
// allocated on the first call (most commands are never called), after which
// observe is a bit length, a short binary search and one atomic add: no
// allocation, no lock.
type Histogram struct {
	h atomic.Pointer[counters]
}

// slotOf returns the counter index for a duration of v ns. The
// bounds sit at the same places within every power of two (up to rounding
// to whole ns), so the 8 bits after v's leading one pick, through
// cell, a bound at most one or two away from v's; the loops finish
// the job exactly.
func slotOf(v uint64) int {
	if v <= bounds[0] {
		return 0
	}
	if v > bounds[len(bounds)-1] {
		return numSlots - 1
	}
	e := bits.Len64(v)
	var m uint64
	if e > 9 {
		m = v >> (e - 9) & 0xff
	} else {
		m = v << (9 - e) & 0xff
	}
	j := min(octave[e]+int(cell[m]), len(bounds)-1)
	for j > 1 && v <= bounds[j-1] {
		j--
	}
	for v > bounds[j] {
		j++
	}
	return j
}

// observe counts one call that took d.
func (l *Histogram) Observe(d time.Duration) {
	h := l.h.Load()
	if h == nil {
		h = l.alloc()
	}
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h[slotOf(v)].Add(1)
}

func (l *Histogram) alloc() *counters {
	l.h.CompareAndSwap(nil, new(counters))
	return l.h.Load()
}

// counts copies the counters (nil if never called) and their total.
func (l *Histogram) Counts() ([]uint64, uint64) {
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
func (l *Histogram) Total() uint64 {
	_, t := l.Counts()
	return t
}

// reset zeroes the histogram (CONFIG RESETSTAT, LATENCY RESET).
func (l *Histogram) Reset() {
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
		return float64(bounds[0]) / 1e3
	case i == numSlots-1:
		return float64(bounds[len(bounds)-1]) / 1e3
	}
	idx := minIndex + i
	return math.Exp2((float64(idx)-0.5)/perOctave) * 1e6
}

// percentileMicros estimates the q-quantile (0 < q <= 1) in µs: the middle
// of the bucket holding the ceil(q*total)-th call, within 2.2%.
func (l *Histogram) PercentileMicros(q float64) (float64, bool) {
	cs, total := l.Counts()
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
func (l *Histogram) PowersOfTwoMicros(n int) (cum []uint64, total uint64) {
	cs, total := l.Counts()
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
		bound := float64(bounds[i]) / 1e3 // µs
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
