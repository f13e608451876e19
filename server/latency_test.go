package server

import (
	"net"
	"strings"
	"testing"

	"github.com/tidwall/redcon"

	"github.com/cached/cached/server/config"
)

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
	s := startServer(b, func(c *config.Config) { c.MetricsAddr = "" })
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

func TestLatencyStatsInfo(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.MetricsAddr = "" })
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
