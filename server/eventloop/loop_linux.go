//go:build linux

package eventloop

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// loop serves connections from one goroutine (run) over one
// level-triggered epoll instance.
type loop struct {
	id   int // index in the Set
	host Host
	prep Preparing // host's, if it is one
	epfd int
	epf  *os.File        // epfd in Go's poller: run parks there, not in epoll_wait
	eprc syscall.RawConn // epf's
	evfd int             // eventfd: wakes run for the inbox, closes and stop

	mu       sync.Mutex // protects inbox, resumed, closing, stopping, awake, watchIn
	inbox    []*Conn
	resumed  []*Conn // parked connections given back (Conn.Resume)
	closing  []*Conn
	stopping bool
	awake    bool     // run is serving events and takes resumed before it waits: Resume needs no wake
	watchIn  []*watch // sockets handed over by Set.Watch, not yet watched

	conns   map[int32]*Conn  // by file descriptor; run only
	watches map[int32]*watch // the user's sockets it reads for it (Set.Watch), by file descriptor; run only
	events  []unix.EpollEvent
	now     time.Time // when epoll_wait last returned
	flushes []*Conn   // served with Flush in this wake-up, to flush before it waits (flushAll); run only

	// poll is wait's callback for eprc.Read, made once (a closure made
	// per wait would allocate it and the results it captures on every
	// wake-up); it leaves its results in polled and pollErr. run only.
	poll    func(fd uintptr) bool
	polled  int
	pollErr error
}

func newLoop(id int, host Host) (*loop, error) {
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
	l := &loop{id: id, host: host, epfd: epfd, epf: epf, eprc: rc, evfd: evfd, conns: make(map[int32]*Conn),
		events: make([]unix.EpollEvent, 128)}
	l.prep, _ = host.(Preparing)
	l.poll = func(fd uintptr) bool {
		for {
			l.polled, l.pollErr = epollPoll(int(fd), l.events)
			if l.pollErr != unix.EINTR {
				return l.pollErr != nil || l.polled > 0
			}
		}
	}
	return l, nil
}

// requestClose asks the loop to close k (from any goroutine).
func (l *loop) requestClose(k *Conn) {
	l.mu.Lock()
	l.closing = append(l.closing, k)
	l.mu.Unlock()
	l.wake()
}

func (l *loop) wake() {
	var one = [8]byte{1}
	_, _ = unix.Write(l.evfd, one[:])
}

// run is the loop's goroutine.
func (l *loop) run(wg *sync.WaitGroup) {
	defer wg.Done()
	defer func() {
		_ = l.epf.Close()
		_ = unix.Close(l.evfd)
	}()
	l.now = time.Now()
	lastSweep := l.now
	// The deadline wakes run once a second for the idle timeout.
	_ = l.epf.SetReadDeadline(lastSweep.Add(time.Second))
	for {
		n, err := l.wait()
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			l.host.Fatal(fmt.Errorf("event loop: epoll_wait: %w", err))
			l.closeAll()
			return
		}
		l.now = time.Now()
		l.setAwake()
		l.prepare(n)
		for i := range n {
			ev := &l.events[i]
			if int(ev.Fd) == l.evfd {
				l.flushAll() // woken may close connections: the replies served so far go first
				if l.woken() {
					return
				}
				continue
			}
			if k := l.conns[ev.Fd]; k != nil {
				l.serve(k)
			} else if wt := l.watches[ev.Fd]; wt != nil && wt.w.Ready() {
				l.endWatch(wt)
			}
		}
		l.takeResumed()
		l.flushAll()
		if l.now.Sub(lastSweep) >= time.Second {
			lastSweep = l.now
			l.sweepIdle()
			l.tickWatches(l.now)
			_ = l.epf.SetReadDeadline(lastSweep.Add(time.Second))
		}
		l.host.Idle(l.id)
	}
}

// prepare lets every ready connection whose Handler is a Preparer read
// (Preparer.Prepare) before any of the n events is served, then tells the
// Host (Preparing.Prepared): the requests of the whole wake-up are
// buffered before the first runs. Only a connection that serve would ask
// to read is prepared: not one waiting to write or suspended.
func (l *loop) prepare(n int) {
	if l.prep == nil {
		return
	}
	some := false
	for i := range n {
		ev := &l.events[i]
		if int(ev.Fd) == l.evfd {
			continue
		}
		if k := l.conns[ev.Fd]; k != nil && k.prep != nil && !k.out && !k.susp {
			k.prep.Prepare()
			some = true
		}
	}
	if some {
		l.prep.Prepared(l.id)
	}
}

// wait returns the number of events in l.events: it takes what epoll has
// without blocking, and parks in Go's poller while there is nothing.
// os.ErrDeadlineExceeded: the sweep is due.
func (l *loop) wait() (int, error) {
	l.polled, l.pollErr = 0, nil
	if err := l.eprc.Read(l.poll); err != nil {
		return 0, err
	}
	return l.polled, l.pollErr
}

