//go:build linux

package eventloop

import (
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// byteWatcher reads a socket on a loop: each byte read resumes resume (if
// set) from the loop's goroutine; a 'q' ends the watching.
type byteWatcher struct {
	fd      int
	resume  func()
	reads   atomic.Int32
	ticks   atomic.Int32
	stopped atomic.Int32
}

func (w *byteWatcher) Ready() bool {
	var b [64]byte
	n, err := unix.Read(w.fd, b[:])
	if err == unix.EAGAIN {
		return false
	}
	if err != nil || n == 0 {
		return true
	}
	w.reads.Add(1)
	if w.resume != nil {
		w.resume()
	}
	return b[n-1] == 'q'
}

func (w *byteWatcher) Tick(time.Time) bool { w.ticks.Add(1); return false }

func (w *byteWatcher) Stopped() { w.stopped.Add(1) }

// socketPair returns a non-blocking socket for Watch and its other end.
func socketPair(t *testing.T) (watched, other int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = unix.Close(fds[1]) })
	return fds[0], fds[1]
}

// TestWatchResumesOnLoop: a watched socket's Ready runs on the loop and
// may Resume a suspended connection of the same loop, which is then
// served (RESUMED, and what it sent meanwhile); Tick comes about once a
// second; Ready's done ends the watching with one Stopped and closes the
// socket (the other end reads EOF).
func TestWatchResumesOnLoop(t *testing.T) {
	f := newFixture(t, 1)
	a := f.dial()
	wfd, other := socketPair(t)
	w := &byteWatcher{fd: wfd, resume: a.h.k.Resume}
	a.send(t, "PING\nWSUSPEND\nPING\n")
	a.expect(t, "PONG")
	if err := f.set.Watch(wfd, w); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Write(other, []byte("x")); err != nil {
		t.Fatal(err)
	}
	a.expect(t, "RESUMED", "PONG")
	if w.reads.Load() != 1 {
		t.Fatalf("%d reads, want 1", w.reads.Load())
	}
	f.waitUntil(func() bool { return w.ticks.Load() > 0 }, func() string { return "no Tick" })
	w.resume = nil // read on the loop only: set before the next write
	if _, err := unix.Write(other, []byte("q")); err != nil {
		t.Fatal(err)
	}
	f.waitUntil(func() bool { return w.stopped.Load() == 1 }, func() string { return "not stopped after done" })
	var b [1]byte
	f.waitUntil(func() bool { n, err := unix.Read(other, b[:]); return n == 0 && err == nil }, func() string { return "the watched socket is still open" })
	f.set.Stop()
	if n := w.stopped.Load(); n != 1 {
		t.Fatalf("Stopped %d times, want 1", n)
	}
}

// TestWatchStop: the loops' Stop ends every watching with one Stopped;
// Watch after Stop fails and leaves the socket to the caller.
func TestWatchStop(t *testing.T) {
	f := newFixture(t, 2)
	var ws [3]*byteWatcher
	for i := range ws {
		fd, _ := socketPair(t)
		ws[i] = &byteWatcher{fd: fd}
		if err := f.set.Watch(fd, ws[i]); err != nil {
			t.Fatal(err)
		}
	}
	f.set.Stop()
	for i, w := range ws {
		if n := w.stopped.Load(); n != 1 {
			t.Errorf("watcher %d: Stopped %d times, want 1", i, n)
		}
	}
	fd, _ := socketPair(t)
	if err := f.set.Watch(fd, &byteWatcher{fd: fd}); err == nil {
		t.Fatal("Watch after Stop succeeded")
	}
	if err := unix.Close(fd); err != nil {
		t.Fatalf("the socket of a failed Watch is not the caller's: %v", err)
	}
}
