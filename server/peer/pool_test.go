package peer

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// echoServer is a real TCP server on 127.0.0.1 that answers every request
// with a bulk string of the request's first argument and counts the
// connections it accepted.
type echoServer struct {
	ln       net.Listener
	accepted atomic.Int32
	wg       sync.WaitGroup

	mu   sync.Mutex
	seen []string // first arguments, in the order they were read
}

func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			e.accepted.Add(1)
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer nc.Close()
				br := bufio.NewReader(nc)
				for {
					req, err := ReadRaw(br, nil) // a request is a RESP array of bulks
					if err != nil {
						return
					}
					// "*N\r\n$L\r\n<first>\r\n…": answer with <first>.
					parts := bytes.SplitN(req, []byte("\r\n"), 4)
					if len(parts) < 3 {
						return
					}
					e.mu.Lock()
					e.seen = append(e.seen, string(parts[2]))
					e.mu.Unlock()
					if _, err := nc.Write([]byte("$" + string(parts[1][1:]) + "\r\n" + string(parts[2]) + "\r\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); e.wg.Wait() })
	return e
}

func do(t *testing.T, p *Pool, addr string, args ...string) string {
	t.Helper()
	pc, err := p.Get(addr, false)
	if err != nil {
		t.Fatal(err)
	}
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	call := NewCall()
	defer call.Release()
	if err := pc.Send(call, bs); err != nil {
		t.Fatal(err)
	}
	call.Wait()
	if call.Err != nil {
		t.Fatal(call.Err)
	}
	return string(call.Reply)
}

func TestPoolPipelinesAndSetsUp(t *testing.T) {
	e := startEcho(t)
	var setups atomic.Int32
	p := NewPool(Options{Setup: func(resp3 bool) [][]string {
		setups.Add(1)
		return [][]string{{"HELLO"}}
	}})
	defer p.Close()
	addr := e.ln.Addr().String()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := strings.Repeat("x", i+1)
			for range 50 {
				if got := do(t, p, addr, want, "arg"); got != "$"+string(rune('0'+len(want)))+"\r\n"+want+"\r\n" {
					t.Errorf("reply %q for %q", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	if e.accepted.Load() != 1 || setups.Load() != 1 {
		t.Fatalf("%d connections, %d setups; want one pooled connection set up once", e.accepted.Load(), setups.Load())
	}
	// Fire-and-forget requests keep the order of the replies that follow.
	pc, _ := p.Get(addr, false)
	if err := pc.Send(nil, [][]byte{[]byte("dropped")}); err != nil {
		t.Fatal(err)
	}
	if got := do(t, p, addr, "kept"); got != "$4\r\nkept\r\n" {
		t.Fatalf("after a fire-and-forget request: %q", got)
	}
}

func TestPoolReplacesIdleConnections(t *testing.T) {
	e := startEcho(t)
	p := NewPool(Options{IdleTimeout: func() int64 { return 60 }})
	defer p.Close()
	addr := e.ln.Addr().String()
	do(t, p, addr, "a")
	first, _ := p.Get(addr, false)
	first.lastUse.Store(time.Now().Add(-time.Hour).UnixNano()) // idle for longer than half the timeout
	second, err := p.Get(addr, false)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || !first.broken.Load() {
		t.Fatal("an idle connection was reused, not replaced")
	}
	if got := do(t, p, addr, "b"); got != "$1\r\nb\r\n" || e.accepted.Load() != 2 {
		t.Fatalf("after the replacement: %q, %d connections", got, e.accepted.Load())
	}
}

func TestPoolDialFailsFast(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	p := NewPool(Options{})
	defer p.Close()
	_, err1 := p.Get(dead, false)
	_, err2 := p.Get(dead, false)
	if err1 == nil || err2 != err1 {
		t.Fatalf("dial errors %v, %v: want the first one repeated", err1, err2)
	}
}

func TestPoolBrokenConnectionFailsCalls(t *testing.T) {
	e := startEcho(t)
	p := NewPool(Options{})
	addr := e.ln.Addr().String()
	do(t, p, addr, "a")
	pc, _ := p.Get(addr, false)
	p.Close()
	if err := pc.Send(NewCall(), [][]byte{[]byte("late")}); err != ErrBroken {
		t.Fatalf("Send after Close: %v", err)
	}
	if _, err := p.Get(addr, false); err != ErrBroken {
		t.Fatalf("Get after Close: %v", err)
	}
}

// FuzzReadRaw feeds ReadRaw arbitrary bytes: it must not panic, and what it
// accepts must be a prefix of the input, read again identically.
func FuzzReadRaw(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "-ERR x\r\n", ":12\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*-1\r\n",
		"*2\r\n$1\r\na\r\n_\r\n", "%1\r\n+k\r\n:1\r\n", "|1\r\n+a\r\n+b\r\n:2\r\n", "=7\r\ntxt:abc\r\n",
		">2\r\n+message\r\n$1\r\nx\r\n", "~1\r\n,1.5\r\n", "*1\r\n*1\r\n(123\r\n", "#t\r\n", "!3\r\nerr\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := ReadRaw(bufio.NewReader(bytes.NewReader(in)), nil)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(in, out) {
			t.Fatalf("reply %q is not a prefix of %q", out, in)
		}
		again, err := ReadRaw(bufio.NewReader(bytes.NewReader(out)), nil)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("re-read %q: %q %v", out, again, err)
		}
	})
}

func TestReadRawRefuses(t *testing.T) {
	for _, in := range []string{"$99999999999999\r\n", "*x\r\n", "?\r\n", "$3\r\nab", "+OK\n", ":\r\n"} {
		if out, err := ReadRaw(bufio.NewReader(strings.NewReader(in)), nil); err == nil {
			t.Errorf("%q: accepted as %q", in, out)
		}
	}
}

// TestSendBatchIsContiguous: a batch's requests reach the peer back to back
// while other goroutines send on the same connection, and every call gets
// its own reply.
func TestSendBatchIsContiguous(t *testing.T) {
	e := startEcho(t)
	p := NewPool(Options{})
	defer p.Close()
	addr := e.ln.Addr().String()
	const batch, rounds = 5, 20
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(2)
		go func() { // batches
			defer wg.Done()
			for r := range rounds {
				pc, err := p.Get(addr, false)
				if err != nil {
					t.Error(err)
					return
				}
				calls := make([]*Call, batch)
				reqs := make([][][]byte, batch)
				for k := range batch {
					calls[k] = NewCall()
					reqs[k] = [][]byte{[]byte(fmt.Sprintf("b%d.%d.%d", g, r, k))}
				}
				if n, err := pc.SendBatch(calls, reqs); err != nil || n != batch {
					t.Errorf("SendBatch: %d queued, %v", n, err)
					return
				}
				for k, call := range calls {
					call.Wait()
					if want := fmt.Sprintf("$%d\r\n%s\r\n", len(reqs[k][0]), reqs[k][0]); string(call.Reply) != want || call.Err != nil {
						t.Errorf("reply %q (%v), want %q", call.Reply, call.Err, want)
					}
					call.Release()
				}
			}
		}()
		go func() { // single requests in between
			defer wg.Done()
			for r := range rounds * 2 {
				name := fmt.Sprintf("s%d.%d", g, r)
				if got := do(t, p, addr, name); got != fmt.Sprintf("$%d\r\n%s\r\n", len(name), name) {
					t.Errorf("reply %q for %q", got, name)
					return
				}
			}
		}()
	}
	wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	batches := 0
	for i, name := range e.seen {
		var g, r, k int
		if n, _ := fmt.Sscanf(name, "b%d.%d.%d", &g, &r, &k); n != 3 || k != 0 {
			continue
		}
		batches++
		for j := 1; j < batch; j++ {
			if want := fmt.Sprintf("b%d.%d.%d", g, r, j); i+j >= len(e.seen) || e.seen[i+j] != want {
				t.Fatalf("batch %d.%d: request %d of %d is not next to the first", g, r, j, batch)
			}
		}
	}
	if batches != 4*rounds || len(e.seen) != 4*rounds*batch+4*rounds*2 {
		t.Fatalf("%d batches, %d requests seen", batches, len(e.seen))
	}
}

