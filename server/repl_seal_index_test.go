package server

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cached/cached/cluster"
)

// TestOwnerHandingOverSeesSeal checks ownerHandingOver's fast path (no
// per-slot read while the published links hold no seal of a slot they
// follow, replState.sealsPending): in a settled cluster B's index is
// clean and the check answers false; once A seals a slot B follows from
// it (A applied the table that gives the slot to B, B has not), the check
// answers true for that slot and false for another slot of A's, and still
// does after the index is published again (the seal is found by the look
// at every followed slot, not by sealArrived).
func TestOwnerHandingOverSeesSeal(t *testing.T) {
	nodes := replNodes(t, 3, nil)
	a := nodes[0]
	aID := a.cl.node.Load().ID()
	v := a.cl.view.Load()
	var bID string
	for s := range cluster.NumSlots {
		if p := v.t.Preference(s); p[0].ID == aID {
			bID = p[1].ID // the first replica of A's first slot
			break
		}
	}
	slots := slotsOf(v, aID, bID)
	if len(slots) < 2 {
		t.Fatal("A owns no two slots that B replicates")
	}
	slot, other := slots[0], slots[1]
	b := nodeByID(nodes, bID)
	rs := b.repl.Load()
	vb := b.cl.view.Load()
	owner := vb.t.IndexOf(aID)
	pollFor(t, "B follows both slots from A, its copies live and its index clean", func() bool {
		for _, s := range []int{slot, other} {
			l := rs.followLink(s)
			if l == nil || l.primaryID != aID {
				return false
			}
			if _, _, live := l.r.Position(s); !live {
				return false
			}
		}
		return !rs.sealsPending(rs.followed.Load())
	})
	if rs.ownerHandingOver(slot, vb, owner) {
		t.Fatal("ownerHandingOver in a settled cluster")
	}

	applyView(a, cluster.Flip(v.t, []int{slot}, bID, v.t.Version()+1))
	pollFor(t, "B takes A's seal of the slot", func() bool {
		_, ok := rs.followLink(slot).r.Sealed(slot)
		return ok
	})
	if b.cl.view.Load() != vb {
		t.Fatal("B's view changed; the test needs B on the old table")
	}
	check := func(when string) {
		t.Helper()
		if !rs.sealsPending(rs.followed.Load()) {
			t.Errorf("%s: B's index is clean with a followed slot sealed", when)
		}
		if !rs.ownerHandingOver(slot, vb, owner) {
			t.Errorf("%s: ownerHandingOver(sealed slot) = false, want true", when)
		}
		if rs.ownerHandingOver(other, vb, owner) {
			t.Errorf("%s: ownerHandingOver(slot not sealed) = true, want false", when)
		}
	}
	check("after the seal")
	rs.mu.Lock()
	rs.publishFollowsLocked()
	rs.mu.Unlock()
	check("after the index was published again")
}

// BenchmarkOwnerHandingOverSlots is BenchmarkOwnerHandingOver over every
// slot the node follows, in random order as a proxy's forwarded keys
// come: the per-slot reads miss the cache, as in a forwarding node.
func BenchmarkOwnerHandingOverSlots(b *testing.B) {
	nodes := startCluster(b, 3, nil)
	waitBalanced(b, nodes, 3, 2*time.Minute)
	s := nodes[0]
	rs := s.repl.Load()
	v := s.cl.view.Load()
	var slots, owners []int
	rs.mu.Lock()
	for id, l := range rs.replicas {
		for _, slot := range l.slots {
			slots, owners = append(slots, slot), append(owners, v.t.IndexOf(id))
		}
	}
	rs.mu.Unlock()
	if len(slots) == 0 {
		b.Fatal("the node follows no slot")
	}
	order := rand.Perm(len(slots))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		j := order[i%len(order)]
		if rs.ownerHandingOver(slots[j], v, owners[j]) {
			b.Fatal("handing over in a settled cluster")
		}
	}
}
