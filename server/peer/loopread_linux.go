//go:build linux

package peer

import (
	"errors"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/cached/cached/server/eventloop"
)

// errAgain is readFD's "nothing to read now".
var errAgain = unix.EAGAIN

// dupSocket returns a non-blocking close-on-exec duplicate of nc's socket
// for an event loop to read.
func dupSocket(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return -1, errors.New("peer: not a socket")
	}
	return eventloop.DupSocket(sc)
}

// shutdownSocket ends nc's socket both ways before it is closed, so that
// a loop reading a duplicate of it (whose file stays open) sees the end.
func shutdownSocket(nc net.Conn) {
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			_ = rc.Control(func(s uintptr) { _ = unix.Shutdown(int(s), unix.SHUT_RDWR) })
		}
	}
}

func closeFD(fd int) { _ = unix.Close(fd) }

// readFD reads once from the non-blocking fd: errAgain if nothing is
// there. Raw (no entersyscall, as the event loops' own reads) unless the
// race detector is on, for whom package syscall's Read marks the
// happens-before edge through the socket.
func readFD(fd int, p []byte) (int, error) {
	for {
		var n int
		var err error
		if rawReads {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			n = int(r)
			if e != 0 {
				err = e
			}
		} else {
			n, err = syscall.Read(fd, p)
		}
		if err == unix.EINTR {
			continue
		}
		return n, err
	}
}

// rawWriter writes once, without waiting, to a net.Conn's socket through
// its RawConn (which keeps the descriptor open meanwhile); its callback
// is made once, so a write allocates nothing.
type rawWriter struct {
	rc  syscall.RawConn
	fn  func(fd uintptr) bool
	p   []byte
	n   int
	err error
}

// write writes what the socket takes of p now: n < len(p) with a nil
// error or errAgain if it did not take all.
func (w *rawWriter) write(nc net.Conn, p []byte) (int, error) {
	if w.rc == nil {
		sc, ok := nc.(syscall.Conn)
		if !ok {
			return 0, errAgain // the writer writes it
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			return 0, err
		}
		w.rc = rc
		w.fn = func(fd uintptr) bool {
			w.n, w.err = 0, nil
			for w.n < len(w.p) {
				n, err := writeFD(int(fd), w.p[w.n:])
				if err == unix.EINTR {
					continue
				}
				if err != nil {
					w.err = err
					break
				}
				w.n += n
			}
			return true // never wait in Go's poller
		}
	}
	w.p = p
	if err := w.rc.Write(w.fn); err != nil {
		w.p = nil
		return 0, err
	}
	w.p = nil
	return w.n, w.err
}

// writeFD writes once to the non-blocking fd (raw as readFD).
func writeFD(fd int, p []byte) (int, error) {
	if !rawReads {
		return syscall.Write(fd, p)
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