// TestQueueThenFlush queues more requests than a connection keeps in
// flight (queueLen) without flushing: Queue must not wait for replies to
// requests it never wrote (a full buffer or queue writes them), and after
// Flush every reply arrives, in order.
func TestQueueThenFlush(t *testing.T) {
	e := startEcho(t)
	p := NewPool(Options{})
	defer p.Close()
	pc, err := p.Get(e.ln.Addr().String(), false)
	if err != nil {
		t.Fatal(err)
	}
	n := queueLen + 100
	calls := make([]*Call, n)
	done := make(chan error, 1)
	go func() {
		for i := range calls {
			calls[i] = NewCall()
			if err := pc.Queue(calls[i], [][]byte{[]byte(fmt.Sprint("q", i))}); err != nil {
				done <- err
				return
			}
		}
		pc.Flush()
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second): // a guard against a deadlock, not a timing bound
		t.Fatal("Queue blocked behind requests it had not written")
	}
	for i, call := range calls {
		call.Wait()
		want := fmt.Sprint("q", i)
		if call.Err != nil || string(call.Reply) != fmt.Sprintf("$%d\r\n%s\r\n", len(want), want) {
			t.Fatalf("reply %d: %q, %v", i, call.Reply, call.Err)
		}
		call.Release()
	}
}

