// Package packed holds a byte slice in 16 bytes instead of 24, for the
// collection headers of store/hash and store/zset: with it a header fits
// Go's 32-byte size class.
package packed

import "unsafe"

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
