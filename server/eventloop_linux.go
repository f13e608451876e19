//go:build linux

package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// loopSet is the server's event loops (see eventloop.go); nil when
// io-event-loop is off.
type loopSet struct {
	loops []*eventLoop
	next  atomic.Uint32
	wg    sync.WaitGroup // the loops' goroutines
}

// startLoops starts the event loops if io-event-loop is on: one per
// GOMAXPROCS. Called by Start before the listeners serve.
func (s *Server) startLoops() error {
	if !s.cfg.IOEventLoop {
		return nil
	}
	ls := &loopSet{}
	for range runtime.GOMAXPROCS(0) {
		l, err := newEventLoop(s)
		if err != nil {
			ls.stop()
			return fmt.Errorf("server: io-event-loop: %w", err)
		}
		ls.loops = append(ls.loops, l)
		ls.wg.Add(1)
		go l.run(&ls.wg)
	}
	s.loops = ls
	return nil
}

// adopt takes c's socket out of Go's poller for an event loop, if c is a
// TCP connection and the loops run; it returns the loop that is to serve
// c (then c.nc is a *loopSock), or nil: a goroutine serves c. Called on
// the accept loop before the client is registered.
func (ls *loopSet) adopt(c *conn) *eventLoop {
	if ls == nil {
		return nil
	}
	g, ok := c.nc.(*guardConn)
	if !ok {
		return nil
	}
	tc, ok := g.Conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	fd, err := dupSocket(tc)
	if err != nil {
		return nil
	}
	l := ls.loops[ls.next.Add(1)%uint32(len(ls.loops))]
	k := &loopSock{l: l, fd: fd, laddr: tc.LocalAddr(), raddr: tc.RemoteAddr(), c: c}
	_ = tc.Close() // our duplicate keeps the socket open
	c.nc, c.onLoop = k, true
	return l
}