// TestGroupWaitsForCallsOnManyConns queues calls on two connections in one
// Group, twice (a Group is reused), and checks every reply after one Wait;
// then calls on a connection whose peer hangs up all end with an error.
func TestGroupWaitsForCallsOnManyConns(t *testing.T) {
	e1, e2 := startEcho(t), startEcho(t)
	p := NewPool(Options{})
	defer p.Close()
	pc1, err1 := p.Get(e1.ln.Addr().String(), false)
	pc2, err2 := p.Get(e2.ln.Addr().String(), false)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	g := NewGroup()
	for round := range 2 {
		calls := make([]*Call, 40)
		for i := range calls {
			calls[i] = NewCall()
			pc := pc1
			if i%3 == 0 {
				pc = pc2
			}
			g.Add(calls[i])
			if err := pc.Queue(calls[i], [][]byte{[]byte(fmt.Sprint("r", round, "-", i))}); err != nil {
				t.Fatal(err)
			}
		}
		pc1.Flush()
		pc2.Flush()
		g.Wait()
		for i, call := range calls {
			want := fmt.Sprint("r", round, "-", i)
			if call.Err != nil || string(call.Reply) != fmt.Sprintf("$%d\r\n%s\r\n", len(want), want) {
				t.Fatalf("round %d reply %d: %q, %v", round, i, call.Reply, call.Err)
			}
			call.Release()
		}
	}

	// A peer that reads one request and hangs up: every call fails.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Add(1)
	go func() {
		defer wg.Done()
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = nc.Read(make([]byte, 64))
		_ = nc.Close()
	}()
	pc3, err := p.Get(ln.Addr().String(), false)
	if err != nil {
		t.Fatal(err)
	}
	calls := make([]*Call, 10)
	queued := 0
	for i := range calls {
		calls[i] = NewCall()
		g.Add(calls[i])
		if err := pc3.Queue(calls[i], [][]byte{[]byte("x")}); err != nil {
			g.Cancel(calls[i]) // broken already: not queued
			continue
		}
		queued++
	}
	pc3.Flush()
	g.Wait() // returns once every queued call has its error
	for i, call := range calls[:queued] {
		if call.Err == nil {
			t.Fatalf("call %d on a hung-up connection: reply %q, no error", i, call.Reply)
		}
	}
	if queued == 0 {
		t.Fatal("no call was queued before the connection broke")
	}
}

