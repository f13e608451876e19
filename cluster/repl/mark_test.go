package repl

import "testing"

// TestMarks: a link sends MARK for the slots SetMarks names for its
// replica once they are live on it, after every record appended before;
// a new copy of a slot (a snapshot after a gap) is marked again, and
// slots not named are never marked.
func TestMarks(t *testing.T) {
	h := newHarness(t, Config{})
	slots := []int{1, 2, 3, 4}
	prefill(h.store, slots, 3)
	d := &dialer{}
	r := h.replica("r1", slots, newFakeApplier(), d)
	ap := r.ap.(*fakeApplier)
	waitFor(t, "initial sync acknowledged", func() bool { return caughtUp(h.store, r, slots) && h.p.LiveAt("r1", 2) })
	if h.p.LiveAt("r2", 2) || h.p.LiveAt("r1", 9) {
		t.Fatal("LiveAt: true for another replica's or an unfollowed slot")
	}

	// The replica reads nothing meanwhile: the write goes out before the
	// mark, which must find it applied.
	d.setStall(true)
	h.store.set(2, "before-mark", "v")
	h.p.SetMarks(7, map[string][]int{"r1": {2, 3}, "r2": {1}})
	if got := r.Marked(2); got != 0 {
		t.Fatalf("Marked(2) = %d while the replica reads nothing", got)
	}
	d.setStall(false)
	waitFor(t, "slots 2 and 3 marked", func() bool { return r.Marked(2) == 7 && r.Marked(3) == 7 })
	if _, keys := ap.state(2); keys["before-mark"].v != "v" {
		t.Fatalf("marked before the write appended ahead of the mark was applied: %v", keys)
	}
	if r.Marked(1) != 0 || r.Marked(4) != 0 {
		t.Fatalf("slots not named for r1 marked: %d, %d", r.Marked(1), r.Marked(4))
	}

	// A gap in slot 2 makes the primary send it again: the new copy
	// forgets the mark (SNAP) and is marked again once live.
	full0 := h.p.Stats().FullSyncs
	h.p.SetMarks(8, map[string][]int{"r1": {2}})
	waitFor(t, "slot 2 marked for version 8", func() bool { return r.Marked(2) == 8 })
	h.store.skipSeq(2)
	h.store.set(2, "after-gap", "v")
	waitFor(t, "slot 2 healed", func() bool { return caughtUp(h.store, r, slots) && h.p.Stats().FullSyncs > full0 })
	waitFor(t, "the new copy of slot 2 marked", func() bool { return r.Marked(2) == 8 })
	if r.Marked(3) != 7 {
		t.Fatalf("slot 3, no longer named, went from mark 7 to %d", r.Marked(3))
	}
}
