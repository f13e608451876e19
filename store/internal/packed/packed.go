// Package packed holds what store/hash and store/zset share about their
// listpack encodings: a byte slice in 16 bytes instead of 24, for the
// collection headers (with it a header fits
// Go's 32-byte size class), and the process-wide thresholds.
package packed

import (
	"sync/atomic"
	"unsafe"
)

// Bytes is a byte slice kept as a pointer and 32-bit length and capacity
// (a listpack never nears 4 GiB). The zero value is empty.
type Bytes struct {
	p    *byte
	n, c uint32
}

// Slice returns the slice.
func (pk Bytes) Slice() []byte {
	if pk.p == nil {
		return nil
	}
	return unsafe.Slice(pk.p, pk.c)[:pk.n]
}

// Of stores b; its length and capacity must fit 32 bits.
func Of(b []byte) Bytes {
	if cap(b) == 0 {
		return Bytes{}
	}
	return Bytes{p: unsafe.SliceData(b), n: uint32(len(b)), c: uint32(cap(b))}
}

// Limits are a listpack encoding's thresholds (entries, and bytes of one
// element), read on every write: store/hash and store/zset each keep one
// for the whole process, as redis-server's configuration is server-wide.
type Limits struct{ entries, value atomic.Int64 }

// Set replaces both thresholds.
func (l *Limits) Set(entries, value int) {
	l.entries.Store(int64(entries))
	l.value.Store(int64(value))
}

// Entries is the most elements a listpack may hold.
func (l *Limits) Entries() int { return int(l.entries.Load()) }

// Value is the longest element a listpack may hold.
func (l *Limits) Value() int { return int(l.value.Load()) }