// setAwake tells Resume that the loop is serving events and will take
// what is resumed before it waits again (takeResumed), so Resume needs
// not write the eventfd.
func (l *loop) setAwake() {
	l.mu.Lock()
	l.awake = true
	l.mu.Unlock()
}

// takeResumed serves the connections resumed while the loop was awake
// (by a Watcher's Ready on this loop, or by other goroutines), until none
// is left, and then lets Resume wake the loop again. (Once Stop is asked,
// Resume adds none: the eventfd brings the stop.)
func (l *loop) takeResumed() {
	for {
		l.mu.Lock()
		resumed := l.resumed
		l.resumed = nil
		if len(resumed) == 0 {
			l.awake = false
		}
		l.mu.Unlock()
		if len(resumed) == 0 {
			return
		}
		l.resume(resumed)
	}
}

// resume serves again connections given back by Resume.
func (l *loop) resume(resumed []*Conn) {
	for _, k := range resumed {
		if k.susp {
			l.unsuspend(k)
		} else {
			l.unpark(k)
		}
	}
}

// woken takes what Start, Resume, requestClose, Watch and Stop left; it
// reports whether the loop is to stop (its connections are closed then).
func (l *loop) woken() bool {
	var b [8]byte
	_, _ = unix.Read(l.evfd, b[:])
	l.mu.Lock()
	inbox, resumed, closing, stopping, watchIn := l.inbox, l.resumed, l.closing, l.stopping, l.watchIn
	l.inbox, l.resumed, l.closing, l.watchIn = nil, nil, nil, nil
	l.mu.Unlock()
	for _, k := range inbox {
		l.register(k)
	}
	for _, wt := range watchIn {
		l.addWatch(wt)
	}
	l.resume(resumed)
	for _, k := range closing {
		if l.conns[int32(k.fd)] == k { // not closed or handed off since
			l.closeConn(k, nil)
		}
	}
	if stopping {
		l.closeAll()
	}
	return stopping
}

func (l *loop) closeAll() {
	for _, wt := range l.watches {
		l.endWatch(wt)
	}
	for _, k := range l.conns {
		l.closeConn(k, nil)
	}
}

// register starts serving an adopted connection.
func (l *loop) register(k *Conn) {
	k.mu.Lock()
	if k.state != StateNew { // closed before it got here
		k.mu.Unlock()
		k.h.Closed(nil)
		return
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(k.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, k.fd, &ev); err != nil {
		k.state = StateClosed
		_ = unix.Close(k.fd)
		k.mu.Unlock()
		k.h.Closed(err)
		return
	}
	k.state = StateLoop
	k.mu.Unlock()
	k.lastRead = l.now
	l.conns[int32(k.fd)] = k
}

// serve handles readiness of k: writes what was kept, or lets the handler
// read once and run every complete request.
func (l *loop) serve(k *Conn) {
	if k.out {
		if err := k.flushPend(); err != nil {
			l.closeConn(k, err)
			return
		}
		switch {
		case len(k.pend) > 0:
		case k.drainEnd:
			l.closeConn(k, nil)
		case k.susp:
			l.mute(k)
		default:
			l.interest(k, false) // read again (level-triggered: bytes waiting are seen)
		}
		return
	}
	if k.susp { // bytes came while the handler waits: stop watching until Resume
		l.mute(k)
		return
	}
	next, err := k.h.Serve(true)
	l.then(k, next, err)
}

// then does what the handler's Serve asked: parks or hands off the
// connection, closes it, or waits to write what the socket did not take.
func (l *loop) then(k *Conn, next Next, err error) {
	switch next {
	case HandOff:
		l.handOff(k)
	case Park:
		l.park(k)
	case End:
		l.endConn(k, err)
	case Close:
		l.closeConn(k, err)
	case Suspend:
		k.susp = true
		if len(k.pend) > 0 {
			l.interest(k, true) // write the rest meanwhile
		}
	case Flush:
		l.flushes = append(l.flushes, k)
	default:
		if len(k.pend) > 0 {
			l.interest(k, true) // write the rest before reading more
		}
	}
}

// flushAll writes the replies of the connections whose Serve returned
// Flush in this wake-up, in the order they were served. A connection the
// loop no longer serves (closed meanwhile, its descriptor maybe reused) is
// skipped.
func (l *loop) flushAll() {
	for i, k := range l.flushes {
		l.flushes[i] = nil
		if l.conns[int32(k.fd)] != k {
			continue
		}
		if err := k.h.(Flusher).Flush(); err != nil {
			l.closeConn(k, err)
			continue
		}
		if len(k.pend) > 0 {
			l.interest(k, true) // write the rest before reading more
		}
	}
	l.flushes = l.flushes[:0]
}

// interest switches k between waiting to read and waiting to write.
func (l *loop) interest(k *Conn, out bool) {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(k.fd)}
	if out {
		ev.Events = unix.EPOLLOUT
	}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_MOD, k.fd, &ev); err != nil {
		l.closeConn(k, err)
		return
	}
	k.out = out
}

