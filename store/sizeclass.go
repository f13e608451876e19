package store

// classGrowth is the ratio between neighbouring size classes (in 1/100)
// above 64 bytes. A value of n bytes takes the smallest class that holds
// it, so it wastes under 8% of its item (1 byte at most below 64 bytes,
// where classes are 2 bytes apart). Measured by TestSlabClassWaste.
const classGrowth = 108

// slabClasses are the item sizes: 16 to 64 in steps of 2 bytes, then each
// ~8% above the last (rounded up to 8 bytes), up to largeMin. Small items
// are most of a cache's keys (a 16-byte key with a 32-byte value packs
// into 50 bytes with its header): steps of 4 bytes rounded it to 52, 2
// bytes of every such key.
var slabClasses = makeSlabClasses()

func makeSlabClasses() []uint32 {
	var cs []uint32
	for c := uint32(16); ; {
		cs = append(cs, c)
		if c >= largeMin {
			return cs
		}
		next := c + 2
		if c >= 64 {
			next = max(c+8, (c*classGrowth/100+7)&^7)
		}
		c = min(next, largeMin)
	}
}

// classUp2[(n+1)/2] is the class of n <= 1024 bytes (every class up to
// there is a multiple of 2): a table lookup on SET's path instead of a search.
var classUp2 = func() (t [1024/2 + 1]uint8) {
	for i := range t {
		t[i] = searchClassOf(uint32(i * 2))
	}
	return t
}()

// classOf returns the smallest class holding n bytes (n <= largeMin).
func classOf(n uint32) uint8 {
	if n <= 1024 {
		return classUp2[(n+1)>>1]
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
