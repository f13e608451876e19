package store

import (
	"math/rand/v2"
	"testing"
)

// TestIndexAgainstMap inserts and removes random tags (many colliding on a
// few values, so probe runs wrap and overlap) and checks after every step
// that each entry is found at a position that holds it, that removed ones
// are gone, and that the load stays within its bounds.
func TestIndexAgainstMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	x := newIndex()
	live := map[uint32]uint32{} // rec -> tag
	next := uint32(1)
	check := func() {
		t.Helper()
		if x.n != len(live) {
			t.Fatalf("n = %d, want %d", x.n, len(live))
		}
		if x.n*maxLoadDen > len(x.slots)*maxLoadNum {
			t.Fatalf("load %d/%d above %d/%d", x.n, len(x.slots), maxLoadNum, maxLoadDen)
		}
		for rec, tag := range live {
			if x.position(tag, rec) < 0 {
				t.Fatalf("rec %d tag %#x lost (n %d, len %d)", rec, tag, x.n, len(x.slots))
			}
		}
	}
	tagFor := func() uint32 {
		switch rng.IntN(3) {
		case 0:
			return uint32(rng.IntN(4)) << 30 // crowd a few homes
		case 1:
			return ^uint32(rng.IntN(8)) // homes at the table's end: runs wrap
		}
		return rng.Uint32()
	}
	for step := range 20000 {
		grow := step < 12000
		if len(live) > 0 && (rng.IntN(3) == 0 || !grow) {
			for rec, tag := range live {
				p := x.position(tag, rec)
				x.removeAt(p)
				delete(live, rec)
				if x.position(tag, rec) >= 0 {
					t.Fatalf("rec %d still present after removal", rec)
				}
				break
			}
		} else {
			tag := tagFor()
			x.insert(tag, next)
			live[next] = tag
			next++
		}
		if step%97 == 0 || len(live) < 50 {
			check()
		}
	}
	check()
	if len(live) == 0 && len(x.slots) > 2*minShrinkSlots {
		t.Fatalf("empty index kept %d slots", len(x.slots))
	}
}

// TestIndexLoadAfterGrowth checks that a table filled by inserts only sits
// between 0.53 and 0.8 full at every size past the first few growths: the
// bytes per key the layout promises (docs/performance.md).
func TestIndexLoadAfterGrowth(t *testing.T) {
	x := newIndex()
	rng := rand.New(rand.NewPCG(1, 1))
	for i := uint32(1); i <= 200_000; i++ {
		x.insert(rng.Uint32(), i)
		if load := float64(x.n) / float64(len(x.slots)); i > 1000 && (load < 0.53 || load > 0.8) {
			t.Fatalf("%d keys: load %.3f out of [0.53, 0.8]", i, load)
		}
	}
}
