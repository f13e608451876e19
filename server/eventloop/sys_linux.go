//go:build linux

package eventloop

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The event loops' system calls on their non-blocking sockets and epoll
// instance. None of them can wait, so in a build without the race
// detector they are raw: no entersyscall, so the scheduler's monitor
// (sysmon) never sees the loop's P sitting in a system call and never
// hands it to another thread. With the ordinary syscall.Read on a loaded
// machine, a read or write that lost the CPU for more than sysmon's 20 µs
// tick got its P retaken: a futex wake-up of another thread, a context
// switch, and sysmon kept polling every 20 µs (docs/performance.md, stop
// 16: 0.76 nanosleeps and 0.19 futex calls per GET -P 16 batch). With
// the race detector they go through package syscall, whose Read and
// Write tell the detector about the happens-before edge through the
// socket (as Go's net package does for a goroutine's connection).

// sockRead reads once from fd.
func sockRead(fd int, p []byte) (int, error) {
	if !loopRawSyscalls || len(p) == 0 {
		return syscall.Read(fd, p)
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// sockWrite writes once to fd.
func sockWrite(fd int, p []byte) (int, error) {
	if !loopRawSyscalls || len(p) == 0 {
		return syscall.Write(fd, p)
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// epollPoll takes the events epfd has ready now, without waiting.
func epollPoll(epfd int, events []unix.EpollEvent) (int, error) {
	if !loopRawSyscalls || len(events) == 0 {
		return unix.EpollWait(epfd, events, 0)
	}
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])),
		uintptr(len(events)), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}
