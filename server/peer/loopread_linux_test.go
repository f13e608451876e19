//go:build linux

package peer

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cached/cached/server/eventloop"
)

// The replies read on event loops (loopReader), with the server's real
// event loops (package eventloop) and real TCP peers on 127.0.0.1.

// loopPool returns a pool whose connections' replies are read on a set
// of n event loops, and the set (stopped at cleanup, after the pool).
func loopPool(t testing.TB, n int) (*Pool, *eventloop.Set) {
	t.Helper()
	set, err := eventloop.Start(n, eventloop.NoHost{})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPool(Options{Watch: func(fd int, w Watcher) error { return set.Watch(fd, w) }})
	t.Cleanup(func() { p.Close(); set.Stop() })
	return p, set
}

// loopConn gets the pool's connection to addr and checks that a loop
// reads it.
func loopConn(t testing.TB, p *Pool, addr string) *Conn {
	t.Helper()
	pc, err := p.Get(addr, false)
	if err != nil {
		t.Fatal(err)
	}
	if !pc.onLoop {
		t.Fatal("the connection's replies are not read on a loop")
	}
	return pc
}

// scriptedPeer is a TCP peer the test drives by hand: conns delivers its
// side of each accepted connection.
func scriptedPeer(t *testing.T) (addr string, conns chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns = make(chan net.Conn, 4)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- nc
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		close(conns)
		for nc := range conns {
			_ = nc.Close()
		}
	})
	return ln.Addr().String(), conns
}

// readRequests reads n requests from the peer's side of a connection.
func readRequests(t *testing.T, br *bufio.Reader, n int) {
	t.Helper()
	for range n {
		if _, err := ReadRaw(br, nil); err != nil {
			t.Fatalf("peer: %v", err)
		}
	}
}

// armedGroup queues n requests "a0".."a<n-1>" on pc in a Group armed to
// count its function's calls, flushed from the caller (FlushNow, as a
// loop does). done is told at the first call.
func armedGroup(t *testing.T, pc *Conn, n int) (g *Group, calls []*Call, fired *atomic.Int32, done chan struct{}) {
	t.Helper()
	g, fired, done = NewGroup(), &atomic.Int32{}, make(chan struct{}, 1)
	calls = queueNumbered(t, pc, g, n)
	pc.FlushNow()
	if g.Arm(func() {
		if fired.Add(1) == 1 {
			done <- struct{}{}
		}
	}) {
		t.Fatal("Arm: all in before any reply was sent")
	}
	return g, calls, fired, done
}

// waitFired waits (60 s at most) for an armed group's function.
func waitFired(t *testing.T, done chan struct{}) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the group's function was not called")
	}
}

// TestLoopReadPipelines: replies read on a loop reach their calls in
// order, through Send (waited for by a goroutine), Queue in a Group, and
// SendBatch, on two connections sharing two loops.
func TestLoopReadPipelines(t *testing.T) {
	e := startEcho(t)
	p, _ := loopPool(t, 2)
	addr := e.ln.Addr().String()
	if got := do(t, p, addr, "hello"); got != "$5\r\nhello\r\n" {
		t.Fatalf("Send: %q", got)
	}
	pc := loopConn(t, p, addr)
	pc3, err := p.Get(addr, true) // another connection (RESP3 key), maybe on the other loop
	if err != nil {
		t.Fatal(err)
	}
	g := NewGroup()
	var calls []*Call
	for i := range 300 {
		call := NewCall()
		g.Add(call)
		on := pc
		if i%3 == 0 {
			on = pc3
		}
		if err := on.Queue(call, [][]byte{[]byte(fmt.Sprint("k", i))}); err != nil {
			t.Fatal(err)
		}
		calls = append(calls, call)
	}
	pc.FlushNow()
	pc3.FlushNow()
	g.Wait()
	for i, call := range calls {
		want := fmt.Sprint("k", i)
		if call.Err != nil || string(call.Reply) != fmt.Sprintf("$%d\r\n%s\r\n", len(want), want) {
			t.Fatalf("reply %d: %q, %v", i, call.Reply, call.Err)
		}
		call.Release()
	}
	batch := []*Call{NewCall(), NewCall()}
	if _, err := pc.SendBatch(batch, [][][]byte{{[]byte("x")}, {[]byte("yy")}}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"$1\r\nx\r\n", "$2\r\nyy\r\n"} {
		batch[i].Wait()
		if string(batch[i].Reply) != want {
			t.Fatalf("batch reply %d: %q", i, batch[i].Reply)
		}
	}
}

