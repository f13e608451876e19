package server

import (
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

// TestLatencySlots checks every bucket bound: a duration at a bound is in
// that bucket, one nanosecond more in the next, and the bounds are
// 2^(i/16) seconds.
func TestLatencySlots(t *testing.T) {
	for j, b := range latencyBounds {
		want := math.Floor(math.Exp2(float64(latencyMinIndex+j)/16) * 1e9)
		if float64(b) != want {
			t.Fatalf("bound %d = %d ns, want %v", j, b, want)
		}
		if j == 0 {
			if latencySlot(b) != 0 || latencySlot(0) != 0 {
				t.Fatalf("zero bucket: %d %d", latencySlot(b), latencySlot(0))
			}
		} else if got := latencySlot(b); got != j {
			t.Fatalf("latencySlot(%d) = %d, want %d", b, got, j)
		}
		if got := latencySlot(b + 1); got != j+1 {
			t.Fatalf("latencySlot(%d) = %d, want %d", b+1, got, j+1)
		}
	}
	if got := latencySlot(math.MaxUint64); got != latencySlots-1 {
		t.Fatalf("latencySlot(max) = %d", got)
	}
}

func TestLatencyCountsReset(t *testing.T) {
	var l latencyBuckets
	if cs, total := l.counts(); cs != nil || total != 0 {
		t.Fatal("never observed: counters allocated")
	}
	for _, d := range []time.Duration{-1, 0, 5 * time.Microsecond, time.Millisecond, time.Hour} {
		l.observe(d)
	}
	cs, total := l.counts()
	if total != 5 || cs[0] != 2 || cs[latencySlots-1] != 1 {
		t.Fatalf("total %d, zero %d, overflow %d", total, cs[0], cs[latencySlots-1])
	}
	l.reset()
	if l.total() != 0 {
		t.Fatalf("after reset total = %d", l.total())
	}
}

// discardConn is a redcon.Conn whose writes go nowhere, to time dispatch
// without a network. Methods not overridden panic (nil embedded interface).
type discardConn struct {
	redcon.Conn
	n int
}

func (d *discardConn) RemoteAddr() string             { return "127.0.0.1:1" }
func (d *discardConn) NetConn() net.Conn              { return nil }
func (d *discardConn) WriteString(s string)           { d.n += len(s) }
func (d *discardConn) WriteBulk(b []byte)             { d.n += len(b) }
func (d *discardConn) WriteBulkString(s string)       { d.n += len(s) }
func (d *discardConn) WriteError(s string)            { d.n += len(s) }
func (d *discardConn) WriteInt(int)                   { d.n++ }
func (d *discardConn) WriteInt64(int64)               { d.n++ }
func (d *discardConn) WriteArray(int)                 { d.n++ }
func (d *discardConn) WriteNull()                     { d.n++ }
func (d *discardConn) WriteRaw(b []byte)              { d.n += len(b) }
func (d *discardConn) SetContext(any)                 {}
func (d *discardConn) Context() any                   { return nil }
func (d *discardConn) Close() error                   { return nil }
func (d *discardConn) SetReadBuffer(int)              {}
func (d *discardConn) WriteUint64(uint64)             { d.n++ }
func (d *discardConn) WriteAny(any)                   { d.n++ }
func (d *discardConn) PeekPipeline() []redcon.Command { return nil }

// BenchmarkDispatch times SET and GET through dispatch (lookup, checks,
// handler, stats and the latency histogram) without the network.
// BenchmarkLatencyObserve times the histogram hook alone: the metrics cost
// on the request path is its ns/op divided by dispatch's.
func BenchmarkDispatch(b *testing.B) {
	s := startServer(b, func(c *Config) { c.MetricsAddr = "" })
	c := s.newClient(&discardConn{})
	for _, bc := range []struct {
		name string
		args [][]byte
	}{
		{"SET", [][]byte{[]byte("SET"), []byte("key"), []byte("value")}},
		{"GET", [][]byte{[]byte("GET"), []byte("key")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.dispatch(c, bc.args)
			}
		})
	}
}

func BenchmarkLatencyObserve(b *testing.B) {
	var l latencyBuckets
	// Durations a cache sees: 200 ns to 2 ms, spread over many buckets.
	var ds [1024]time.Duration
	x := uint64(88172645463325252)
	for i := range ds {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		ds[i] = 200*time.Nanosecond + time.Duration(math.Exp2(float64(x%1300)/100))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.observe(ds[i&1023])
		i++
	}
	if l.total() == 0 {
		b.Fatal("nothing counted")
	}
}

func TestLatencyStatsInfo(t *testing.T) {
	s := startServer(t, func(c *Config) { c.MetricsAddr = "" })
	rc := newClient(t, s, nil)
	mustDo(t, rc, "SET", "k", "v")
	mustDo(t, rc, "CONFIG", "GET", "maxmemory")
	var b strings.Builder
	s.latencyStatsInfo(&b)
	out := b.String()
	for _, want := range []string{"latency_percentiles_usec_set:p50=", "latency_percentiles_usec_config|get:p50=", ",p99.9="} {
		if !strings.Contains(out, want) {
			t.Errorf("latencystats lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "latency_percentiles_usec_get:") {
		t.Errorf("latencystats lists a command never called:\n%s", out)
	}
}

// TestLatencyPercentile: percentiles are within 2.2% of the true value (the
// power-of-two buckets used before read up to 2x high).
func TestLatencyPercentile(t *testing.T) {
	var l latencyBuckets
	if _, ok := l.percentileMicros(0.5); ok {
		t.Fatal("empty histogram has a percentile")
	}
	for i := 0; i < 989; i++ {
		l.observe(3 * time.Microsecond)
	}
	for i := 0; i < 10; i++ {
		l.observe(1500 * time.Microsecond)
	}
	l.observe(70 * time.Millisecond)
	cases := []struct{ q, want float64 }{{0.5, 3}, {0.989, 3}, {0.99, 1500}, {0.999, 1500}, {1, 70000}}
	for _, tc := range cases {
		got, _ := l.percentileMicros(tc.q)
		if math.Abs(got-tc.want)/tc.want > 0.022 {
			t.Errorf("p%v = %v µs, want %v within 2.2%%", tc.q*100, got, tc.want)
		}
	}
}

// TestLatencyPowersOfTwo: LATENCY HISTOGRAM's cumulative counts at 1, 2, 4 … µs.
func TestLatencyPowersOfTwo(t *testing.T) {
	var l latencyBuckets
	l.observe(500 * time.Nanosecond) // under 1 µs
	l.observe(3 * time.Microsecond)  // under 4 µs
	l.observe(3 * time.Microsecond)
	l.observe(100 * time.Second) // beyond 2^26 µs
	cum, total := l.powersOfTwoMicros(27)
	if total != 4 || cum[0] != 1 || cum[1] != 1 || cum[2] != 3 || cum[26] != 3 {
		t.Fatalf("cumulative %v, total %d", cum, total)
	}
}
