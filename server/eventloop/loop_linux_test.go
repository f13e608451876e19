//go:build linux

package eventloop

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The loop mechanics with a tiny line protocol (lineHandler): package
// server's end-to-end tests (server/eventloop_linux_test.go) drive the
// loops with real clients; these use a fake handler because the real one
// lives in package server.

// testHost counts bytes and has a settable idle timeout.
type testHost struct {
	NoHost
	in, out atomic.Int64
	idle    atomic.Int64 // nanoseconds
	fatal   atomic.Int32
}

func (h *testHost) CountRead(n int)            { h.in.Add(int64(n)) }
func (h *testHost) CountWrite(n int)           { h.out.Add(int64(n)) }
func (h *testHost) IdleTimeout() time.Duration { return time.Duration(h.idle.Load()) }
func (h *testHost) Fatal(error)                { h.fatal.Add(1) }

// lineHandler serves lines: PING answers PONG, BIG n answers n bytes,
// QUIT answers BYE and ends, PARK parks until release is closed then
// answers PARKED, SUSPEND suspends until release is closed (then a
// goroutine calls Resume) and answers RESUMED, HANDOFF hands off and
// echoes every later line on a goroutine. LATER answers LATER through
// Flush (Serve returns Flush), HOLD signals held and waits for unhold on
// the loop; with a log, Serve and Flush note themselves in it.
type lineHandler struct {
	k       *Conn
	name    string
	log     *eventLog
	later   []byte // LATER's replies, for Flush
	held    chan struct{}
	unhold  chan struct{}
	buf     []byte        // loop, or the goroutine that owns the connection
	susp    bool          // SUSPEND ran: Serve(false) answers RESUMED; loop only
	resumed chan struct{} // a SUSPEND goroutine's Resume returned (capacity 8)
	waiting atomic.Bool   // the SUSPEND goroutine started
	release chan struct{}
	closed  chan error // Closed's error
	handed  chan []byte
	wg      *sync.WaitGroup // goroutines Park and HandedOff start
}

func (h *lineHandler) Serve(read bool) (Next, error) {
	if read {
		var b [4096]byte
		n, err := h.k.Read(b[:])
		if err == ErrWouldBlock {
			return Wait, nil
		}
		if err != nil {
			return Close, err
		}
		h.buf = append(h.buf, b[:n]...)
	} else if h.susp {
		h.susp = false
		if _, err := h.k.Write([]byte("RESUMED\n")); err != nil {
			return Close, err
		}
	}
	if h.log != nil {
		h.log.add("serve " + h.name)
	}
	for {
		i := bytes.IndexByte(h.buf, '\n')
		if i < 0 {
			if len(h.later) > 0 {
				return Flush, nil
			}
			return Wait, nil
		}
		line := string(h.buf[:i])
		h.buf = h.buf[i+1:]
		var err error
		switch {
		case line == "PING":
			_, err = h.k.Write([]byte("PONG\n"))
		case line == "QUIT":
			_, err = h.k.Write([]byte("BYE\n"))
			return End, err
		case line == "PARK":
			return Park, nil
		case line == "SUSPEND":
			h.susp = true
			h.waiting.Store(true)
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				<-h.release
				h.k.Resume()
				h.resumed <- struct{}{}
			}()
			return Suspend, nil
		case line == "HANDOFF":
			return HandOff, nil
		case line == "LATER":
			h.later = append(h.later, "LATER\n"...)
		case line == "HOLD":
			h.held <- struct{}{}
			<-h.unhold
		case line == "WSUSPEND": // resumed by someone else (TestWatchResumesOnLoop)
			h.susp = true
			return Suspend, nil
		case strings.HasPrefix(line, "BIG "):
			n, _ := strconv.Atoi(line[4:])
			_, err = h.k.Write(append(bytes.Repeat([]byte{'x'}, n), '\n'))
		}
		if err != nil {
			return Close, err
		}
	}
}

func (h *lineHandler) Park() {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		<-h.release
		_, _ = h.k.Write([]byte("PARKED\n"))
		h.k.Resume()
	}()
}

