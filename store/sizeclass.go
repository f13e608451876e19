package store

// classGrowth is the ratio between neighbouring size classes (in 1/100).
// A value of n bytes takes the smallest class that holds it, so it wastes
// under 8% of its item (4 bytes at most below 64 bytes); 108 keeps the class
// count (and so the partly filled slabs per shard) at 108. Measured by
// TestSlabClassWaste: 3.6% of item bytes on average over sizes 16..131072.
const classGrowth = 108

// slabClasses are the item sizes: 16 to 64 in steps of 4 bytes, then each
// ~8% above the last (rounded up to 8 bytes), up to largeMin.
var slabClasses = makeSlabClasses()

func makeSlabClasses() []uint32 {
	var cs []uint32
	for c := uint32(16); ; {
		cs = append(cs, c)
		if c >= largeMin {
			return cs
		}
		next := c + 4
		if c >= 64 {
			next = max(c+8, (c*classGrowth/100+7)&^7)
		}
		c = min(next, largeMin)
	}
}

// classUp4[(n+3)/4] is the class of n <= 1024 bytes (every class up to
// there is a multiple of 4): a table lookup on SET's path instead of a search.
var classUp4 = func() (t [1024/4 + 1]uint8) {
	for i := range t {
		t[i] = searchClassOf(uint32(i * 4))
	}
	return t
}()

// classOf returns the smallest class holding n bytes (n <= largeMin).
func classOf(n uint32) uint8 {
	if n <= 1024 {
		return classUp4[(n+3)>>2]
	}
	return searchClassOf(n)
}

// searchClassOf is classOf by binary search.
func searchClassOf(n uint32) uint8 {
	lo, hi := 0, len(slabClasses)-1
	for lo < hi {
		m := (lo + hi) / 2
		if slabClasses[m] >= n {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return uint8(lo)
}

// allocSize returns the bytes an allocation of room for n bytes really
// takes: the size of the class that holds n and the item's header byte, or
// n for a large value (its own []byte of exactly n).
func allocSize(n uint64) uint64 {
	if n < largeMin {
		return uint64(slabClasses[classOf(uint32(n)+1)])
	}
	return n
}