// mute takes a suspended connection out of the epoll set (bytes came, or
// its output is written, while it waits); unsuspend puts it back.
func (l *loop) mute(k *Conn) {
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, k.fd, nil); err != nil {
		l.closeConn(k, err)
		return
	}
	k.muted, k.out = true, false
}

// unsuspend serves again a suspended connection its handler resumed
// (unless it was closed meanwhile).
func (l *loop) unsuspend(k *Conn) {
	if l.conns[int32(k.fd)] != k { // closed (the fd may be another's now)
		return
	}
	k.susp = false
	if !k.muted {
		next, err := k.h.Serve(false)
		l.then(k, next, err)
		return
	}
	k.muted = false
	l.watchAndServe(k)
}

// endConn closes a connection the loop serves once its output is
// written, as a goroutine's Close after its last Flush does (QUIT, a
// protocol error). A Close from another goroutine (CLIENT KILL, shutdown)
// closes it at once, its output dropped.
func (l *loop) endConn(k *Conn, err error) {
	if len(k.pend) > 0 {
		k.drainEnd = true
		if !k.out {
			l.interest(k, true)
		}
		return
	}
	l.closeConn(k, err)
}

// closeConn closes a connection the loop serves, trying once to write
// what it kept, and tells the handler.
func (l *loop) closeConn(k *Conn, err error) {
	if len(k.pend) > 0 && !errors.Is(err, unix.EPIPE) {
		_ = k.flushPend()
	}
	k.pend = nil
	k.pendLen.Store(0)
	delete(l.conns, int32(k.fd))
	k.mu.Lock()
	k.state = StateClosed
	_ = unix.Close(k.fd)
	k.mu.Unlock()
	if errors.Is(err, io.EOF) || errors.Is(err, unix.ECONNRESET) {
		err = nil
	}
	k.h.Closed(err)
}

// park lets go of k while the handler runs a request on a goroutine
// (Handler.Park): the socket leaves the epoll set. The handler gives k
// back with Resume.
func (l *loop) park(k *Conn) {
	delete(l.conns, int32(k.fd))
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, k.fd, nil); err != nil {
		l.closeConn(k, err)
		return
	}
	k.out = false
	k.mu.Lock()
	k.state = StateParked
	k.mu.Unlock()
	k.h.Park()
}

// unpark takes back a connection Resume gave back: it serves it again
// (unless it was closed meanwhile) and lets the handler run the rest of
// its read buffer.
func (l *loop) unpark(k *Conn) {
	k.mu.Lock()
	killed := k.closeReq
	k.state = StateLoop
	k.mu.Unlock()
	l.conns[int32(k.fd)] = k
	if killed {
		l.closeConn(k, nil)
		return
	}
	l.watchAndServe(k)
}

// watchAndServe puts k back into the epoll set (reading) and lets the
// handler run what its buffer holds: the end of unpark and of an
// unsuspend whose connection was muted.
func (l *loop) watchAndServe(k *Conn) {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(k.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, k.fd, &ev); err != nil {
		l.closeConn(k, err)
		return
	}
	next, err := k.h.Serve(false)
	l.then(k, next, err)
}

// handOff gives k to Go's poller for good: the socket leaves the loop,
// a duplicate of it becomes k's inner connection (wrapped by Host.Wrap),
// and the handler gets the output the loop kept (Handler.HandedOff).
func (l *loop) handOff(k *Conn) {
	delete(l.conns, int32(k.fd))
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, k.fd, nil)
	f := os.NewFile(uintptr(k.fd), "client")
	nc, err := net.FileConn(f)
	_ = f.Close() // k.fd; nc has its own
	var inner net.Conn
	if err != nil {
		// A connection that fails every read and write: the handler's
		// goroutine ends at once.
		a, b := net.Pipe()
		_, _ = a.Close(), b.Close()
		inner = a
	} else {
		inner = l.host.Wrap(nc)
	}
	k.mu.Lock()
	k.inner, k.state = inner, StateHandedOff
	killed := k.closeReq
	k.mu.Unlock()
	if killed {
		_ = inner.Close()
	}
	pend := k.pend
	k.pend = nil
	k.pendLen.Store(0)
	k.h.HandedOff(pend, err)
}

// sweepIdle closes the connections idle for longer than Host.IdleTimeout
// (not those waiting to write: a goroutine blocked in Write has no read
// deadline either).
func (l *loop) sweepIdle() {
	limit := l.host.IdleTimeout()
	if limit <= 0 {
		return
	}
	for _, k := range l.conns {
		if !k.out && !k.susp && l.now.Sub(k.lastRead) > limit {
			l.closeConn(k, ErrIdleTimeout)
		}
	}
}
