package cluster

import (
	"slices"
	"testing"
)

// TestStageCrashMovesOnlyTheDeadsSlots: after a member crashes (not alive,
// not in the target), each slot it was primary of goes at once to its first
// surviving holder (all copies reported live, so the row's order, which
// WAIT counts in, decides), the plan's target is stable from then on (it
// does not change between steps without reports), the result is balanced,
// and no slot the dead member did not hold changes primary (unless every
// survivor holds every slot, where a move is a flip without a copy).
// Before handedOn served crashes too, the promoted members' excess was
// rebalanced by moving 1,365-2,185 other primaries to members that had to
// copy them, and the replicas the failover's table gave the promoted slots
// were planned anew in the next step (the target changed).
func TestStageCrashMovesOnlyTheDeadsSlots(t *testing.T) {
	for _, c := range []struct{ n, r int }{{3, 1}, {5, 1}, {3, 2}, {5, 2}} {
		ms := testMembers(uint64(400+c.n*10+c.r), c.n+1)
		joined, _ := stepUntilDone(t, BuildTable(ms[:c.n], c.r, 1), ms, ms, c.r)
		for _, dead := range ms {
			di := joined.IndexOf(dead.ID)
			rest := without(ms, dead.ID)
			first := nextTable(stageInput{cur: joined, target: rest, alive: aliveOf(rest), reports: allLive(ms, joined.version),
				replicas: c.r, version: joined.version + 1, maxFlips: flipBatch, stage: true})
			for s := range NumSlots {
				if joined.OwnerIndex(s) != di {
					continue
				}
				want := joined.Preference(s)[1].ID
				if got := first.Owner(s).ID; got != want {
					t.Fatalf("n=%d r=%d, %s crashes: slot %d promoted %s, not its first replica %s",
						c.n+1, c.r, dead.ID[:8], s, got[:8], want[:8])
				}
			}
			final, _ := stepUntilDone(t, first, rest, rest, c.r)
			if c.n <= c.r+1 {
				continue // every survivor holds every slot
			}
			othersMoved := 0
			for s := range NumSlots {
				if !slices.Contains(memberIDs(joined.Preference(s)), dead.ID) && final.Owner(s).ID != joined.Owner(s).ID {
					othersMoved++
				}
			}
			if othersMoved > 0 {
				t.Errorf("n=%d r=%d, %s crashes: %d slots it did not hold changed primary", c.n+1, c.r, dead.ID[:8], othersMoved)
			}
		}
	}
}

// TestDepartureCopiesOnlyItsRoles: in clusters grown by joins one at a
// time (as real ones are), a member's crash or graceful leave makes, over
// every step until the table is settled, one new copy per role the member
// had (slot × member pairs new to a slot's holders), with one replica.
// Before, a crash padded each row staged from the promoted holder with a
// third member that copied the slot only to drop it at the flip, and the
// replica layer's rebalancing moved roles of slots the member did not
// hold: 1.00-1.35× its roles (crash) and 1.00-1.17× (leave). With two
// replicas the first replica layer then still moved some (up to 1.100×
// here) until its rebalancing released and moved roles of slots with a
// vacant later role first (layer.vacant); with three the last layer
// still moves a few (1.012× here, 1.112× before).
func TestDepartureCopiesOnlyItsRoles(t *testing.T) {
	for _, c := range []struct {
		n, r  int
		bound float64
	}{{4, 1, 1.001}, {6, 1, 1.001}, {6, 2, 1.001}, {6, 3, 1.02}} {
		ms := testMembers(uint64(700+c.n*10+c.r), c.n)
		joined := BuildTable(ms[:1], c.r, 1)
		for k := 2; k <= c.n; k++ {
			joined, _ = stepUntilDone(t, joined, ms[:k], ms[:k], c.r)
		}
		for _, crash := range []bool{true, false} {
			for _, gone := range ms {
				rest := without(ms, gone.ID)
				alive := ms // a leaver serves until it is out
				if crash {
					alive = rest
				}
				roles, copies := departedRoles(joined, gone.ID), 0
				stepEach(t, joined, rest, alive, c.r, func(prev, next *Table) { copies += newHolders(prev, next) })
				if copies < roles || float64(copies) > c.bound*float64(roles) {
					t.Errorf("n=%d r=%d, %s departs (crash %v): %d new copies for its %d roles (%.4f×, bound %.3f×)",
						c.n, c.r, gone.ID[:8], crash, copies, roles, float64(copies)/float64(roles), c.bound)
				}
			}
		}
	}
}

// departedRoles counts the slots whose holders in t include id.
func departedRoles(t *Table, id string) int {
	n := 0
	for s := range NumSlots {
		if slices.ContainsFunc(t.Holders(s), func(m Member) bool { return m.ID == id }) {
			n++
		}
	}
	return n
}

// newHolders counts the (slot, member) pairs among after's holders
// (Table.Holders) that before's lack: the copies after asks for.
func newHolders(before, after *Table) int {
	n := 0
	for s := range NumSlots {
		b := before.Holders(s)
		for _, m := range after.Holders(s) {
			if !slices.ContainsFunc(b, func(x Member) bool { return x.ID == m.ID }) {
				n++
			}
		}
	}
	return n
}