// TestLoopReadPeerClosesMidBatch: a peer that answers part of a batch
// and closes; the answered calls have their replies, the others
// ErrBroken, each finished exactly once (the armed group's function runs
// once and its count ends at 0), and the broken connection is replaced.
func TestLoopReadPeerClosesMidBatch(t *testing.T) {
	addr, conns := scriptedPeer(t)
	p, set := loopPool(t, 1)
	pc := loopConn(t, p, addr)
	peerSide := <-conns
	g, calls, fired, done := armedGroup(t, pc, 10)
	readRequests(t, bufio.NewReader(peerSide), 10)
	if _, err := peerSide.Write([]byte("+r0\r\n+r1\r\n+r2\r\n$5\r\nr3")); err != nil { // the 4th cut short
		t.Fatal(err)
	}
	_ = peerSide.Close()
	waitFired(t, done)
	for i, call := range calls {
		switch {
		case i < 3 && (call.Err != nil || string(call.Reply) != fmt.Sprintf("+r%d\r\n", i)):
			t.Errorf("call %d: %q, %v; want its reply", i, call.Reply, call.Err)
		case i >= 3 && call.Err != ErrBroken:
			t.Errorf("call %d: %q, %v; want ErrBroken", i, call.Reply, call.Err)
		}
	}
	if !pc.broken.Load() {
		t.Fatal("the connection is not broken")
	}
	if next, err := p.Get(addr, false); err != nil || next == pc {
		t.Fatalf("Get after the break: %p, %v; want a new connection", next, err)
	}
	set.Stop()
	if n, left := fired.Load(), g.n.Load(); n != 1 || left != 0 {
		t.Fatalf("group function ran %d times, count %d: want 1 and 0", n, left)
	}
}

// TestLoopReadSlowPeer: a peer whose reply comes in pieces, with a
// second connection's replies between them: the loop does not wait for
// the rest of a reply (the other connection is answered meanwhile), and
// the reply, once whole, is the call's, byte for byte.
func TestLoopReadSlowPeer(t *testing.T) {
	addr, conns := scriptedPeer(t)
	e := startEcho(t)
	p, _ := loopPool(t, 1) // one loop: both connections' replies are read on it
	slow := loopConn(t, p, addr)
	peerSide := <-conns
	g, calls, _, done := armedGroup(t, slow, 2)
	readRequests(t, bufio.NewReader(peerSide), 2)
	big := bytes.Repeat([]byte("v"), 100_000)
	reply := append(append(append([]byte("*2\r\n$100000\r\n"), big...), "\r\n:7\r\n"...), "+second\r\n"...)
	cuts := []int{1, 5, 20, 60_000, len(reply) - 12, len(reply) - 3}
	at := 0
	for i, cut := range cuts {
		if _, err := peerSide.Write(reply[at:cut]); err != nil {
			t.Fatal(err)
		}
		at = cut
		// Meanwhile the loop serves another connection.
		if got := do(t, p, e.ln.Addr().String(), fmt.Sprint("other", i)); got != fmt.Sprintf("$6\r\nother%d\r\n", i) {
			t.Fatalf("other connection: %q", got)
		}
		select {
		case <-done:
			t.Fatalf("the group finished after %d of %d bytes", at, len(reply))
		default:
		}
	}
	if _, err := peerSide.Write(reply[at:]); err != nil {
		t.Fatal(err)
	}
	waitFired(t, done)
	g.Reset()
	if want := reply[:len(reply)-len("+second\r\n")]; calls[0].Err != nil || !bytes.Equal(calls[0].Reply, want) {
		t.Fatalf("first reply: %d bytes, %v; want %d bytes", len(calls[0].Reply), calls[0].Err, len(want))
	}
	if calls[1].Err != nil || string(calls[1].Reply) != "+second\r\n" {
		t.Fatalf("second reply %q, %v", calls[1].Reply, calls[1].Err)
	}
}

