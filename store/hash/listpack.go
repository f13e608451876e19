package hash

import (
	"encoding/binary"
	"slices"
)

// Listpack is the compact encoding of small collections, after Redis's
// listpack: one byte slice of entries, each a uvarint length and the bytes,
// in insertion order. Lookups scan it linearly, which is fast while it
// stays within a few kilobytes. The zero value is empty.
type Listpack []byte

// Entry returns the entry at offset off and the offset of the next one.
func (lp Listpack) Entry(off int) (b []byte, next int) {
	l, n := binary.Uvarint(lp[off:])
	off += n
	return lp[off : off+int(l) : off+int(l)], off + int(l)
}

// Append appends entries. A full listpack grows by a quarter (rounded up
// to a Go size class), not by doubling, so a listpack filled one entry at
// a time has at most a quarter of slack; see Grow for batches.
func (lp Listpack) Append(entries ...[]byte) Listpack {
	need := 0
	for _, e := range entries {
		need += EntryLen(e)
	}
	if len(lp)+need > cap(lp) {
		lp = slices.Grow(lp, max(need, len(lp)/4))
	}
	for _, e := range entries {
		lp = binary.AppendUvarint(lp, uint64(len(e)))
		lp = append(lp, e...)
	}
	return lp
}

// EntryLen is the bytes an entry holding b takes in a listpack.
func EntryLen(b []byte) int { return uvarintLen(len(b)) + len(b) }

// Grow makes room for n more bytes: the capacity becomes the size class of
// what is needed, so appending them copies nothing.
func (lp Listpack) Grow(n int) Listpack { return slices.Grow(lp, n) }

// Find returns the offset of the first entry equal to b at an index i with
// i%stride == 0 (stride 2 searches the fields of field-value pairs), or -1.
func (lp Listpack) Find(b []byte, stride int) int {
	for off, i := 0, 0; off < len(lp); i++ {
		e, next := lp.Entry(off)
		if i%stride == 0 && string(e) == string(b) {
			return off
		}
		off = next
	}
	return -1
}

// Replace replaces the entry at off with b.
func (lp Listpack) Replace(off int, b []byte) Listpack {
	old, next := lp.Entry(off)
	if len(old) == len(b) {
		copy(lp[next-len(b):next], b)
		return lp
	}
	var hdr [binary.MaxVarintLen64]byte
	h := binary.PutUvarint(hdr[:], uint64(len(b)))
	tail := len(lp) - next
	newLen := off + h + len(b) + tail
	if newLen > len(lp) {
		lp = append(lp, make([]byte, newLen-len(lp))...)
		copy(lp[off+h+len(b):], lp[next:next+tail])
	} else {
		copy(lp[off+h+len(b):], lp[next:next+tail])
		lp = lp[:newLen]
	}
	copy(lp[off:], hdr[:h])
	copy(lp[off+h:], b)
	return lp
}

// Remove removes n entries starting at off. When the listpack is left using
// less than half of its capacity, it moves to a smaller slice, as Redis
// reallocates a shrunk listpack.
func (lp Listpack) Remove(off, n int) Listpack {
	end := off
	for range n {
		_, end = lp.Entry(end)
	}
	lp = append(lp[:off], lp[end:]...)
	if cap(lp) > 64 && cap(lp) > 2*len(lp) {
		lp = append(slices.Grow(Listpack(nil), len(lp)), lp...)
	}
	return lp
}

// Offset returns the offset of the entry with index i (counting from 0).
func (lp Listpack) Offset(i int) int {
	off := 0
	for range i {
		_, off = lp.Entry(off)
	}
	return off
}
