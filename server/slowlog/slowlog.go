// Package slowlog owns SLOWLOG's ring of the slowest recent commands, with
// Redis's limits on what an entry keeps of a command. The SLOWLOG commands
// and the threshold check on the request path are the server's.
package slowlog

import (
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Redis's limits on what a slowlog entry keeps of a command.
const (
	maxArgc   = 32
	maxArgLen = 128
)

// Entry is one logged command.
type Entry struct {
	ID     int64
	At     int64 // unix seconds
	Micros int64
	Args   []string
	Addr   string
	Name   string
}

// Log is SLOWLOG's ring of the slowest recent commands. Its threshold is
// read on every command without a lock; the entries are locked (rare
// path). The zero Log keeps nothing and logs every command until
// Configure.
type Log struct {
	threshold atomic.Int64 // nanoseconds; math.MaxInt64 when disabled (see Threshold)

	mu      sync.Mutex // protects the fields below
	maxLen  int
	nextID  int64
	entries []Entry // newest first
}

// Threshold returns how long a command must take to be logged
// (slowlog-log-slower-than; math.MaxInt64 when disabled).
func (l *Log) Threshold() time.Duration { return time.Duration(l.threshold.Load()) }

// Configure applies slowlog-log-slower-than (µs, negative disables) and
// slowlog-max-len.
func (l *Log) Configure(micros, maxLen int) {
	if micros < 0 {
		l.threshold.Store(math.MaxInt64)
	} else {
		l.threshold.Store(int64(micros) * int64(time.Microsecond))
	}
	l.mu.Lock()
	l.maxLen = maxLen
	if len(l.entries) > maxLen {
		l.entries = l.entries[:maxLen]
	}
	l.mu.Unlock()
}

// Add logs a command that took d, sent by the client at addr named name,
// copying (and, as Redis, trimming) its args. The caller checks Threshold.
func (l *Log) Add(args [][]byte, d time.Duration, addr, name string) {
	argc := min(len(args), maxArgc)
	kept := make([]string, argc)
	for i := 0; i < argc; i++ {
		switch a := args[i]; {
		case i == maxArgc-1 && len(args) > maxArgc:
			kept[i] = "... (" + strconv.Itoa(len(args)-maxArgc+1) + " more arguments)"
		case len(a) > maxArgLen:
			kept[i] = string(a[:maxArgLen]) + "... (" + strconv.Itoa(len(a)-maxArgLen) + " more bytes)"
		default:
			kept[i] = string(a)
		}
	}
	e := Entry{At: time.Now().Unix(), Micros: int64(d / time.Microsecond), Args: kept, Addr: addr, Name: name}
	l.mu.Lock()
	defer l.mu.Unlock()
	e.ID = l.nextID
	l.nextID++
	if l.maxLen <= 0 {
		return
	}
	if len(l.entries) >= l.maxLen {
		l.entries = l.entries[:l.maxLen-1]
	}
	l.entries = append(l.entries, Entry{})
	copy(l.entries[1:], l.entries)
	l.entries[0] = e
}

// Get returns up to n newest entries (n < 0: all).
func (l *Log) Get(n int) []Entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n < 0 || n > len(l.entries) {
		n = len(l.entries)
	}
	return append([]Entry(nil), l.entries[:n]...)
}

// Len returns the number of entries kept.
func (l *Log) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// Reset forgets every entry (entry IDs keep counting).
func (l *Log) Reset() {
	l.mu.Lock()
	l.entries = nil
	l.mu.Unlock()
}
