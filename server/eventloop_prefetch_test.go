package server

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// warmPath is a pathConn served as an event loop serves it (onLoop),
// minus the socket: its batches go through the loop's warm between the
// read and the run (as the wake-up's only prepared connection) and as
// runBuffered runs them, while prefetchOn (prefetch-batch-max-size above
// 1, and the server started with prefetchFromBytes 0: startWarmServer).
type warmPath struct {
	*pathConn
	h  *loopConn
	lb loopBatch
}

// startWarmServer starts a server that warms whatever its store's size.
func startWarmServer(t testing.TB) *Server {
	from := prefetchFromBytes
	prefetchFromBytes = 0
	defer func() { prefetchFromBytes = from }()
	s := startServer(t, nil)
	s.prefetchFrom = 0 // also with io-event-loop no (startLoops sets it)
	return s
}

func newWarmPath(t testing.TB, s *Server) *warmPath {
	p := newPathConn(t, s)
	w := &warmPath{pathConn: p, h: &loopConn{s: s, c: p.c}}
	p.c.onLoop, p.c.lb = true, &w.lb
	return w
}

// warmBatch is pathConn.batch with what the loop does around it.
func (p *warmPath) warmBatch(in []byte) error {
	p.mc.in = in
	p.mc.out = p.mc.out[:0]
	if err := p.c.rd.Fill(); err != nil {
		return err
	}
	if p.s.prefetchOn() {
		p.lb.prepared = append(p.lb.prepared[:0], p.h)
		p.s.warmPrepared(&p.lb)
		p.lb.prepared = p.lb.prepared[:0]
	}
	if _, err := p.s.runBuffered(p.cl, p.c, nil); err != nil {
		return err
	}
	p.lb.countWakeup()
	return p.c.Flush()
}

// prefetchPipeline is a pipeline of single-key commands of several types
// (warmed), commands that are not warmed (MGET, DEL of two keys, PING) and
// a SELECT in the middle, so that some keys are warmed in the wrong
// database.
func prefetchPipeline() []byte {
	var b []byte
	for i := range 12 {
		k := fmt.Sprintf("key:%d", i)
		b = append(b, respRequest("SET", k, strings.Repeat("v", i))...)
		b = append(b, respRequest("GET", k)...)
		b = append(b, respRequest("INCR", "n:"+k)...)
		b = append(b, respRequest("HSET", "h:"+k, "f", k)...)
		b = append(b, respRequest("LPUSH", "l:"+k, k, k)...)
		if i == 5 {
			b = append(b, respRequest("SELECT", "3")...)
		}
		if i == 9 {
			b = append(b, respRequest("SELECT", "0")...)
		}
	}
	b = append(b, respRequest("MGET", "key:1", "key:2", "nokey")...)
	b = append(b, respRequest("DEL", "key:3", "key:4")...)
	b = append(b, "PING\r\n"...) // inline: Peek stops here
	b = append(b, respRequest("GET", "key:5")...)
	b = append(b, respRequest("HGET", "h:key:5", "f")...)
	b = append(b, respRequest("LRANGE", "l:key:2", "0", "-1")...)
	return b
}

// TestPrefetchSameReplies runs the same pipeline, as one read, with the
// event loop's warm before it and without: the replies are identical, the
// warm touched the keys of the single-key requests before the inline one
// in batches of prefetch-batch-max-size, and a single request warms
// nothing.
func TestPrefetchSameReplies(t *testing.T) {
	in := prefetchPipeline()
	var replies [2]string
	for i, max := range []int32{0, 16} {
		s := startWarmServer(t)
		s.prefetchMax.Store(max)
		p := newWarmPath(t, s)
		lb := &p.lb
		if err := p.warmBatch(in); err != nil {
			t.Fatal(err)
		}
		replies[i] = string(p.mc.out)
		if max == 0 {
			if lb.warmed.Load() != 0 {
				t.Fatalf("prefetch-batch-max-size 0: warmed %d keys", lb.warmed.Load())
			}
			continue
		}
		// Prepared: the 60 single-key commands (SET, GET, INCR, HSET,
		// LPUSH 12 times) before the inline PING, in batches of 16; then,
		// as PING runs, the keys of the GET, HGET and LRANGE after it
		// (warmAhead).
		if got, batches := lb.warmed.Load(), lb.batches.Load(); got != 63 || batches != 5 {
			t.Fatalf("warmed %d keys in %d batches, want 60+3 in 4+1", got, batches)
		}
		if err := p.warmBatch(respRequest("GET", "key:1")); err != nil {
			t.Fatal(err)
		}
		if got := lb.batches.Load(); got != 5 {
			t.Fatalf("a single GET made a warm batch (%d batches)", got)
		}
		// Deeper than Prepared looks (128 requests): the rest is warmed
		// as it runs, 16 requests at a time.
		deep := bytes.Repeat(respRequest("GET", "key:1"), 200)
		if err := p.warmBatch(deep); err != nil {
			t.Fatal(err)
		}
		if got, batches := lb.warmed.Load(), lb.batches.Load(); got != 63+200 || batches != 5+8+5 {
			t.Fatalf("200 GETs in one read: %d keys warmed in %d batches, want 200 in 8+5", got-63, batches-5)
		}
		s.prefetchMax.Store(4)
		if err := p.warmBatch(in); err != nil {
			t.Fatal(err)
		}
		if got, batches := lb.warmed.Load(), lb.batches.Load(); got != 263+63 || batches != 18+15+1 {
			t.Fatalf("with prefetch-batch-max-size 4: %d keys warmed in %d batches in all, want %d in %d", got, batches, 263+63, 18+15+1)
		}
	}
	if replies[0] != replies[1] {
		t.Fatalf("replies differ:\nwithout warm %q\nwith warm    %q", replies[0], replies[1])
	}
	if !strings.Contains(replies[0], "$5\r\nkey:5\r\n") { // HGET h:key:5 f
		t.Fatalf("unexpected replies %q", replies[0])
	}
}

// TestPrefetchNoAllocs: the request path with the warm in front (Peek,
// command lookup, store.Warm) allocates nothing once its buffers are
// warm, for pipelines of 16 of each request path case.
func TestPrefetchNoAllocs(t *testing.T) {
	s := startWarmServer(t)
	p := newWarmPath(t, s)
	for _, tc := range requestPathCases {
		if err := p.warmBatch(tc.setup); err != nil {
			t.Fatal(err)
		}
		in := bytes.Repeat(tc.req, 16)
		if err := p.warmBatch(in); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(200, func() {
			if err := p.warmBatch(in); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 && !raceEnabled {
			t.Errorf("%s x16 with the warm: %v allocations per batch, want 0", tc.name, allocs)
		}
	}
	if p.lb.warmed.Load() == 0 {
		t.Fatal("the warm touched no key")
	}
}

// BenchmarkRequestPathWarm is BenchmarkRequestPath's 16-deep pipelines
// with the event loop's warm in front (on a small key space: its cost
// where it cannot gain).
func BenchmarkRequestPathWarm(b *testing.B) {
	s := startWarmServer(b)
	p := newWarmPath(b, s)
	for _, tc := range requestPathCases {
		if err := p.warmBatch(tc.setup); err != nil {
			b.Fatal(err)
		}
		const depth = 16
		b.Run(fmt.Sprintf("%s/P%d", tc.name, depth), func(b *testing.B) {
			in := bytes.Repeat(tc.req, depth)
			b.ReportAllocs()
			for b.Loop() {
				if err := p.warmBatch(in); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*depth), "ns/cmd")
		})
	}
}
