package set

import (
	"encoding/binary"
	"math"
	"slices"
)

// intset is Redis's intset: sorted distinct integers packed little-endian in
// the smallest width (2, 4 or 8 bytes) that holds them all; inserting a
// wider value upgrades every element. The zero value is empty.
type intset struct {
	b []byte
	w int // bytes per element; 0 while empty
}

func widthOf(v int64) int {
	switch {
	case v >= math.MinInt16 && v <= math.MaxInt16:
		return 2
	case v >= math.MinInt32 && v <= math.MaxInt32:
		return 4
	}
	return 8
}

func (is *intset) len() int {
	if is.w == 0 {
		return 0
	}
	return len(is.b) / is.w
}

func (is *intset) at(i int) int64 {
	p := is.b[i*is.w:]
	switch is.w {
	case 2:
		return int64(int16(binary.LittleEndian.Uint16(p)))
	case 4:
		return int64(int32(binary.LittleEndian.Uint32(p)))
	}
	return int64(binary.LittleEndian.Uint64(p))
}

func (is *intset) put(i int, v int64) {
	p := is.b[i*is.w:]
	switch is.w {
	case 2:
		binary.LittleEndian.PutUint16(p, uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(p, uint32(v))
	default:
		binary.LittleEndian.PutUint64(p, uint64(v))
	}
}

// search returns v's index, or where it would be inserted.
func (is *intset) search(v int64) (int, bool) {
	lo, hi := 0, is.len()
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if is.at(mid) < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < is.len() && is.at(lo) == v
}

// insert adds v and reports whether it was new.
func (is *intset) insert(v int64) bool {
	if w := widthOf(v); w > is.w {
		is.upgrade(w)
	}
	i, found := is.search(v)
	if found {
		return false
	}
	is.b = append(is.b, make([]byte, is.w)...) // no allocation within capacity
	copy(is.b[(i+1)*is.w:], is.b[i*is.w:])
	is.put(i, v)
	return true
}

// upgrade re-encodes every element with width w.
func (is *intset) upgrade(w int) {
	old := *is
	n := old.len()
	*is = intset{b: make([]byte, n*w, (n+1)*w), w: w}
	for i := range n {
		is.put(i, old.at(i))
	}
}

// remove deletes v and reports whether it was present.
func (is *intset) remove(v int64) bool {
	if is.w == 0 || widthOf(v) > is.w {
		return false
	}
	i, found := is.search(v)
	if found {
		is.b = slices.Delete(is.b, i*is.w, (i+1)*is.w)
		if cap(is.b) > 64 && cap(is.b) > 2*len(is.b) {
			is.b = append(make([]byte, 0, len(is.b)+len(is.b)/4), is.b...)
		}
	}
	return found
}

func (is *intset) clone() intset { return intset{b: slices.Clone(is.b), w: is.w} }
