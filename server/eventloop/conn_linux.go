//go:build linux

package eventloop

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Conn is the net.Conn of a connection a loop serves, and stays it after
// a hand-off (then it forwards to inner). Read and Write are the owner's
// (the loop, the goroutine of a parked request while it runs, the
// connection's goroutine after a hand-off); Close, Pending and State are
// safe from any goroutine.
type Conn struct {
	l            *loop
	h            Handler
	prep         Preparer // h's, if it is one
	fd           int
	laddr, raddr net.Addr

	// Loop only.
	pend     []byte    // output the socket did not take yet
	out      bool      // waiting for EPOLLOUT (not reading)
	drainEnd bool      // close once pend is written (End)
	susp     bool      // suspended (Suspend) until Resume
	muted    bool      // suspended and out of the epoll set: bytes came meanwhile
	lastRead time.Time // for Host.IdleTimeout

	pendLen atomic.Int64 // len(pend), for Pending from any goroutine

	mu       sync.Mutex // protects state, inner, closeReq, and fd's life
	state    State
	inner    net.Conn // StateHandedOff: written once before the new owner starts
	closeReq bool     // Close was called while the loop served it
}

// Start gives the adopted connection to its loop, which serves it from
// now on (unless it was closed meanwhile: then Handler.Closed).
func (k *Conn) Start() {
	l := k.l
	l.mu.Lock()
	l.inbox = append(l.inbox, k)
	l.mu.Unlock()
	l.wake()
}

// Resume gives a parked connection back to its loop; the handler calls
// it from the goroutine Handler.Park started, once the request has run.
// If the loops have stopped, it closes the connection and calls
// Handler.Closed itself. For a suspended connection (Suspend) any
// goroutine calls it, once; if the connection was closed meanwhile it
// does nothing.
func (k *Conn) Resume() {
	l := k.l
	l.mu.Lock()
	if !l.stopping {
		l.resumed = append(l.resumed, k)
		// An awake loop takes resumed before it waits (takeResumed): a
		// Resume from a Watcher's Ready on the loop itself, or while the
		// loop serves, costs no eventfd write and no second wake-up.
		tell := !l.awake && len(l.resumed) == 1 && len(l.inbox) == 0 && len(l.closing) == 0
		l.mu.Unlock()
		if tell { // else the loop has been told already and not yet looked
			l.wake()
		}
		return
	}
	l.mu.Unlock()
	k.mu.Lock()
	if k.state != StateParked { // suspended: closed with the loop's others
		k.mu.Unlock()
		return
	}
	k.state = StateClosed
	_ = unix.Close(k.fd)
	k.mu.Unlock()
	k.h.Closed(nil)
}

// Pending is the output the loop keeps for the connection, not yet
// written (CLIENT LIST omem).
func (k *Conn) Pending() int64 { return k.pendLen.Load() }

// State is where the socket stands now.
func (k *Conn) State() State {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.state
}

// Loop is the index of the loop that serves the connection, in [0,
// Set.Len()).
func (k *Conn) Loop() int { return k.l.id }

// Read reads once, without waiting: ErrWouldBlock if nothing is there.
// The socket's reads and writes are sockRead and sockWrite (sys_linux.go):
// raw system calls, or package syscall's under the race detector.
func (k *Conn) Read(p []byte) (int, error) {
	if k.inner != nil {
		return k.inner.Read(p)
	}
	for {
		n, err := sockRead(k.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, ErrWouldBlock
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		k.lastRead = k.l.now
		k.l.host.CountRead(n)
		return n, nil
	}
}

// Write writes p, or on a loop what the socket takes and keeps the rest
// for the loop to write once it can (it reports p written).
func (k *Conn) Write(p []byte) (int, error) {
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
		k.l.host.CountWrite(n)
		off += n
	}
	return len(p), nil
}

// flushPend writes what Write kept; it returns with pend empty, or with
// the socket full.
func (k *Conn) flushPend() error {
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
		k.l.host.CountWrite(n)
		k.pend = k.pend[n:]
		k.pendLen.Store(int64(len(k.pend)))
	}
	k.pend = nil
	return nil
}

// Close closes the connection: on a loop, the loop closes it (after
// trying once to write what is kept), soon; a parked one is closed when
// it comes back.
func (k *Conn) Close() error {
	k.mu.Lock()
	switch k.state {
	case StateNew:
		k.state = StateClosed
		k.mu.Unlock()
		return unix.Close(k.fd)
	case StateLoop:
		ask := !k.closeReq
		k.closeReq = true
		k.mu.Unlock()
		if ask {
			k.l.requestClose(k)
		}
		return nil
	case StateHandedOff:
		inner := k.inner
		k.mu.Unlock()
		return inner.Close()
	case StateParked: // the loop closes it when it comes back
		k.closeReq = true
	}
	k.mu.Unlock()
	return nil
}

// LocalAddr is the socket's local address.
func (k *Conn) LocalAddr() net.Addr { return k.laddr }

// RemoteAddr is the socket's peer address.
func (k *Conn) RemoteAddr() net.Addr { return k.raddr }

// SetDeadline and its friends act after a hand-off only: a loop never
// waits on a read or a write.
func (k *Conn) SetDeadline(t time.Time) error {
	if k.inner != nil {
		return k.inner.SetDeadline(t)
	}
	return nil
}

// SetReadDeadline: see SetDeadline.
func (k *Conn) SetReadDeadline(t time.Time) error {
	if k.inner != nil {
		return k.inner.SetReadDeadline(t)
	}
	return nil
}

// SetWriteDeadline: see SetDeadline.
func (k *Conn) SetWriteDeadline(t time.Time) error {
	if k.inner != nil {
		return k.inner.SetWriteDeadline(t)
	}
	return nil
}
