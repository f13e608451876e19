package cluster

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// roleCounts returns, per member index, how many slots it holds in role r
// (0 = primary) of t.
func roleCounts(t *Table, r int) []int {
	c := make([]int, t.Len())
	for s := range NumSlots {
		c[t.prefs[s*t.width+r]]++
	}
	return c
}

// spreadOf returns max/min of counts (min 0 gives +Inf) and the extremes.
func spreadOf(c []int) (ratio float64, lo, hi int) {
	lo, hi = slices.Min(c), slices.Max(c)
	return float64(hi) / float64(lo), lo, hi
}

// replicaLoads returns, per member index, how many replica entries (all
// replica roles together) it holds.
func replicaLoads(t *Table) []int {
	c := make([]int, t.Len())
	for s := range NumSlots {
		for _, m := range t.prefs[s*t.width+1 : (s+1)*t.width] {
			c[m]++
		}
	}
	return c
}

// primaryMoves counts the slots whose primary (by ID) differs.
func primaryMoves(before, after *Table) int {
	n := 0
	for s := range NumSlots {
		if before.Owner(s).ID != after.Owner(s).ID {
			n++
		}
	}
	return n
}

// newCopies counts the (slot, member) pairs of after's preference lists
// whose member held no role for the slot in before: copies of a slot's data
// that must be made somewhere (the cost of a change in data moved).
func newCopies(before, after *Table) int {
	n := 0
	for s := range NumSlots {
		had := map[string]bool{}
		for _, m := range before.Preference(s) {
			had[m.ID] = true
		}
		for _, m := range after.Preference(s) {
			if !had[m.ID] {
				n++
			}
		}
	}
	return n
}

// replicaMoves counts the replica entries of after whose member was not a
// replica of that slot in before (in any replica role).
func replicaMoves(before, after *Table) int {
	n := 0
	for s := range NumSlots {
		b, a := before.Preference(s), after.Preference(s)
		if len(a) < 2 {
			continue
		}
		for _, m := range a[1:] {
			if len(b) < 2 || !slices.ContainsFunc(b[1:], func(x Member) bool { return x.ID == m.ID }) {
				n++
			}
		}
	}
	return n
}

// tupleRanges counts the ranges CLUSTER SLOTS lists: maximal runs of slots
// with the same whole preference list.
func tupleRanges(t *Table) int {
	if t.width == 0 {
		return 0
	}
	n := 1
	for s := 1; s < NumSlots; s++ {
		if !slices.Equal(t.prefs[s*t.width:(s+1)*t.width], t.prefs[(s-1)*t.width:s*t.width]) {
			n++
		}
	}
	return n
}

// primaryRanges counts the maximal runs of slots with the same primary.
func primaryRanges(t *Table) int {
	n := 0
	for _, m := range t.Members() {
		n += len(t.Ranges(m.ID))
	}
	return n
}

// checkTable asserts the invariants every planned table keeps: every slot
// has width distinct members, primaries balanced within one slot.
func checkTable(t *testing.T, what string, tab *Table) {
	t.Helper()
	for s := range NumSlots {
		row := tab.prefs[s*tab.width : (s+1)*tab.width]
		for i := range row {
			if int(row[i]) >= tab.Len() || slices.Contains(row[:i], row[i]) {
				t.Fatalf("%s: slot %d has preference list %v", what, s, row)
			}
		}
	}
	if _, lo, hi := spreadOf(roleCounts(tab, 0)); hi-lo > 1 {
		t.Fatalf("%s: primaries hold %d to %d slots", what, lo, hi)
	}
}

func TestPlanExplore(t *testing.T) {
	for _, r := range []int{0, 1, 2} {
		for n := 1; n <= 10; n++ {
			ms := testMembers(uint64(n*31+r), n+1)
			base := BuildTable(ms[:n], r, 1)
			join := Plan(base, ms, r, 2)
			leave := Plan(base, ms[1:n], r, 2)
			checkTable(t, "base", base)
			checkTable(t, "join", join)
			if n > 1 {
				checkTable(t, "leave", leave)
			}
			jr, _, _ := spreadOf(replicaLoads(join))
			t.Logf("r=%d n=%d: ranges base %d/%d join %d/%d leave %d/%d; join moved p %.2f r %.2f copies %.2f (repl spread %.3f); leave moved p %.2f r %.2f copies %.2f",
				r, n, primaryRanges(base), tupleRanges(base), primaryRanges(join), tupleRanges(join), primaryRanges(leave), tupleRanges(leave),
				float64(primaryMoves(base, join))/(NumSlots/float64(n+1)),
				float64(replicaMoves(base, join))/(float64(r)*NumSlots/float64(n+1)),
				float64(newCopies(base, join))/(float64(min(r+1, n+1))*NumSlots/float64(n+1)), jr,
				float64(primaryMoves(base, leave))/(NumSlots/float64(n)),
				float64(replicaMoves(base, leave))/(float64(r)*NumSlots/float64(n)),
				float64(newCopies(base, leave))/(float64(r+1)*NumSlots/float64(n)))
		}
	}
}

func TestPlanRandomWalkExplore(t *testing.T) {
	for _, r := range []int{0, 1} {
		rng := rand.New(rand.NewPCG(uint64(r), 9))
		pool := testMembers(77, 40)
		cur := []Member{pool[0]}
		next := 1
		tab := BuildTable(cur, r, 1)
		maxRanges, maxTuple := 0, 0
		pm, rm, cm := 0.0, 0.0, 0.0
		for step := range 200 {
			if len(cur) < 2 || (len(cur) < 10 && rng.IntN(2) == 0) {
				cur = append(cur, pool[next%len(pool)])
				next++
			} else {
				i := rng.IntN(len(cur))
				cur = slices.Delete(cur, i, i+1)
			}
			nt := Plan(tab, cur, r, uint64(step+2))
			checkTable(t, "step "+strconv.Itoa(step), nt)
			ideal := float64(NumSlots) / float64(max(len(cur), tab.Len()))
			pm = max(pm, float64(primaryMoves(tab, nt))/ideal)
			if r > 0 && len(cur) > 1 && tab.Len() > 1 {
				rm = max(rm, float64(replicaMoves(tab, nt))/ideal/float64(r))
				cm = max(cm, float64(newCopies(tab, nt))/ideal/float64(r+1))
			}
			maxRanges = max(maxRanges, primaryRanges(nt)-len(cur))
			maxTuple = max(maxTuple, tupleRanges(nt)-len(cur))
			tab = nt
		}
		t.Logf("r=%d: max extra primary ranges %d, max extra tuple ranges %d; max move ratios p %.2f r %.2f copies %.2f", r, maxRanges, maxTuple, pm, rm, cm)
	}
}