func (h *lineHandler) HandedOff(pending []byte, err error) {
	h.handed <- pending
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		defer h.k.Close()
		if err != nil {
			return
		}
		if _, err := h.k.Write(append(pending, "HANDED\n"...)); err != nil {
			return
		}
		r := bufio.NewReader(io.MultiReader(bytes.NewReader(h.buf), h.k))
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			if _, err := h.k.Write([]byte("ECHO " + line)); err != nil {
				return
			}
		}
	}()
}

func (h *lineHandler) Closed(err error) { h.closed <- err }

func (h *lineHandler) Flush() error {
	if h.log != nil {
		h.log.add("flush " + h.name)
	}
	_, err := h.k.Write(h.later)
	h.later = h.later[:0]
	return err
}

// eventLog is the order of the handlers' Serve and Flush calls.
type eventLog struct {
	mu  sync.Mutex
	evs []string
}

func (l *eventLog) add(ev string) {
	l.mu.Lock()
	l.evs = append(l.evs, ev)
	l.mu.Unlock()
}

func (l *eventLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := strings.Join(l.evs, ", ")
	l.evs = nil
	return s
}

// fixture is a Set with a listener whose connections it adopts.
type fixture struct {
	t    *testing.T
	set  *Set
	host *testHost
	ln   net.Listener
	wg   sync.WaitGroup
}

func newFixture(t *testing.T, loops int) *fixture {
	t.Helper()
	f := &fixture{t: t, host: &testHost{}}
	set, err := Start(loops, f.host)
	if err != nil {
		t.Fatal(err)
	}
	f.set = set
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		set.Stop()
		t.Fatal(err)
	}
	f.ln = ln
	t.Cleanup(func() {
		_ = ln.Close()
		set.Stop()
		f.wg.Wait()
	})
	return f
}

// client is one end of a connection; h serves the other on a loop.
type client struct {
	nc net.Conn
	r  *bufio.Reader
	h  *lineHandler
}

// dialWith connects, with a receive buffer of rcvBuf bytes if not 0, and
// adopts the server side; PARK on it waits for release.
func (f *fixture) dialWith(rcvBuf int, release chan struct{}) *client {
	f.t.Helper()
	nc, err := net.Dial("tcp", f.ln.Addr().String())
	if err != nil {
		f.t.Fatal(err)
	}
	if rcvBuf > 0 {
		if err := nc.(*net.TCPConn).SetReadBuffer(rcvBuf); err != nil {
			f.t.Fatal(err)
		}
	}
	f.t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(60 * time.Second))
	sc, err := f.ln.Accept()
	if err != nil {
		f.t.Fatal(err)
	}
	h := &lineHandler{release: release, resumed: make(chan struct{}, 8), closed: make(chan error, 1), handed: make(chan []byte, 1), wg: &f.wg}
	k, err := f.set.Adopt(sc.(*net.TCPConn), h)
	if err != nil {
		f.t.Fatal(err)
	}
	h.k = k
	k.Start()
	f.waitState(k, StateLoop)
	return &client{nc: nc, r: bufio.NewReader(nc), h: h}
}

func (f *fixture) dial() *client {
	f.t.Helper()
	return f.dialWith(0, make(chan struct{}))
}

// waitState polls until k is in state want.
func (f *fixture) waitState(k *Conn, want State) {
	f.t.Helper()
	f.waitUntil(func() bool { return k.State() == want }, func() string {
		return "state " + strconv.Itoa(int(k.State())) + ", want " + strconv.Itoa(int(want))
	})
}

func (f *fixture) waitUntil(ok func() bool, what func() string) {
	f.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			f.t.Fatal(what())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (c *client) send(t *testing.T, s string) {
	t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func (c *client) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		line, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatalf("want %q: %v", w, err)
		}
		if line = strings.TrimSuffix(line, "\n"); line != w {
			t.Fatalf("got %q, want %q", line, w)
		}
	}
}

func (c *client) expectClosed(t *testing.T) {
	t.Helper()
	if line, err := c.r.ReadString('\n'); err == nil {
		t.Fatalf("read %q, want the connection closed", line)
	}
}

