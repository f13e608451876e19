package server

import "testing"

func TestGCPercentFor(t *testing.T) {
	const mb = 1 << 20
	for _, tc := range []struct {
		live, floor int64
		want        int
	}{
		{0, 64 * mb, 100},
		{10 * mb, 0, 100},
		{32 * mb, 64 * mb, 100}, // target 32 × 2 = 64 MB
		{100 * mb, 64 * mb, 12}, // above the floor: live + 1/8
		{60 * mb, 64 * mb, 12},  // live × 9/8 above the floor
		{1 << 40, 64 * mb, 12},  // 1 TiB: the same 1/8
		{16 * mb, 64 * mb, 300}, // target 16 × 4 = 64 MB
		{8 * mb, 64 * mb, 700},  // target 8 × 8 = 64 MB
		{1024, 64 * mb, 10000},  // clamped
		{30 * mb, 64 * mb, 113},
		{50 * mb, 64 * mb, 28},
	} {
		if got := gcPercentFor(tc.live, tc.floor); got != tc.want {
			t.Errorf("gcPercentFor(%d, %d) = %d, want %d", tc.live, tc.floor, got, tc.want)
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
