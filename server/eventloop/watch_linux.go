//go:build linux

package eventloop

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// errStopping is what Watch returns once the loops are stopping.
var errStopping = errors.New("eventloop: event loops stopping")

// watch is a socket of the user's that a loop reads for it (Set.Watch).
type watch struct {
	fd int
	w  Watcher
}

// Watch has one of the loops (round robin) watch fd for reading on w's
// behalf: the loop calls w.Ready on its goroutine whenever fd has bytes
// (or has failed), and w.Tick once a second, until either reports done,
// or the loops stop; then it calls w.Stopped and closes fd. From the call
// on the loop owns fd (a duplicate the caller made for it); if Watch
// fails (the loops are stopping) fd is the caller's still. Safe from any
// goroutine.
func (s *Set) Watch(fd int, w Watcher) error {
	if s == nil {
		return errNoLoops
	}
	l := s.loops[s.next.Add(1)%uint32(len(s.loops))]
	l.mu.Lock()
	if l.stopping {
		l.mu.Unlock()
		return errStopping
	}
	l.watchIn = append(l.watchIn, &watch{fd: fd, w: w})
	l.mu.Unlock()
	l.wake()
	return nil
}

// addWatch starts watching what Watch handed over.
func (l *loop) addWatch(wt *watch) {
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wt.fd)}
	if err := unix.EpollCtl(l.epfd, unix.EPOLL_CTL_ADD, wt.fd, &ev); err != nil {
		wt.w.Stopped()
		_ = unix.Close(wt.fd)
		return
	}
	if l.watches == nil {
		l.watches = make(map[int32]*watch)
	}
	l.watches[int32(wt.fd)] = wt
}

// endWatch stops watching wt: Watcher.Stopped, then its fd is closed.
func (l *loop) endWatch(wt *watch) {
	delete(l.watches, int32(wt.fd))
	_ = unix.EpollCtl(l.epfd, unix.EPOLL_CTL_DEL, wt.fd, nil)
	wt.w.Stopped()
	_ = unix.Close(wt.fd)
}

// tickWatches calls every watcher's Tick (once a second).
func (l *loop) tickWatches(now time.Time) {
	for _, wt := range l.watches {
		if wt.w.Tick(now) {
			l.endWatch(wt)
		}
	}
}
