package server

import (
	"slices"
	"testing"

	"github.com/cached/cached/cluster"
)

// TestHoldsOfASwap: one table hands slots X from A to B and slots Y from B
// to A, and C, a replica of both, applies it before either seal reaches
// it (both held back on live links). C must hold X on its link to A and Y
// on its link to B until each seal arrives, then follow the new primaries
// from the sealed positions without a snapshot. (A soak run with 2
// replicas, seed 645, had such a swap: every held slot was taken off both
// links, so C followed the new primaries with no position, and when the
// new primary of Y died before its seal, C was promoted for Y with no copy:
// the keys were lost, 174 misses.)
func TestHoldsOfASwap(t *testing.T) {
	m := newHeldMove(t, false)
	aID, bID := m.a.cl.node.Load().ID(), m.b.cl.node.Load().ID()
	var y []int
	for s := range cluster.NumSlots {
		if p := m.v0.Preference(s); len(p) == 3 && p[0].ID == bID && len(y) < len(m.slots) {
			y = append(y, s)
		}
	}
	if len(y) == 0 {
		t.Fatal("B is primary of no slot")
	}
	swap := cluster.Flip(cluster.Flip(m.v0, m.slots, bID, m.v0.Version()+1), y, aID, m.v0.Version()+1)
	for _, s := range m.slots {
		if swap.Owner(s).ID != bID {
			t.Fatalf("slot %d: the swap gives it to %s, not B", s, swap.Owner(s).ID)
		}
	}
	for _, s := range y {
		if swap.Owner(s).ID != aID {
			t.Fatalf("slot %d: the swap gives it to %s, not A", s, swap.Owner(s).ID)
		}
	}
	acked, loaded0 := m.synced(t)
	all := slotKeys()
	rb := newClient(t, m.b, nil)
	yKeys := map[string]string{}
	for i := 0; i < len(y) && len(yKeys) < 16; i += max(1, len(y)/16) {
		k := all[y[i]]
		if err := rb.Set(ctxT(t), k, "before", 0).Err(); err != nil {
			t.Fatalf("SET %s on B: %v", k, err)
		}
		yKeys[k], acked[k] = "before", "before"
	}
	readsOn(t, m.c, yKeys)

	m.gate.hold()
	applyView(m.c, swap)
	rs := m.c.repl.Load()
	onLink := func(id string, slots []int) (held, on int) {
		rs.cfgMu.Lock()
		defer rs.cfgMu.Unlock()
		rs.mu.Lock()
		defer rs.mu.Unlock()
		l := rs.replicas[id]
		for _, s := range slots {
			if rs.holds[s] != nil {
				held++
			}
			if l != nil && slices.Contains(l.slots, s) {
				on++
			}
		}
		return held, on
	}
	if held, on := onLink(aID, m.slots); held != len(m.slots) || on != len(m.slots) {
		t.Fatalf("X (A to B): %d of %d held, %d on the link to A; want all", held, len(m.slots), on)
	}
	if held, on := onLink(bID, y); held != len(y) || on != len(y) {
		t.Fatalf("Y (B to A): %d of %d held, %d on the link to B; want all", held, len(y), on)
	}
	for _, s := range m.nodes {
		if s != m.c {
			applyView(s, swap) // both seal; the seals wait in C's gate
		}
	}
	m.gate.release()
	pollFor(t, "C's holds end and its copies follow the new primaries live", func() bool {
		heldX, _ := onLink(aID, m.slots)
		heldY, _ := onLink(bID, y)
		return heldX+heldY == 0 && liveOn(rs, bID, m.slots) == len(m.slots) && liveOn(rs, aID, y) == len(y)
	})
	readsOn(t, m.c, acked)
	if loaded := m.c.handoff.keysLoaded.Load() - loaded0; loaded != 0 {
		t.Errorf("C loaded %d keys by snapshot; want 0 (its copies resume from the seals)", loaded)
	}
	waitReplSynced(t, m.nodes)
}

// liveOn counts the slots whose copy rs follows live on its link to the
// primary id.
func liveOn(rs *replState, id string, slots []int) int {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	l := rs.replicas[id]
	if l == nil {
		return 0
	}
	n := 0
	for _, s := range slots {
		if _, _, live := l.r.Position(s); live {
			n++
		}
	}
	return n
}
