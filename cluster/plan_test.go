package cluster

import (
	"fmt"
	"math/rand/v2"
	"slices"
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

// rows returns, per slot, the preference list of t as indexes into
// after's members (-1 for a member after lacks).
func rows(t, after *Table) [][]int32 {
	remap := remapIndexes(t, after.members)
	out := make([][]int32, NumSlots)
	for s := range out {
		out[s] = make([]int32, t.width)
		for j, m := range t.prefs[s*t.width : (s+1)*t.width] {
			out[s][j] = remap[m]
		}
	}
	return out
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
	b, n := rows(before, after), 0
	for s := range NumSlots {
		for _, m := range after.prefs[s*after.width : (s+1)*after.width] {
			if !slices.Contains(b[s], int32(m)) {
				n++
			}
		}
	}
	return n
}

// replicaMoves counts the replica entries of after whose member was not a
// replica of that slot in before (in any replica role).
func replicaMoves(before, after *Table) int {
	b, n := rows(before, after), 0
	for s := range NumSlots {
		if after.width < 2 {
			break
		}
		for _, m := range after.prefs[s*after.width+1 : (s+1)*after.width] {
			if len(b[s]) < 2 || !slices.Contains(b[s][1:], int32(m)) {
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

// checkTable asserts the invariants every table planned from prev (nil:
// bootstrap) keeps: every slot has width distinct members; the failover
// rule (checkPromotion); primaries balanced within one slot unless the plan
// promoted slots, else see checkPromotion.
func checkTable(t *testing.T, what string, prev, tab *Table) {
	t.Helper()
	if tab.Len() == 0 {
		return
	}
	for s := range NumSlots {
		row := tab.prefs[s*tab.width : (s+1)*tab.width]
		for i := range row {
			if int(row[i]) >= tab.Len() || slices.Contains(row[:i], row[i]) {
				t.Fatalf("%s: slot %d has preference list %v", what, s, row)
			}
		}
	}
	if checkPromotion(t, what, prev, tab) > 0 {
		return
	}
	if _, lo, hi := spreadOf(roleCounts(tab, 0)); hi-lo > 1 {
		t.Fatalf("%s: primaries hold %d to %d slots", what, lo, hi)
	}
}

// checkPromotion asserts the failover rule of a table planned from prev and
// returns how many slots it promoted: a slot whose previous primary is gone
// gets the first surviving member of its previous preference list as
// primary; if any slot was promoted, no slot whose previous primary
// survives changes primary; and the plan that follows with the same
// members (no promotion: the rebalancing) is balanced again.
func checkPromotion(t *testing.T, what string, prev, tab *Table) int {
	t.Helper()
	if prev == nil || prev.Len() == 0 {
		return 0
	}
	b, promoted := rows(prev, tab), 0
	for s := range NumSlots {
		if b[s][0] >= 0 {
			continue
		}
		for _, m := range b[s][1:] {
			if m >= 0 {
				if tab.OwnerIndex(s) != int(m) {
					t.Fatalf("%s: slot %d was held by %v, its primary now is %d", what, s, b[s], tab.OwnerIndex(s))
				}
				promoted++
				break
			}
		}
	}
	if promoted == 0 {
		return 0
	}
	for s := range NumSlots {
		if m := b[s][0]; m >= 0 && tab.OwnerIndex(s) != int(m) {
			t.Fatalf("%s: slot %d moved from member %d to %d in a failover plan", what, s, m, tab.OwnerIndex(s))
		}
	}
	again := rebalance(tab)
	if _, lo, hi := spreadOf(roleCounts(again, 0)); hi-lo > 1 {
		t.Fatalf("%s: the rebalancing plan leaves primaries at %d to %d slots", what, lo, hi)
	}
	return promoted
}

// excess counts the primaries t's members hold above the quota of a table
// with k members (NumSlots/k rounded up).
func excess(t *Table, k int) int {
	n, q := 0, (NumSlots+k-1)/k
	for _, c := range roleCounts(t, 0) {
		n += max(0, c-q)
	}
	return n
}

// rebalance returns the plan that follows tab with the same members (what
// the coordinator plans after a failover).
func rebalance(tab *Table) *Table { return Plan(tab, tab.members, tab.replicas, tab.version+1) }

// promotedSlots counts the slots of after whose previous primary is gone
// and that went to a surviving holder.
func promotedSlots(before, after *Table) int {
	n := 0
	for s, row := range rows(before, after) {
		if row[0] < 0 && slices.ContainsFunc(row, func(m int32) bool { return m >= 0 }) && after.width > 0 {
			_ = s
			n++
		}
	}
	return n
}

// clusterSlotsSize returns the size in bytes of the RESP2 CLUSTER SLOTS
// reply for t, in Redis 7's format: one entry per run of slots with the
// same preference list, `*N :start :end` and per node `*4 $host :port $id *0`
// (no extra networking metadata).
func clusterSlotsSize(t *Table) int {
	if t.width == 0 {
		return len("*0\r\n")
	}
	var b []byte
	b = fmt.Appendf(b, "*%d\r\n", tupleRanges(t))
	for s := 0; s < NumSlots; {
		e := s
		row := t.prefs[s*t.width : (s+1)*t.width]
		for e+1 < NumSlots && slices.Equal(t.prefs[(e+1)*t.width:(e+2)*t.width], row) {
			e++
		}
		b = fmt.Appendf(b, "*%d\r\n:%d\r\n:%d\r\n", 2+len(row), s, e)
		for _, i := range row {
			m := t.members[i]
			b = fmt.Appendf(b, "*4\r\n$%d\r\n%s\r\n:%d\r\n$%d\r\n%s\r\n*0\r\n", len(m.Host), m.Host, m.Port, len(m.ID), m.ID)
		}
		s = e + 1
	}
	return len(b)
}

func TestPlanDeterministic(t *testing.T) {
	for _, r := range []int{0, 1, 2} {
		ms := testMembers(uint64(40+r), 12)
		rng := rand.New(rand.NewPCG(3, uint64(r)))
		// Two nodes that see the same history in different member orders
		// compute identical tables at every step.
		var a, b *Table
		for step := range 30 {
			k := 1 + rng.IntN(len(ms))
			cur := slices.Clone(ms[:k])
			if step%3 == 2 {
				cur = slices.Delete(cur, 0, 1+rng.IntN(k-1+1)/2)
			}
			perm := slices.Clone(cur)
			rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
			a, b = Plan(a, cur, r, uint64(step)), Plan(b, append(perm, perm...), r, uint64(step))
			if !sameAssignment(a, b) {
				t.Fatalf("r=%d step %d: same history, different tables", r, step)
			}
			// A table that went over the wire plans alike.
			a.planner = ms[0].ID
			dec, err := decodeTable(encodeTable(a))
			if err != nil || !sameAssignment(Plan(dec, ms[:6], r, 1), Plan(a, ms[:6], r, 1)) {
				t.Fatalf("r=%d step %d: decoded table plans differently (%v)", r, step, err)
			}
		}
	}
}

func TestBootstrapTable(t *testing.T) {
	for _, r := range []int{0, 1, 2} {
		for n := 1; n <= 10; n++ {
			tab := BuildTable(testMembers(uint64(n*7+r), n), r, 1)
			checkTable(t, fmt.Sprintf("r=%d n=%d", r, n), nil, tab)
			if pr, tr := primaryRanges(tab), tupleRanges(tab); pr != n || tr != n {
				t.Errorf("r=%d n=%d: %d primary ranges, %d CLUSTER SLOTS entries; want %d", r, n, pr, tr, n)
			}
			next := 0
			for i, m := range tab.Members() { // in ID order, one range each
				if rs := tab.Ranges(m.ID); rs[0].Start != next {
					t.Errorf("r=%d n=%d: member %d starts at %d, want %d", r, n, i, rs[0].Start, next)
				} else {
					next = rs[0].End + 1
				}
			}
			if r > 0 && n > r {
				if ratio, lo, hi := spreadOf(replicaLoads(tab)); ratio > 1.1 {
					t.Errorf("r=%d n=%d: replica loads %d..%d", r, n, lo, hi)
				}
			}
		}
	}
}

// stepBounds checks one planned step: invariants, balance, movement
// within 1.2× the ideal share in the primary role and in copies made, and
// (the replica role alone) within maxReplica×.
func stepBounds(t *testing.T, what string, before, after *Table, maxReplica float64) {
	t.Helper()
	checkTable(t, what, before, after)
	k := max(before.Len(), after.Len())
	if after.Len() == 0 || before.Len() == 0 {
		return
	}
	ideal := float64(NumSlots) / float64(k)
	// A failover plan moves exactly the promoted slots and those without a
	// surviving holder (checkPromotion); a plan from an unbalanced table
	// (a failover's) also rebalances the excess.
	promoted, extra := promotedSlots(before, after), excess(before, after.Len())
	if got := float64(primaryMoves(before, after)-extra) / ideal; got > 1.2 && promoted == 0 {
		t.Errorf("%s: primaries moved %.2f× the ideal", what, got)
	}
	r := after.width - 1
	if r == 0 || before.width != after.width || after.Len() <= 1+r {
		return // no replicas, or every member holds every slot
	}
	if got := float64(newCopies(before, after)-extra*(r+1)) / ideal / float64(r+1); got > 1.2 {
		t.Errorf("%s: %.2f× the ideal copies made", what, got)
	}
	// A promoted slot needs a new replica in any case: not counted.
	if got := float64(replicaMoves(before, after)-promoted-extra*r) / ideal / float64(r); got > maxReplica {
		t.Errorf("%s: replicas moved %.2f× the ideal", what, got)
	}
	// A failover plan moves no replica that survives: loads are balanced
	// by the plan after it.
	if ratio, lo, hi := spreadOf(replicaLoads(after)); ratio > 1.1 && promoted == 0 && extra == 0 {
		t.Errorf("%s: replica loads %d..%d", what, lo, hi)
	}
}

func TestPlanJoinAndLeave(t *testing.T) {
	for _, r := range []int{0, 1, 2} {
		for n := 1; n <= 10; n++ {
			ms := testMembers(uint64(n*31+r), n+1)
			base := BuildTable(ms[:n], r, 1)
			join := Plan(base, ms, r, 2)
			what := fmt.Sprintf("r=%d %d->%d", r, n, n+1)
			stepBounds(t, what, base, join, 1.7)
			if got := ownerCounts(join)[ms[n].ID]; primaryMoves(base, join) != got {
				t.Errorf("%s: %d primaries moved, the new node got %d", what, primaryMoves(base, join), got)
			}
			if pr := primaryRanges(join); pr > 2*(n+1) {
				t.Errorf("%s: %d primary ranges", what, pr)
			}
			leave := Plan(base, ms[1:n], r, 2)
			what = fmt.Sprintf("r=%d %d->%d", r, n, n-1)
			stepBounds(t, what, base, leave, 1.7)
			if n > 1 && primaryMoves(base, leave) != ownerCounts(base)[ms[0].ID] {
				t.Errorf("%s: %d primaries moved, the leaver had %d", what, primaryMoves(base, leave), ownerCounts(base)[ms[0].ID])
			}
			if pr := primaryRanges(leave); pr > 2*n {
				t.Errorf("%s: %d primary ranges", what, pr)
			}
		}
	}
}

// walkStats is what a random join/leave walk measured.
type walkStats struct {
	maxRanges  [11]int // most primary ranges seen with k members
	maxEntries [11]int // most CLUSTER SLOTS entries seen with k members
	maxBytes   [11]int // largest CLUSTER SLOTS reply with k members
	// maxFailover is the most primary ranges of a failover plan's table
	// (before its rebalancing) with k members.
	maxFailover [11]int
}

// randomWalk plans steps random joins and leaves between 1 and 10 members
// (replicas r), checking every step with stepBounds.
func randomWalk(t *testing.T, seed uint64, r, steps int) walkStats {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 9))
	pool := testMembers(seed+77, 64)
	cur, next := []Member{pool[0]}, 1
	tab := BuildTable(cur, r, 1)
	var st walkStats
	for step := range steps {
		if len(cur) < 2 || (len(cur) < 10 && rng.IntN(2) == 0) {
			cur = append(cur, pool[next%len(pool)])
			next++
		} else {
			i := rng.IntN(len(cur))
			cur = slices.Delete(cur, i, i+1)
		}
		nt := Plan(tab, cur, r, uint64(step+2))
		stepBounds(t, fmt.Sprintf("seed %d r=%d step %d (%d->%d members)", seed, r, step, tab.Len(), nt.Len()), tab, nt, 2)
		k := nt.Len()
		if promotedSlots(tab, nt) > 0 {
			st.maxFailover[k] = max(st.maxFailover[k], primaryRanges(nt))
			tab = nt
			if rng.IntN(4) == 0 {
				continue // at times a failover meets the next step unbalanced
			}
			// After a failover the coordinator rebalances (staged).
			nt = rebalance(tab)
			checkTable(t, fmt.Sprintf("seed %d r=%d step %d rebalanced", seed, r, step), tab, nt)
		}
		st.maxRanges[k] = max(st.maxRanges[k], primaryRanges(nt))
		st.maxEntries[k] = max(st.maxEntries[k], tupleRanges(nt))
		st.maxBytes[k] = max(st.maxBytes[k], clusterSlotsSize(nt))
		tab = nt
	}
	return st
}

func TestPlanRandomWalk(t *testing.T) {
	for _, r := range []int{0, 1} {
		for seed := uint64(1); seed <= 1; seed++ {
			st := randomWalk(t, seed+uint64(r), r, 200)
			// Fragmentation stays bounded: failovers add the pieces
			// of the replica layer to the primaries' ranges, their
			// rebalancing plans merge most of them again.
			for k, c := range st.maxRanges {
				if c > 7*k {
					t.Errorf("seed %d r=%d: %d primary ranges with %d members", seed, r, c, k)
				}
				if f := st.maxFailover[k]; f > 10*k {
					t.Errorf("seed %d r=%d: %d primary ranges with %d members after a failover", seed, r, f, k)
				}
			}
		}
	}
}

func BenchmarkPlan(b *testing.B) {
	for _, tc := range []struct{ n, replicas int }{{3, 1}, {10, 1}, {50, 2}} {
		ms := testMembers(1, tc.n+1)
		base := BuildTable(ms[:tc.n], tc.replicas, 1)
		b.Run(fmt.Sprintf("join/n=%d/r=%d", tc.n, tc.replicas), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Plan(base, ms, tc.replicas, 2)
			}
		})
	}
}