func closedWith(t *testing.T, c *client) error {
	t.Helper()
	select {
	case err := <-c.h.closed:
		return err
	case <-time.After(60 * time.Second):
		t.Fatal("Handler.Closed was not called")
		return nil
	}
}

// TestServeCountsAndEnd: requests in pieces are served in order, the Host
// counts every byte both ways, and End closes after the reply with
// Handler.Closed(nil).
func TestServeCountsAndEnd(t *testing.T) {
	f := newFixture(t, 2)
	c := f.dial()
	c.send(t, "PI")
	c.send(t, "NG\nPING\nBIG 10\n")
	c.expect(t, "PONG", "PONG", strings.Repeat("x", 10))
	c.send(t, "QUIT\n")
	c.expect(t, "BYE")
	c.expectClosed(t)
	if err := closedWith(t, c); err != nil {
		t.Fatalf("Closed(%v) after QUIT, want nil", err)
	}
	if in, out := f.host.in.Load(), f.host.out.Load(); in != int64(len("PING\nPING\nBIG 10\nQUIT\n")) || out != int64(len("PONG\nPONG\nxxxxxxxxxx\nBYE\n")) {
		t.Fatalf("counted %d bytes in, %d out", in, out)
	}
}

// TestPartialWritesKept asks for more output than the socket buffers
// hold without reading it: the loop keeps the rest (Pending), serves
// another connection of the same loop meanwhile, and every byte arrives
// once the client reads.
func TestPartialWritesKept(t *testing.T) {
	f := newFixture(t, 1)
	a := f.dialWith(16<<10, make(chan struct{}))
	const size, n = 1 << 20, 8
	a.send(t, strings.Repeat("BIG "+strconv.Itoa(size)+"\n", n)+"PING\n")
	f.waitUntil(func() bool { return a.h.k.Pending() > 0 }, func() string { return "the loop keeps no output" })
	b := f.dial()
	b.send(t, "PING\n")
	b.expect(t, "PONG")
	for range n {
		line, err := a.r.ReadString('\n')
		if err != nil || len(line) != size+1 {
			t.Fatalf("reply of %d bytes, %v; want %d", len(line), err, size+1)
		}
	}
	a.expect(t, "PONG")
	f.waitUntil(func() bool { return a.h.k.Pending() == 0 }, func() string { return "output still kept" })
	a.send(t, "PING\n")
	a.expect(t, "PONG")
}

// TestParkResume: a parked connection leaves the loop, the loop's other
// connection is served meanwhile, and once the handler resumes it the
// loop serves the rest of its buffer and reads on.
func TestParkResume(t *testing.T) {
	f := newFixture(t, 1)
	release := make(chan struct{})
	a := f.dialWith(0, release)
	b := f.dial()
	a.send(t, "PING\nPARK\nPING\n")
	a.expect(t, "PONG")
	f.waitState(a.h.k, StateParked)
	b.send(t, "PING\n")
	b.expect(t, "PONG")
	close(release)
	a.expect(t, "PARKED", "PONG")
	f.waitState(a.h.k, StateLoop)
	a.send(t, "PING\n")
	a.expect(t, "PONG")
}

// TestSuspendResume: a suspended connection keeps its place on the loop
// (which serves the others meanwhile) and is not served until Resume;
// what it sent meanwhile is read after.
func TestSuspendResume(t *testing.T) {
	f := newFixture(t, 1)
	release := make(chan struct{})
	a := f.dialWith(0, release)
	b := f.dial()
	a.send(t, "PING\nSUSPEND\nPING\n")
	a.expect(t, "PONG")
	b.send(t, "PING\n")
	b.expect(t, "PONG")
	a.send(t, "PING\n") // comes while suspended: the loop stops watching a
	b.send(t, "PING\n")
	b.expect(t, "PONG")
	if st := a.h.k.State(); st != StateLoop {
		t.Fatalf("state %d while suspended, want loop", st)
	}
	close(release)
	a.expect(t, "RESUMED", "PONG", "PONG")
	a.send(t, "SUSPEND\nPING\n") // release is closed: resumed at once
	a.expect(t, "RESUMED", "PONG")
}

