// Package bigcopy copies large byte slices in bounded pieces.
//
// One copy or append of hundreds of megabytes is a single runtime memmove,
// and the Go scheduler cannot preempt a goroutine inside it. When the
// collector then needs every goroutine at a safe point (to finish marking
// or to stop the world), every goroutine of the process that allocates
// (gossip probes, replication links, other clients) waits until that copy
// ends: goroutine dumps of a node snapshotting a 512 MB value to a replica
// showed memberlist's listeners waiting in gcMarkDone while the node
// stalled for seconds and the others declared it dead. A loop of
// smaller copies is not enough: nearly all its time is spent inside
// memmove, where preemption signals are ignored, and memmove has no
// preemption check of its own. So the copy yields (runtime.Gosched) after
// every piece, which is a safe point. Small slices take the built-in path
// unchanged.
package bigcopy

import (
	"runtime"
	"unsafe"
)

// Piece is the most bytes one memmove copies: a few tens of microseconds.
const Piece = 256 << 10

// Copy is the built-in copy(dst, src), done in pieces of at most Piece
// bytes with a yield after each. Overlapping slices are copied as the
// built-in does.
func Copy(dst, src []byte) int {
	n := min(len(dst), len(src))
	if n <= Piece {
		return copy(dst, src)
	}
	d := uintptr(unsafe.Pointer(unsafe.SliceData(dst)))
	s := uintptr(unsafe.Pointer(unsafe.SliceData(src)))
	if d > s && d < s+uintptr(n) {
		// dst starts inside src: copy from the end, so no piece
		// overwrites source bytes not copied yet.
		for hi := n; hi > 0; {
			lo := max(hi-Piece, 0)
			copy(dst[lo:hi], src[lo:hi])
			runtime.Gosched()
			hi = lo
		}
		return n
	}
	for lo := 0; lo < n; lo += Piece {
		hi := min(lo+Piece, n)
		copy(dst[lo:hi], src[lo:hi])
		runtime.Gosched()
	}
	return n
}

// Append is append(dst, src...), for large src growing dst at most once
// (by append's rule: exactly to fit when that more than doubles it, else
// by a quarter at a time) and copying in pieces.
// Whatever is appended after src needs room reserved with Grow first: a
// built-in append to a full slice of this size copies it in one memmove.
func Append(dst, src []byte) []byte {
	if len(src) <= Piece {
		return append(dst, src...)
	}
	dst = Grow(dst, len(src))
	n := len(dst)
	dst = dst[:n+len(src)]
	Copy(dst[n:], src)
	return dst
}

// Grow returns dst with room for at least n more bytes. When that needs a
// new array of more than Piece bytes, it is grown once (by append's rule,
// as Append) and dst's bytes are copied in pieces; smaller growth is left
// to append.
func Grow(dst []byte, n int) []byte {
	need := len(dst) + n
	if need <= cap(dst) || need <= Piece {
		return dst
	}
	// make zeroes a large allocation in pieces itself (or gets zeroed
	// pages from the OS), so it is preemptible too.
	grown := make([]byte, len(dst), growCap(cap(dst), need))
	Copy(grown, dst)
	return grown
}

func growCap(old, need int) int {
	if need > 2*old {
		return need
	}
	c := old
	for c < need {
		c += c / 4
	}
	return c
}