// dupSocket returns a non-blocking close-on-exec duplicate of tc's socket.
func dupSocket(tc *net.TCPConn) (int, error) {
	rc, err := tc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd, derr := -1, error(nil)
	if err := rc.Control(func(s uintptr) {
		fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return -1, err
	}
	if derr != nil {
		return -1, derr
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// stop stops the loops and waits for them; connections still on them are
// closed. Called by stopNode once every client has gone.
func (ls *loopSet) stop() {
	if ls == nil {
		return
	}
	for _, l := range ls.loops {
		l.mu.Lock()
		l.stopping = true
		l.mu.Unlock()
		l.wake()
	}
	ls.wg.Wait()
}

// sockState is where a loopSock's file descriptor stands.
type sockState uint8

const (
	sockNew    sockState = iota // adopted, not yet registered with the loop
	sockLoop                    // the loop serves it
	sockParked                  // a goroutine runs one of its requests (eventLoop.park)
	sockHanded                  // handed off: inner is the socket
	sockClosed                  // closed
)

// loopSock is the net.Conn of a connection an event loop serves, and stays
// it after a hand-off (then it forwards to inner). Read and Write are the
// owner's (the loop, the goroutine of a parked request while it runs,
// the connection's goroutine after a hand-off); Close is safe from any
// goroutine.
type loopSock struct {
	l            *eventLoop
	c            *conn
	fd           int
	laddr, raddr net.Addr

	// Loop only.
	pend     []byte    // output the socket did not take yet
	out      bool      // waiting for EPOLLOUT (not reading)
	drainEnd bool      // close once pend is written (QUIT, a protocol error)
	lastRead time.Time // for the timeout directive

	pendLen atomic.Int64 // len(pend), for CLIENT LIST omem from any goroutine

	mu       sync.Mutex // protects state, inner, closeReq, and fd's life
	state    sockState
	inner    net.Conn // sockHanded: written once before the new owner starts
	closeReq bool     // Close was called while the loop served it
}

// Read reads once, without waiting: errWouldBlock if nothing is there.
// The socket's reads and writes are sockRead and sockWrite
// (eventloop_sys_linux.go): raw system calls, or package syscall's under
// the race detector.
func (k *loopSock) Read(p []byte) (int, error) {
	if k.inner != nil {
		return k.inner.Read(p)
	}
	for {
		n, err := sockRead(k.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, errWouldBlock
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		k.l.s.stats.netInput.Add(uint64(n))
		return n, nil
	}
}

// Write writes p, or on a loop what the socket takes and keeps the rest
// for the loop to write once it can (it reports p written).
func (k *loopSock) Write(p []byte) (int, error) {
	if k.inner != nil {
		return k.inner.Write(p)
	}
	if len(k.pend) > 0 {
		k.pend = append(k.pend, p...)
		k.pendLen.Store(int64(len(k.pend)))
		return len(p), nil
	}
	off := 0
	for off < len(p) {
		n, err := sockWrite(k.fd, p[off:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			k.pend = append([]byte(nil), p[off:]...)
			k.pendLen.Store(int64(len(k.pend)))
			return len(p), nil
		case err != nil:
			return off, err
		}
		k.l.s.stats.netOutput.Add(uint64(n))
		off += n
	}
	return len(p), nil
}

// flushPend writes what Write kept; it returns with pend empty, or with
// the socket full.
func (k *loopSock) flushPend() error {
	for len(k.pend) > 0 {
		n, err := sockWrite(k.fd, k.pend)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return nil
		case err != nil:
			return err
		}
		k.l.s.stats.netOutput.Add(uint64(n))
		k.pend = k.pend[n:]
		k.pendLen.Store(int64(len(k.pend)))
	}
	k.pend = nil
	return nil
}

// Close closes the connection: on a loop, the loop closes it (after
// trying once to write what is kept), soon.
func (k *loopSock) Close() error {
	k.mu.Lock()
	switch k.state {
	case sockNew:
		k.state = sockClosed
		k.mu.Unlock()
		return unix.Close(k.fd)
	case sockLoop:
		ask := !k.closeReq
		k.closeReq = true
		k.mu.Unlock()
		if ask {
			k.l.requestClose(k)
		}
		return nil
	case sockHanded:
		inner := k.inner
		k.mu.Unlock()
		return inner.Close()
	case sockParked: // the loop closes it when it comes back
		k.closeReq = true
	}
	k.mu.Unlock()
	return nil
}

func (k *loopSock) LocalAddr() net.Addr  { return k.laddr }
func (k *loopSock) RemoteAddr() net.Addr { return k.raddr }

// SetDeadline and its friends act after a hand-off only: a loop never
// waits on a read or a write.
func (k *loopSock) SetDeadline(t time.Time) error {
	if k.inner != nil {
		return k.inner.SetDeadline(t)
	}
	return nil
}

// SetReadDeadline: see SetDeadline.
func (k *loopSock) SetReadDeadline(t time.Time) error {
	if k.inner != nil {
		return k.inner.SetReadDeadline(t)
	}
	return nil
}

// SetWriteDeadline: see SetDeadline.
func (k *loopSock) SetWriteDeadline(t time.Time) error {
	if k.inner != nil {
		return k.inner.SetWriteDeadline(t)
	}
	return nil
}

// eventLoop serves connections from one goroutine (run) over one
// level-triggered epoll instance.
type eventLoop struct {
	s    *Server
	epfd int
	epf  *os.File        // epfd in Go's poller: run parks there, not in epoll_wait
	eprc syscall.RawConn // epf's
	evfd int             // eventfd: wakes run for the inbox, closes and stop

	mu       sync.Mutex // protects inbox, resumed, closing, stopping
	inbox    []*conn
	resumed  []*conn // parked connections given back (eventLoop.park)
	closing  []*loopSock
	stopping bool

	conns  map[int32]*conn // by file descriptor; run only
	events []unix.EpollEvent
	now    time.Time // when epoll_wait last returned
}

func newEventLoop(s *Server) (*eventLoop, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, err
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(evfd)}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(evfd)
		return nil, err
	}
	// A non-blocking epoll fd is pollable: Go's poller wakes run when it
	// has events, so no thread blocks in epoll_wait holding a P (which
	// sysmon would retake and keep waking up for).
	var epf *os.File
	var rc syscall.RawConn
	err = unix.SetNonblock(epfd, true)
	if err == nil {
		epf = os.NewFile(uintptr(epfd), "epoll")
		rc, err = epf.SyscallConn()
	}
	if err != nil {
		if epf != nil {
			_ = epf.Close()
		} else {
			_ = unix.Close(epfd)
		}
		_ = unix.Close(evfd)
		return nil, err
	}
	return &eventLoop{s: s, epfd: epfd, epf: epf, eprc: rc, evfd: evfd, conns: make(map[int32]*conn),
		events: make([]unix.EpollEvent, 128)}, nil
}

// add gives the loop an adopted connection (from the accept loop).
func (l *eventLoop) add(c *conn) {
	l.mu.Lock()
	l.inbox = append(l.inbox, c)
	l.mu.Unlock()
	l.wake()
}

// requestClose asks the loop to close k (from any goroutine).
func (l *eventLoop) requestClose(k *loopSock) {
	l.mu.Lock()
	l.closing = append(l.closing, k)
	l.mu.Unlock()
	l.wake()
}

func (l *eventLoop) wake() {
	var one = [8]byte{1}
	_, _ = unix.Write(l.evfd, one[:])
}

// run is the loop's goroutine.
func (l *eventLoop) run(wg *sync.WaitGroup) {
	defer wg.Done()
	defer func() {
		_ = l.epf.Close()
		_ = unix.Close(l.evfd)
	}()
	l.now = time.Now()
	lastSweep := l.now
	// The deadline wakes run once a second for the timeout directive.
	_ = l.epf.SetReadDeadline(lastSweep.Add(time.Second))
	for {
		n, err := l.wait()
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			l.s.fatal(fmt.Errorf("event loop: epoll_wait: %w", err))
			l.closeAll()
			return
		}
		l.now = time.Now()
		for i := range n {
			ev := &l.events[i]
			if int(ev.Fd) == l.evfd {
				if l.woken() {
					return
				}
				continue
			}
			if c := l.conns[ev.Fd]; c != nil {
				l.serve(c, c.nc.(*loopSock))
			}
		}
		if l.now.Sub(lastSweep) >= time.Second {
			lastSweep = l.now
			l.sweepIdle()
			_ = l.epf.SetReadDeadline(lastSweep.Add(time.Second))
		}
	}
}

// wait returns the number of events in l.events: it takes what epoll has
// without blocking, and parks in Go's poller while there is nothing.
// os.ErrDeadlineExceeded: the sweep is due.
func (l *eventLoop) wait() (int, error) {
	var n int
	var werr error
	err := l.eprc.Read(func(fd uintptr) bool {
		for {
			n, werr = epollPoll(int(fd), l.events)
			if werr != unix.EINTR {
				return werr != nil || n > 0
			}
		}
	})
	if err != nil {
		return 0, err
	}
	return n, werr
}

// woken takes what add, requestClose and stop left; it reports whether
// the loop is to stop (its connections are closed then).
func (l *eventLoop) woken() bool {
	var b [8]byte
	_, _ = unix.Read(l.evfd, b[:])
	l.mu.Lock()
	inbox, resumed, closing, stopping := l.inbox, l.resumed, l.closing, l.stopping
	l.inbox, l.resumed, l.closing = nil, nil, nil
	l.mu.Unlock()
	for _, c := range inbox {
		l.register(c)
	}
	for _, c := range resumed {
		l.unpark(c)
	}
	for _, k := range closing {
		if l.conns[int32(k.fd)] == k.c { // not closed or handed off since
			l.closeConn(k.c, k, nil)
		}
	}
	if stopping {
		l.closeAll()
	}
	return stopping
}

func (l *eventLoop) closeAll() {
	for _, c := range l.conns {
		l.closeConn(c, c.nc.(*loopSock), nil)
	}
}

// register starts serving an adopted connection.
func (l *eventLoop) register(c *conn) {
	k := c.nc.(*loopSock)
	k.mu.Lock()
	if k.state != sockNew { // closed before it got here
		k.mu.Unlock()
		l.s.closed(c, nil)
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(k.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, k.fd, &ev); err != nil {
		k.state = sockClosed
		_ = unix.Close(k.fd)
		k.mu.Unlock()
		l.s.closed(c, err)
		return
	}
	k.state = sockLoop
	k.mu.Unlock()
	k.lastRead = l.now
	l.conns[int32(k.fd)] = c
}

// serve handles readiness of c: writes what was kept, or reads once and
// runs every complete request, then writes the replies.
func (l *eventLoop) serve(c *conn, k *loopSock) {
	if k.out {
		if err := k.flushPend(); err != nil {
			l.closeConn(c, k, err)
			return
		}
		switch {
		case len(k.pend) > 0:
		case k.drainEnd:
			l.closeConn(c, k, nil)
		default:
			l.interest(k, false) // read again (level-triggered: bytes waiting are seen)
		}
		return
	}
	if err := c.rd.Fill(); err != nil {
		if err != errWouldBlock {
			l.closeConn(c, k, err)
		}
		return
	}
	k.lastRead = l.now
	cl, _ := c.ctx.(*client)
	stop, err := l.s.runBuffered(cl, c, nil)
	l.ranBatch(c, k, stop, err)
}

// ranBatch finishes what runBuffered (or a parked request) left: parks or
// hands off the connection, closes it, or writes the replies.
func (l *eventLoop) ranBatch(c *conn, k *loopSock, stop bool, err error) {
	switch {
	case c.handArgs != nil || c.detached:
		l.handOff(c, k)
		return
	case c.parkArgs != nil:
		l.park(c, k)
		return
	}
	if stop || err != nil { // closed by its command (QUIT, a panic), or a protocol error answered
		_ = c.Flush()
		l.endConn(c, k, err)
		return
	}
	if err := c.Flush(); err != nil {
		l.closeConn(c, k, err)
		return
	}
	if len(k.pend) > 0 {
		l.interest(k, true) // write the rest before reading more
	}
}

// interest switches k between waiting to read and waiting to write.
func (l *eventLoop) interest(k *loopSock, out bool) {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(k.fd)}
	if out {
		ev.Events = unix.EPOLLOUT
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, k.fd, &ev); err != nil {
		l.closeConn(k.c, k, err)
		return
	}
	k.out = out
}

// endConn closes a connection the loop serves once its replies are
// written, as a goroutine's Close after its last Flush does (QUIT, a
// protocol error). A Close from another goroutine (CLIENT KILL, shutdown)
// closes it at once, its output dropped.
func (l *eventLoop) endConn(c *conn, k *loopSock, err error) {
	if len(k.pend) > 0 {
		k.drainEnd = true
		if !k.out {
			l.interest(k, true)
		}
		return
	}
	l.closeConn(c, k, err)
}

// closeConn closes a connection the loop serves, trying once to write
// what it kept, and tells the server.
func (l *eventLoop) closeConn(c *conn, k *loopSock, err error) {
	if len(k.pend) > 0 && !errors.Is(err, unix.EPIPE) {
		_ = k.flushPend()
	}
	k.pend = nil
	k.pendLen.Store(0)
	delete(l.conns, int32(k.fd))
	k.mu.Lock()
	k.state = sockClosed
	_ = unix.Close(k.fd)
	k.mu.Unlock()
	c.closed = true
	if errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET) {
		err = nil
	}
	l.s.closed(c, err)
}

