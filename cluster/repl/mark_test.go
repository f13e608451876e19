package repl

import (
	"net"
	"sync/atomic"
	"testing"
)

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

// TestMarksShareTheSnapshotWrites: a replica syncs every slot, each
// named for a MARK, as when a cluster forms. The MARKs leave with the
// snapshots' batched writes: until 2026-12-05 every SNAPEND's MARK was
// flushed on its own (and every wanted slot looked at again), which made
// a sync of 16,384 empty slots take 350-470 ms instead of 12 ms and a
// 3-node cluster about 1 s longer to form.
func TestMarksShareTheSnapshotWrites(t *testing.T) {
	st := newFakeStore()
	var writes atomic.Int64
	p, addr := serveWith(t, st, st, serveOpts{wrap: func(ln net.Listener) net.Listener {
		return countingListener{Listener: ln, writes: &writes}
	}})
	all := make([]int, NumSlots)
	for i := range all {
		all[i] = i
	}
	p.SetMarks(3, map[string][]int{"r": all})
	r, err := NewReplica(ReplicaConfig{Addr: addr, ID: "r", Slots: all}, newFakeApplier())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitFor(t, "every slot marked", func() bool {
		for _, s := range all {
			if r.Marked(s) != 3 {
				return false
			}
		}
		return true
	})
	t.Logf("%d writes for %d slots", writes.Load(), NumSlots)
	if n := writes.Load(); n > NumSlots/16 {
		t.Errorf("%d writes for a sync of %d empty slots: want the MARKs batched with the snapshots", n, NumSlots)
	}
}

// countingListener counts the writes to the connections it accepts.
type countingListener struct {
	net.Listener
	writes *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: c, writes: l.writes}, nil
}

type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}
