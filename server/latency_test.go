package server

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/redcon"
)

func TestLatencyBuckets(t *testing.T) {
	cases := []struct {
		d    time.Duration
		want int
	}{
		{0, 0},
		{999 * time.Nanosecond, 0},
		{time.Microsecond, 1},
		{3 * time.Microsecond, 2},
		{4 * time.Microsecond, 3},
		{time.Millisecond, 10},
		{time.Second, 20},
		{2 * time.Second, latencyBucketCount},
		{time.Hour, latencyBucketCount},
	}
	for _, tc := range cases {
		var l latencyBuckets
		l.observe(tc.d)
		for i := range l {
			want := uint64(0)
			if i == tc.want {
				want = 1
			}
			if got := l[i].Load(); got != want {
				t.Errorf("observe(%v): bucket %d = %d, want %d", tc.d, i, got, want)
			}
		}
		// The bucket's upper bound is above d (finite buckets only).
		if tc.want < latencyBucketCount && tc.d.Seconds() >= latencyUpperBound(tc.want) {
			t.Errorf("observe(%v): bucket %d bound %v is not above it", tc.d, tc.want, latencyUpperBound(tc.want))
		}
	}
}

func TestLatencySnapshotReset(t *testing.T) {
	var l latencyBuckets
	for _, d := range []time.Duration{0, 5 * time.Microsecond, time.Millisecond, time.Minute} {
		l.observe(d)
	}
	cum, total := l.snapshot()
	if total != 4 {
		t.Fatalf("total = %d, want 4", total)
	}
	if cum[0] != 1 || cum[3] != 2 || cum[10] != 3 || cum[latencyBucketCount-1] != 3 {
		t.Fatalf("cumulative counts %v", cum)
	}
	l.reset()
	if _, total := l.snapshot(); total != 0 {
		t.Fatalf("after reset total = %d", total)
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
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.observe(time.Duration(i))
		i += 997
	}
	if l[0].Load() == ^uint64(0) {
		b.Fatal("unreachable")
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

func TestLatencyPercentile(t *testing.T) {
	var l latencyBuckets
	if _, ok := l.percentileMicros(0.5); ok {
		t.Fatal("empty histogram has a percentile")
	}
	for i := 0; i < 99; i++ {
		l.observe(3 * time.Microsecond) // bucket 2: < 4µs
	}
	l.observe(time.Millisecond) // bucket 10: < 1024µs
	cases := []struct {
		q    float64
		want float64
	}{{0.5, 4}, {0.99, 4}, {0.999, 1024}, {1, 1024}}
	for _, tc := range cases {
		if got, _ := l.percentileMicros(tc.q); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.q*100, got, tc.want)
		}
	}
}