// TestCloseSuspended: a suspended connection closed meanwhile is closed
// once, and its late Resume does nothing.
func TestCloseSuspended(t *testing.T) {
	f := newFixture(t, 1)
	release := make(chan struct{})
	a := f.dialWith(0, release)
	a.send(t, "SUSPEND\n")
	f.waitUntil(a.h.waiting.Load, func() string { return "SUSPEND not served" })
	b := f.dial()
	if err := a.h.k.Close(); err != nil {
		t.Fatal(err)
	}
	a.expectClosed(t)
	if err := closedWith(t, a); err != nil {
		t.Fatalf("Closed(%v), want nil", err)
	}
	close(release)
	<-a.h.resumed
	b.send(t, "PING\n")
	b.expect(t, "PONG")
	c := f.dial() // the fd may be a's again: a's Resume must not serve it
	c.send(t, "PING\n")
	c.expect(t, "PONG")
	select {
	case err := <-a.h.closed:
		t.Fatalf("Closed called again (%v)", err)
	default:
	}
}

// TestCloseParked: Close on a parked connection closes it once it comes
// back, not before.
func TestCloseParked(t *testing.T) {
	f := newFixture(t, 1)
	release := make(chan struct{})
	a := f.dialWith(0, release)
	a.send(t, "PARK\n")
	f.waitState(a.h.k, StateParked)
	if err := a.h.k.Close(); err != nil {
		t.Fatal(err)
	}
	if st := a.h.k.State(); st != StateParked {
		t.Fatalf("state %d after Close while parked, want parked", st)
	}
	close(release)
	a.expect(t, "PARKED")
	a.expectClosed(t)
	if err := closedWith(t, a); err != nil {
		t.Fatalf("Closed(%v), want nil", err)
	}
}

// TestHandOffPending: a hand-off gives the handler the output the loop
// kept, and the Conn then forwards reads, writes and deadlines to the
// socket in Go's poller.
func TestHandOffPending(t *testing.T) {
	f := newFixture(t, 1)
	a := f.dialWith(16<<10, make(chan struct{}))
	const size = 16 << 20
	a.send(t, "BIG "+strconv.Itoa(size)+"\nHANDOFF\nline1\n")
	var pending []byte
	select {
	case pending = <-a.h.handed:
	case <-time.After(60 * time.Second):
		t.Fatal("no hand-off")
	}
	if len(pending) == 0 {
		t.Fatal("the hand-off came with no kept output (the socket took 16 MB unread?)")
	}
	if st := a.h.k.State(); st != StateHandedOff {
		t.Fatalf("state %d, want handed off", st)
	}
	line, err := a.r.ReadString('\n')
	if err != nil || len(line) != size+1 {
		t.Fatalf("reply of %d bytes, %v; want %d", len(line), err, size+1)
	}
	a.expect(t, "HANDED", "ECHO line1")
	a.send(t, "line2\n")
	a.expect(t, "ECHO line2")
	if err := a.h.k.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	_ = a.nc.Close()
	f.wg.Wait() // the handler's goroutine ends on EOF
}

// TestCloseFromAnotherGoroutine: Close asks the loop, which closes the
// socket and calls Handler.Closed(nil).
func TestCloseFromAnotherGoroutine(t *testing.T) {
	f := newFixture(t, 1)
	a := f.dial()
	done := make(chan error, 1)
	go func() { done <- a.h.k.Close() }()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a.expectClosed(t)
	if err := closedWith(t, a); err != nil {
		t.Fatalf("Closed(%v), want nil", err)
	}
	if st := a.h.k.State(); st != StateClosed {
		t.Fatalf("state %d, want closed", st)
	}
}

// TestIdleTimeout: the sweep closes a connection idle past the Host's
// timeout with ErrIdleTimeout; an active one stays.
func TestIdleTimeout(t *testing.T) {
	f := newFixture(t, 1)
	a := f.dial()
	f.host.idle.Store(int64(time.Millisecond))
	a.expectClosed(t)
	if err := closedWith(t, a); !errors.Is(err, ErrIdleTimeout) {
		t.Fatalf("Closed(%v), want ErrIdleTimeout", err)
	}
	f.host.idle.Store(0)
	b := f.dial()
	b.send(t, "PING\n")
	b.expect(t, "PONG")
}

