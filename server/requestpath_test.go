package server

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/protocol"
)

// memConn is a net.Conn in memory for the request path without sockets:
// Read hands out in once, Write keeps what the server wrote.
type memConn struct {
	in  []byte
	out []byte
}

func (m *memConn) Read(p []byte) (int, error) {
	n := copy(p, m.in)
	m.in = m.in[n:]
	return n, nil
}

func (m *memConn) Write(p []byte) (int, error) {
	m.out = append(m.out, p...)
	return len(p), nil
}

func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 6379} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

// pathConn is a client of s over a memConn, as serveListener would set it
// up (the frame checker included), for driving the request path by hand.
type pathConn struct {
	s  *Server
	mc *memConn
	c  *conn
	cl *client
}

func newPathConn(t testing.TB, s *Server) *pathConn {
	t.Helper()
	mc := &memConn{}
	g := &guardConn{Conn: mc, s: s}
	c := &conn{nc: g, addr: "127.0.0.1:50000"}
	if !s.accept(c) {
		t.Fatal("not accepted")
	}
	c.rd = protocol.NewRequestReader(g, 0)
	c.rd.Check(protocol.NewFrameChecker(s.frameLimits()))
	t.Cleanup(func() { s.closed(c, nil) })
	return &pathConn{s: s, mc: mc, c: c, cl: c.ctx.(*client)}
}

// batch runs the requests in one read, as one wake-up of serveConn does:
// read, parse in place, dispatch, and write the replies once.
func (p *pathConn) batch(in []byte) error {
	p.mc.in = in
	p.mc.out = p.mc.out[:0]
	if err := p.c.rd.Fill(); err != nil {
		return err
	}
	if _, err := p.s.runBuffered(p.cl, p.c, nil); err != nil {
		return err
	}
	return p.c.Flush()
}

func respRequest(args ...string) []byte {
	b := fmt.Appendf(nil, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

// TestRequestPathReplies checks the batch path answers as the network
// does: a pipeline of RESP and inline requests, one write of all replies.
func TestRequestPathReplies(t *testing.T) {
	s := startServer(t, nil)
	p := newPathConn(t, s)
	in := append(respRequest("SET", "k", "v"), "GET k\r\nPING\r\nGET missing\r\n"...)
	if err := p.batch(in); err != nil {
		t.Fatal(err)
	}
	if got, want := string(p.mc.out), "+OK\r\n$1\r\nv\r\n+PONG\r\n$-1\r\n"; got != want {
		t.Fatalf("replies %q, want %q", got, want)
	}
}

// requestPathCases are the commands whose request path must not allocate.
// A case with setup runs it once first; RPUSH+LPOP is a pair of commands
// on a queue that stays 8 long (its ns/cmd is per pair).
var requestPathCases = []struct {
	name  string
	req   []byte
	setup []byte
}{
	{"GET", respRequest("GET", "key:000042"), nil},
	{"SET", respRequest("SET", "key:000042", strings.Repeat("v", 32)), nil},
	{"GET-miss", respRequest("GET", "nokey:1"), nil},
	{"INCR", respRequest("INCR", "counter"), nil},
	{"RPUSH+LPOP", append(respRequest("RPUSH", "queue", "job"), respRequest("LPOP", "queue")...),
		respRequest("RPUSH", "queue", "a", "b", "c", "d", "e", "f", "g")},
	{"SADD+SREM", append(respRequest("SADD", "set", "m9"), respRequest("SREM", "set", "m9")...),
		respRequest("SADD", "set", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8")},
	{"HSET", respRequest("HSET", "hash", "f1", strings.Repeat("v", 32)),
		respRequest("HSET", "hash", "f1", "v", "f2", "v")},
	{"ZADD", respRequest("ZADD", "zset", "2", "m2"),
		respRequest("ZADD", "zset", "1", "m1", "2", "m2", "3", "m3")},
}

// TestRequestPathNoAllocs guards the request path (parse, dispatch, store,
// reply, write) at zero allocations per command for GET, SET, INCR, RPUSH
// and LPOP, alone and pipelined 16 deep. It counts allocations, not time.
func TestRequestPathNoAllocs(t *testing.T) {
	s := startServer(t, nil)
	p := newPathConn(t, s)
	for _, tc := range requestPathCases {
		if err := p.batch(tc.setup); err != nil {
			t.Fatal(err)
		}
		for _, depth := range []int{1, 16} {
			in := bytes.Repeat(tc.req, depth)
			if err := p.batch(in); err != nil { // warm: keys, buffers, histograms
				t.Fatal(err)
			}
			allocs := testing.AllocsPerRun(200, func() {
				if err := p.batch(in); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 && !raceEnabled { // the race detector's sync.Pool drops items
				t.Errorf("%s x%d: %v allocations per batch, want 0", tc.name, depth, allocs)
			}
		}
	}
}

// BenchmarkRequestPath runs batches of pipelined requests through the
// request path without sockets: parse in place, dispatch, store, reply,
// one write per batch. ns/op and allocs/op are per batch; ns/cmd per
// command.
func BenchmarkRequestPath(b *testing.B) {
	s := startServer(b, nil)
	p := newPathConn(b, s)
	for _, tc := range requestPathCases {
		if err := p.batch(tc.setup); err != nil {
			b.Fatal(err)
		}
		for _, depth := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/P%d", tc.name, depth), func(b *testing.B) {
				in := bytes.Repeat(tc.req, depth)
				b.ReportAllocs()
				for b.Loop() {
					if err := p.batch(in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*depth), "ns/cmd")
			})
		}
	}
}