// park lets go of c while a goroutine runs c.parkArgs (runParked): the
// socket leaves the epoll set, the replies of the batch so far are
// written first. The goroutine gives c back through resumed.
func (l *eventLoop) park(c *conn, k *loopSock) {
	if err := c.Flush(); err != nil {
		c.parkArgs = nil
		l.closeConn(c, k, err)
		return
	}
	delete(l.conns, int32(k.fd))
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, k.fd, nil); err != nil {
		c.parkArgs = nil
		l.closeConn(c, k, err)
		return
	}
	k.out = false
	k.mu.Lock()
	k.state = sockParked
	k.mu.Unlock()
	args := c.parkArgs
	c.parkArgs = nil
	l.s.wg.Add(1)
	go l.runParked(c, args)
}

// runParked is the goroutine of a parked connection: it runs one request
// (waiting for store locks if it must), then gives c back to the loop, or,
// if the loop has stopped, closes it.
func (l *eventLoop) runParked(c *conn, args [][]byte) {
	defer l.s.wg.Done()
	l.s.stats.loopParks.Add(1)
	cl, _ := c.ctx.(*client)
	cl.batching = true
	l.s.runRequest(cl, c, args)
	cl.batching, cl.batchClock = false, 0
	l.mu.Lock()
	if !l.stopping {
		l.resumed = append(l.resumed, c)
		l.mu.Unlock()
		l.wake()
		return
	}
	l.mu.Unlock()
	k := c.nc.(*loopSock)
	k.mu.Lock()
	k.state = sockClosed
	_ = unix.Close(k.fd)
	k.mu.Unlock()
	c.closed = true
	l.s.closed(c, nil)
}

