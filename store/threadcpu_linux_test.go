package store

import "golang.org/x/sys/unix"

// threadCPU returns the calling thread's user and system CPU time in ns,
// or -1 if it cannot be read.
func threadCPU() int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
