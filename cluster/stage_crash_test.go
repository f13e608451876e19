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
