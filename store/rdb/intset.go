package rdb

import (
	"encoding/binary"
	"slices"
)

// Redis's intset blob (RDB type 11): a 4-byte element width (2, 4 or 8), a
// 4-byte count, then the integers little endian, strictly ascending.

// isWalk validates an intset blob and calls fn with each integer.
func isWalk(b []byte, fn func(v int64) bool) bool {
	if len(b) < 8 {
		return false
	}
	w := binary.LittleEndian.Uint32(b)
	n := uint64(binary.LittleEndian.Uint32(b[4:]))
	if (w != 2 && w != 4 && w != 8) || uint64(len(b)-8) != n*uint64(w) {
		return false
	}
	for i := range int(n) {
		e, _, _ := lpInt(b[7+i*int(w):], int(w)) // lpInt skips one leading byte
		if i > 0 {
			if p, _, _ := lpInt(b[7+(i-1)*int(w):], int(w)); p.num >= e.num {
				return false
			}
		}
		if !fn(e.num) {
			return false
		}
	}
	return true
}

// appendIntset appends the intset blob of vs (sorted here) to dst.
func appendIntset(dst []byte, vs []int64) []byte {
	slices.Sort(vs)
	w := 2
	for _, v := range vs {
		switch {
		case v < -2147483648 || v > 2147483647:
			w = 8
		case (v < -32768 || v > 32767) && w < 4:
			w = 4
		}
	}
	dst = binary.LittleEndian.AppendUint32(dst, uint32(w))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(vs)))
	for _, v := range vs {
		dst = appendLE(dst, uint64(v), w)
	}
	return dst
}
