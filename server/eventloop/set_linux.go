//go:build linux

package eventloop

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// Set is a group of event loops, each a goroutine with its own epoll
// instance; a new socket goes to the next one, round robin. Its methods
// are safe for concurrent use; those of a nil Set do nothing.
type Set struct {
	loops []*loop
	next  atomic.Uint32
	wg    sync.WaitGroup // the loops' goroutines
}

// errNoLoops is what Adopt returns on a nil Set.
var errNoLoops = errors.New("eventloop: no event loops")

// Start starts n event loops (at least one) that ask host what the
// package doc says. The caller must Stop the set.
func Start(n int, host Host) (*Set, error) {
	s := &Set{}
	for range max(n, 1) {
		l, err := newLoop(len(s.loops), host)
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.loops = append(s.loops, l)
		s.wg.Add(1)
		go l.run(&s.wg)
	}
	return s, nil
}

// Len is the number of loops.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return len(s.loops)
}

// Adopt takes tc's socket out of Go's poller for one of the loops: it
// closes tc and returns the Conn that is the socket from now on, served
// by h once Started. On an error tc is left as it was.
func (s *Set) Adopt(tc *net.TCPConn, h Handler) (*Conn, error) {
	if s == nil {
		return nil, errNoLoops
	}
	fd, err := DupSocket(tc)
	if err != nil {
		return nil, err
	}
	l := s.loops[s.next.Add(1)%uint32(len(s.loops))]
	k := &Conn{l: l, h: h, fd: fd, laddr: tc.LocalAddr(), raddr: tc.RemoteAddr()}
	k.prep, _ = h.(Preparer)
	_ = tc.Close() // our duplicate keeps the socket open
	return k, nil
}

// DupSocket returns a non-blocking close-on-exec duplicate of sc's
// socket (a *net.TCPConn, say): what Adopt serves, and what a Watcher's
// owner hands to Watch.
func DupSocket(sc syscall.Conn) (int, error) {
	rc, err := sc.SyscallConn()
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

// Stop stops the loops and waits for them; the connections still on them
// are closed (Handler.Closed), and a parked connection is closed when its
// handler calls Resume.
func (s *Set) Stop() {
	if s == nil {
		return
	}
	for _, l := range s.loops {
		l.mu.Lock()
		l.stopping = true
		l.mu.Unlock()
		l.wake()
	}
	s.wg.Wait()
}