// unpark takes back a connection runParked gave back: it serves it again
// (unless it was closed meanwhile) and runs the rest of its read buffer.
func (l *eventLoop) unpark(c *conn) {
	k := c.nc.(*loopSock)
	k.mu.Lock()
	killed := k.closeReq
	k.state = sockLoop
	k.mu.Unlock()
	l.conns[int32(k.fd)] = c
	if killed {
		l.closeConn(c, k, nil)
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(k.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, k.fd, &ev); err != nil {
		l.closeConn(c, k, err)
		return
	}
	if c.detached || c.closed { // the parked request detached or closed it
		l.ranBatch(c, k, true, nil)
		return
	}
	cl, _ := c.ctx.(*client)
	stop, err := l.s.runBuffered(cl, c, nil)
	l.ranBatch(c, k, stop, err)
}

// handOff gives c to a goroutine of its own: the socket leaves the loop
// and Go's poller takes a duplicate of it; the kept output goes before the
// replies of the batch; then serveHandedOff runs c.handArgs and the rest
// (or, for a connection a command detached, its session starts).
func (l *eventLoop) handOff(c *conn, k *loopSock) {
	delete(l.conns, int32(k.fd))
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, k.fd, nil)
	f := os.NewFile(uintptr(k.fd), "client")
	nc, err := net.FileConn(f)
	_ = f.Close() // k.fd; nc has its own
	var inner net.Conn
	if err != nil {
		l.s.log.Warn("event loop: hand-off failed: client closed", "addr", c.addr, "error", err)
		// A connection that fails every read and write: the goroutine
		// (or session) ends at once and tells the server.
		a, b := net.Pipe()
		_, _ = a.Close(), b.Close()
		inner = a
	} else {
		inner = &guardConn{Conn: nc, s: l.s}
	}
	k.mu.Lock()
	k.inner, k.state = inner, sockHanded
	killed := k.closeReq
	k.mu.Unlock()
	if killed {
		_ = inner.Close()
	}
	if len(k.pend) > 0 {
		c.out = append(k.pend, c.out...)
		k.pend = nil
		k.pendLen.Store(0)
	}
	c.onLoop = false
	l.s.stats.loopHandOffs.Add(1)
	args := c.handArgs
	c.handArgs = nil
	if c.detached { // its session starts now (Server.closed)
		l.s.closed(c, nil)
		return
	}
	l.s.wg.Add(1)
	go l.s.serveHandedOff(c, args)
}

// sweepIdle closes the connections idle for longer than the timeout
// directive (not those waiting to write: a goroutine blocked in Write has
// no read deadline either).
func (l *eventLoop) sweepIdle() {
	t := l.s.idleTimeout.Load()
	if t <= 0 {
		return
	}
	limit := time.Duration(t) * time.Second
	for _, c := range l.conns {
		k := c.nc.(*loopSock)
		if !k.out && l.now.Sub(k.lastRead) > limit {
			l.closeConn(c, k, errIdleTimeout)
		}
	}
}

// loopOutput is the output an event loop keeps for c's connection, not
// yet written (CLIENT LIST omem); 0 for other connections. Safe from any
// goroutine.
func loopOutput(c *client) int64 {
	if cn, ok := c.Conn.(*conn); ok {
		if k, ok := cn.nc.(*loopSock); ok {
			return k.pendLen.Load()
		}
	}
	return 0
}