// okServer answers every request with +OK, allocation-free (so that a
// benchmark's allocations are the client's), until its listener closes.
func okServer(b testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				br, bw := bufio.NewReader(nc), bufio.NewWriter(nc)
				var req []byte
				for {
					if req, err = ReadRaw(br, req[:0]); err != nil {
						return
					}
					_, _ = bw.WriteString("+OK\r\n")
					if br.Buffered() == 0 && bw.Flush() != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// queueNumbered queues n requests "a0".."a<n-1>" on pc (an echo peer
// answers each with its name) in g, unflushed, and returns their calls.
func queueNumbered(t *testing.T, pc *Conn, g *Group, n int) []*Call {
	t.Helper()
	calls := make([]*Call, n)
	for i := range calls {
		calls[i] = NewCall()
		g.Add(calls[i])
		if err := pc.Queue(calls[i], [][]byte{[]byte(fmt.Sprint("a", i))}); err != nil {
			t.Fatal(err)
		}
	}
	return calls
}

// queue16 is a proxied pipeline's forward path: 16 requests queued in a
// Group, one flush (pc.Flush, or the loop's pc.FlushNow), one Wait, each
// reply checked.
func queue16(tb testing.TB, pc *Conn, flush func(), g *Group, calls *[16]*Call, args [][]byte) {
	for i := range calls {
		calls[i] = NewCall()
		g.Add(calls[i])
		if err := pc.Queue(calls[i], args); err != nil {
			tb.Fatal(err)
		}
	}
	flush()
	g.Wait()
	for _, call := range calls {
		if call.Err != nil || string(call.Reply) != "+OK\r\n" {
			tb.Fatalf("reply %q, %v", call.Reply, call.Err)
		}
		call.Release()
	}
}

// newQueue16 dials a peer that answers +OK and returns what queue16 needs.
func newQueue16(tb testing.TB) (*Conn, [][]byte) {
	addr := okServer(tb)
	p := NewPool(Options{})
	tb.Cleanup(p.Close)
	pc, err := p.Get(addr, false)
	if err != nil {
		tb.Fatal(err)
	}
	return pc, [][]byte{[]byte("SET"), []byte("key:000000000042"), bytes.Repeat([]byte("v"), 32)}
}

// TestQueue16AllocatesNothing guards the forward path's allocations: 0
// per pipeline of 16 (calls are pooled, requests appended to a reused
// buffer, replies read into the calls' reused buffers). The count is the
// whole process's, the test's +OK peer and the connection's goroutines
// included. Not under the race detector, whose sync.Pool drops items.
func TestQueue16AllocatesNothing(t *testing.T) {
	pc, args := newQueue16(t)
	g := NewGroup()
	var calls [16]*Call
	flush := pc.Flush
	queue16(t, pc, flush, g, &calls, args) // warm the buffers
	allocs := testing.AllocsPerRun(200, func() { queue16(t, pc, flush, g, &calls, args) })
	if allocs != 0 && !raceEnabled {
		t.Errorf("%.1f allocations per pipeline of 16, want 0", allocs)
	}
}

// BenchmarkQueue16 measures queue16 (-benchmem: 0 allocs/op).
func BenchmarkQueue16(b *testing.B) {
	pc, args := newQueue16(b)
	g := NewGroup()
	var calls [16]*Call
	b.ReportAllocs()
	for b.Loop() {
		queue16(b, pc, pc.Flush, g, &calls, args)
	}
}

// TestGroupArmAndSendLater: an armed Group calls its function once the
// last call is in (calls sent by SendLater, which dials the connection
// itself, and queued ones), and Reset makes it usable again, for Wait
// too; an empty group's Arm reports done at once; SendLater to an address
// nothing listens on ends its call with the dial's error.
func TestGroupArmAndSendLater(t *testing.T) {
	e := startEcho(t)
	addr := e.ln.Addr().String()
	p := NewPool(Options{})
	defer p.Close()
	if p.Live(addr, false) != nil {
		t.Fatal("Live found a connection before any was dialed")
	}
	g := NewGroup()
	if !g.Arm(func() { t.Error("an empty group's function was called") }) {
		t.Fatal("Arm of an empty group: not done")
	}
	g.Reset()

	first := NewCall()
	g.Add(first)
	p.SendLater(addr, false, first, [][]byte{[]byte("later")})
	in := make(chan struct{}, 1)
	if !g.Arm(func() { in <- struct{}{} }) { // true: in already, nothing to wait for
		<-in
	}
	g.Reset()
	if first.Err != nil || string(first.Reply) != "$5\r\nlater\r\n" {
		t.Fatalf("SendLater's reply %q, %v", first.Reply, first.Err)
	}
	pc := p.Live(addr, false)
	if pc == nil {
		t.Fatal("no live connection after SendLater dialed one")
	}
	calls := queueNumbered(t, pc, g, 20)
	pc.Flush()
	if !g.Arm(func() { in <- struct{}{} }) {
		<-in
	}
	g.Reset()
	for i, call := range calls {
		if want := fmt.Sprint("a", i); call.Err != nil || string(call.Reply) != fmt.Sprintf("$%d\r\n%s\r\n", len(want), want) {
			t.Fatalf("reply %d: %q, %v", i, call.Reply, call.Err)
		}
		call.Release()
	}
	again := NewCall()
	g.Add(again)
	if err := pc.Send(again, [][]byte{[]byte("wait")}); err != nil {
		t.Fatal(err)
	}
	g.Wait() // after Reset, Wait works as before
	if string(again.Reply) != "$4\r\nwait\r\n" {
		t.Fatalf("reply after Reset: %q", again.Reply)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	_ = ln.Close()
	lost := NewCall()
	g.Add(lost)
	p.SendLater(dead, false, lost, [][]byte{[]byte("x")})
	g.Wait()
	if lost.Err == nil {
		t.Fatalf("SendLater to %s (nothing listens): reply %q, no error", dead, lost.Reply)
	}
}

// FuzzReplyScan: the loops' resumable scan (replyScan) finds the same
// first reply as ReadRaw, or the same refusal, however the bytes are cut
// into reads.
func FuzzReplyScan(f *testing.F) {
	for _, s := range []string{"+OK\r\n", "$3\r\nabc\r\n:1\r\n", "*2\r\n$1\r\na\r\n_\r\n", "%1\r\n+k\r\n:1\r\n",
		"|1\r\n+a\r\n+b\r\n:2\r\n", "*1\r\n*1\r\n(123\r\n", "$-1\r\n", "*x\r\n", "$3\r\nab"} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		want, werr := ReadRaw(bufio.NewReader(bytes.NewReader(in)), nil)
		var s replyScan
		n, err := 0, error(nil)
		for end := 0; ; {
			end = min(end+int(step)+1, len(in))
			if n, err = s.next(in[:end]); err != nil || n > 0 || end == len(in) {
				break
			}
		}
		switch {
		case werr == nil && (err != nil || !bytes.Equal(in[:n], want)):
			t.Fatalf("scan: %d bytes, %v; ReadRaw: %q", n, err, want)
		case werr != nil && err == nil && n > 0:
			t.Fatalf("scan accepted %q, ReadRaw refused: %v", in[:n], werr)
		}
	})
}
