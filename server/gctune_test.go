package server

import (
	"math"
	"testing"
)

func TestGCPercentFor(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		live, floor, off int64
		want             int
	}{
		{0, 64 * mb, 0, 100},
		{10 * mb, 0, 0, 100},
		{32 * mb, 64 * mb, 0, 100}, // target 32 × 2 = 64 MB
		{100 * mb, 64 * mb, 0, 12}, // above the floor: live + 1/8
		{60 * mb, 64 * mb, 0, 12},  // live × 9/8 above the floor
		{1 << 40, 64 * mb, 0, 12},  // 1 TiB: the same 1/8
		{16 * mb, 64 * mb, 0, 300}, // target 16 × 4 = 64 MB
		{8 * mb, 64 * mb, 0, 700},  // target 8 × 8 = 64 MB
		{1024, 64 * mb, 0, 10000},  // clamped
		{30 * mb, 64 * mb, 0, 113},
		{50 * mb, 64 * mb, 0, 28},
		// The keys off the heap count against the floor.
		{8 * mb, 64 * mb, 32 * mb, 300},  // target 64 − 32 = 32 MB
		{8 * mb, 64 * mb, 100 * mb, 50},  // past the floor: live + 4 MiB
		{2 * mb, 64 * mb, 100 * mb, 200}, // the same for a tiny heap
		{40 * mb, 64 * mb, 30 * mb, 12},  // live × 9/8 above live + 4 MiB
		{8 * mb, 0, 100 * mb, 100},       // gc-min-heap 0: Go's default
	} {
		if got := gcPercentFor(tc.live, tc.floor, tc.off); got != tc.want {
			t.Errorf("gcPercentFor(%d, %d, %d) = %d, want %d", tc.live, tc.floor, tc.off, got, tc.want)
		}
	}
}

func TestMemoryLimitFor(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		maxmemory, off, want int64
	}{
		{0, 0, math.MaxInt64},
		{0, 100 * mb, math.MaxInt64},
		{64 * mb, 0, 88 * mb},       // 64 + 16 + 8
		{64 * mb, 60 * mb, 28 * mb}, // the off-heap data is not the runtime's
		{64 * mb, 80 * mb, 16 * mb}, // limitMin
		{100*mb + 3, 0, 133 * mb},   // rounded down to a MiB
	} {
		if got := memoryLimitFor(tc.maxmemory, tc.off); got != tc.want {
			t.Errorf("memoryLimitFor(%d, %d) = %d, want %d", tc.maxmemory, tc.off, got, tc.want)
		}
	}
}

func TestCollectReleased(t *testing.T) {
	g := newGCTuner()
	g.readLive()
	g.collectReleased(0) // the baseline
	if g.collectReleased(releaseGCMin - 1) {
		t.Fatal("collected below releaseGCMin")
	}
	before := g.cycles
	if !g.collectReleased(releaseGCMin) {
		t.Fatal("did not collect releaseGCMin bytes")
	}
	if g.cycles <= before {
		t.Fatalf("GC cycles %d, before %d", g.cycles, before)
	}
	if g.collectReleased(releaseGCMin + releaseGCMin/2) {
		t.Fatal("collected again for the same bytes")
	}
	// A collection completed meanwhile: wait for a quiet tick, and count
	// the bytes released since the last look (they may not be freed yet).
	g.cycles++
	if g.collectReleased(3 * releaseGCMin) {
		t.Fatal("collected on a tick that saw a collection")
	}
	if !g.collectReleased(3 * releaseGCMin) {
		t.Fatal("bytes released before a collection was seen were not collected")
	}
}