// TestStopClosesAll: Stop closes the connections on the loops and one
// parked (when it resumes), and leaves no descriptor open.
func TestStopClosesAll(t *testing.T) {
	before := countFDs(t)
	host := &testHost{}
	set, err := Start(2, host)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, set: set, host: host}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.ln = ln
	release := make(chan struct{})
	a, b := f.dial(), f.dialWith(0, release)
	b.send(t, "PARK\n")
	f.waitState(b.h.k, StateParked)
	set.Stop()
	a.expectClosed(t)
	if err := closedWith(t, a); err != nil {
		t.Fatalf("Closed(%v), want nil", err)
	}
	close(release)
	b.expect(t, "PARKED")
	b.expectClosed(t)
	if err := closedWith(t, b); err != nil {
		t.Fatalf("parked Closed(%v), want nil", err)
	}
	f.wg.Wait()
	_ = ln.Close()
	_, _ = a.nc.Close(), b.nc.Close()
	f.waitUntil(func() bool { return countFDs(t) <= before }, func() string {
		return strconv.Itoa(countFDs(t)) + " descriptors open, " + strconv.Itoa(before) + " before"
	})
}

// TestNilSet: a nil Set (io-event-loop off) adopts nothing and stops.
func TestNilSet(t *testing.T) {
	var s *Set
	if s.Len() != 0 {
		t.Fatal("nil Set has loops")
	}
	if _, err := s.Adopt(nil, nil); err == nil {
		t.Fatal("nil Set adopted a connection")
	}
	s.Stop()
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(ents)
}

// TestWaitAllocatesNothing: a loop's wait, run once per wake-up, does not
// allocate (a closure made per call used to put it and its results on the
// heap: ≈51 bytes of garbage per wake-up, per request at pipeline depth 1).
func TestWaitAllocatesNothing(t *testing.T) {
	l, err := newLoop(0, &testHost{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = l.epf.Close()
		_ = unix.Close(l.evfd)
	})
	// The eventfd stays readable (level-triggered, never read here), so
	// every wait returns at once with its event.
	l.wake()
	allocs := testing.AllocsPerRun(100, func() {
		if n, err := l.wait(); n != 1 || err != nil {
			t.Fatalf("wait: %d events, %v", n, err)
		}
	})
	if allocs != 0 {
		t.Errorf("wait allocates %.1f times per call, want 0", allocs)
	}
}

// TestFlushAfterWakeup: a Serve that returns Flush has its replies
// written by the handler's Flush once the loop has served every
// connection of that wake-up, in the order served, as Redis writes its
// clients' replies before it sleeps. A connection held on the loop lets
// two others' requests arrive, so the next wake-up has both.
func TestFlushAfterWakeup(t *testing.T) {
	f := newFixture(t, 1)
	log := &eventLog{}
	hold, a, b := f.dial(), f.dial(), f.dial()
	for name, c := range map[string]*client{"hold": hold, "a": a, "b": b} {
		c.h.name, c.h.log = name, log
	}
	hold.h.held, hold.h.unhold = make(chan struct{}), make(chan struct{})
	if _, err := hold.nc.Write([]byte("HOLD\n")); err != nil {
		t.Fatal(err)
	}
	<-hold.h.held // the loop is in hold's Serve
	for _, c := range []*client{a, b} {
		if _, err := c.nc.Write([]byte("LATER\nLATER\n")); err != nil {
			t.Fatal(err)
		}
	}
	log.take()
	close(hold.h.unhold)
	for _, c := range []*client{a, b} {
		for range 2 {
			if line, err := c.r.ReadString('\n'); err != nil || line != "LATER\n" {
				t.Fatalf("%s: %q %v, want LATER", c.h.name, line, err)
			}
		}
	}
	got := log.take()
	if got != "serve a, serve b, flush a, flush b" && got != "serve b, serve a, flush b, flush a" {
		t.Fatalf("calls %q: want both served, then both flushed in that order", got)
	}
}