// TestLoopReadStallBreaks: Tick breaks a connection that owes a reply and
// read none for replyWait, and not one that reads, or owes nothing.
func TestLoopReadStallBreaks(t *testing.T) {
	addr, conns := scriptedPeer(t)
	p, _ := loopPool(t, 1)
	pc := loopConn(t, p, addr)
	<-conns
	lr := &loopReader{pc: pc, ps: p}
	t0 := time.Unix(1000, 0)
	if lr.Tick(t0) || lr.Tick(t0.Add(2*replyWait)) {
		t.Fatal("Tick broke a connection that owes nothing")
	}
	call := NewCall()
	pc.qmu.Lock()
	pc.enqueueLocked(call) // owed, never sent: the scripted peer never answers
	pc.qmu.Unlock()
	t1 := t0.Add(3 * replyWait)
	if lr.Tick(t1) || lr.Tick(t1.Add(replyWait/2)) {
		t.Fatal("Tick broke before replyWait")
	}
	lr.replies++ // a reply came meanwhile
	if lr.Tick(t1.Add(replyWait)) {
		t.Fatal("Tick broke a connection that read a reply")
	}
	if !lr.Tick(t1.Add(2*replyWait)) || !lr.Tick(t1.Add(3*replyWait)) {
		t.Fatal("Tick did not break a connection owing a reply for replyWait")
	}
}

// TestLoopStopFailsCallsOnce: calls in flight when the loops stop, or
// when the pool closes while the loops run, fail with ErrBroken, each
// exactly once.
func TestLoopStopFailsCallsOnce(t *testing.T) {
	for _, first := range []string{"loops", "pool"} {
		t.Run(first, func(t *testing.T) {
			addr, conns := scriptedPeer(t)
			p, set := loopPool(t, 2)
			pc := loopConn(t, p, addr)
			peerSide := <-conns
			g, calls, fired, done := armedGroup(t, pc, 20)
			readRequests(t, bufio.NewReader(peerSide), 20) // in flight; never answered
			if first == "loops" {
				set.Stop()
			} else {
				p.Close() // waits for the loop to fail them
			}
			waitFired(t, done)
			for i, call := range calls {
				if call.Err != ErrBroken {
					t.Errorf("call %d: %q, %v; want ErrBroken", i, call.Reply, call.Err)
				}
			}
			p.Close()
			set.Stop()
			if n, left := fired.Load(), g.n.Load(); n != 1 || left != 0 {
				t.Fatalf("group function ran %d times, count %d: want 1 and 0", n, left)
			}
		})
	}
}

// TestQueue16OnLoopAllocatesNothing: queue16's forward path with the
// replies read on a loop and the requests written by FlushNow allocates
// nothing per pipeline (the loop's reads and the test's peer included).
func TestQueue16OnLoopAllocatesNothing(t *testing.T) {
	addr := okServer(t)
	p, _ := loopPool(t, 1)
	pc := loopConn(t, p, addr)
	args := [][]byte{[]byte("SET"), []byte("key:000000000042"), bytes.Repeat([]byte("v"), 32)}
	g := NewGroup()
	var calls [16]*Call
	flush := pc.FlushNow
	run := func() { queue16(t, pc, flush, g, &calls, args) }
	run()
	allocs := testing.AllocsPerRun(200, run)
	if allocs != 0 && !raceEnabled {
		t.Errorf("%.1f allocations per pipeline of 16, want 0", allocs)
	}
}
