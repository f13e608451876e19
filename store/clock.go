package store

import (
	"sync/atomic"
	"time"
)

// The process clock. Reading the wall clock (time.Now) costs two clock
// reads; the monotonic clock one. Mono reads only the monotonic clock, and
// MonoMs turns such a reading into Unix milliseconds with an offset from
// the wall clock that is checked again at most once a second, so that a
// step of the system clock (settimeofday, a VM resumed) is followed within
// a second while a command reads the clock once: the server takes one Mono
// per command for its latency statistics and hands MonoMs of it to the
// store (LockAt, GetAt, SetAt), so every TTL of a command is computed from
// that command's own timestamp.

// clockBase is the origin of Mono: its monotonic reading is 0.
var clockBase = time.Now()

// wallOffset is the wall clock in Unix ns minus Mono, as last measured;
// wallCheck is the Mono reading after which it is measured again.
var wallOffset, wallCheck atomic.Int64

func init() { wallOffset.Store(clockBase.UnixNano()) }

// wallRecheck is how often MonoMs measures the wall clock again.
const wallRecheck = int64(time.Second)

// Mono returns nanoseconds of the monotonic clock since the process
// started: one clock read. Differences of two readings are durations.
func Mono() int64 { return int64(time.Since(clockBase)) }

// MonoMs returns the wall clock in Unix milliseconds at the Mono reading
// mono.
func MonoMs(mono int64) int64 {
	if mono > wallCheck.Load() {
		remeasure(mono)
	}
	return (wallOffset.Load() + mono) / int64(time.Millisecond)
}

// remeasure measures the wall clock's offset from Mono again; of the
// callers that find it due, one does it.
func remeasure(mono int64) {
	next := wallCheck.Load()
	if mono <= next || !wallCheck.CompareAndSwap(next, mono+wallRecheck) {
		return
	}
	now := time.Now()
	wallOffset.Store(now.UnixNano() - int64(now.Sub(clockBase)))
}

// MonoUnixNano returns the wall clock in Unix ns at the Mono reading mono,
// as last measured (MonoMs measures it again when due).
func MonoUnixNano(mono int64) int64 { return wallOffset.Load() + mono }
