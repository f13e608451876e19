package cluster

import (
	"slices"
	"time"
)

// Staged slot moves (docs/cluster.md "Moving slots without a miss").
//
// Plan gives the target table; a slot whose target primary does not hold
// the slot's data yet is not moved at once. The coordinator publishes a
// staged table instead: the slot keeps its current primary (and replicas)
// and gets the target primary as its *incoming* member, which replicates
// the slot like a replica (snapshot, then the live stream). Every node
// reports, in its gossip meta, which of the slots it holds as replica or
// incoming member are not live yet (holding); once the incoming member
// reports a slot live, the next table flips the slot (its row becomes the
// target's), at most flipBatch slots per table and one table per
// stepEvery. A member that is leaving (gossip meta) is planned out the same
// way: its slots go first to members that already replicate them.

const (
	// flipBatch is the most slots one table flips to a new primary: a flip
	// briefly stalls the slot's writes (the old primary hands over), so a
	// large rebalance is spread over a few tables. Half the slots: at 2,048
	// a 3-node cluster took 6 tables to form, each reconfiguring every
	// node's replication, seconds on a loaded machine.
	flipBatch = 8192
	// stepEvery is the least time between two tables a coordinator plans
	// while moves are staged: readiness reports arrive in bursts, and
	// every table makes every node reconfigure its replication.
	stepEvery = 100 * time.Millisecond
)

// stageInput is what the coordinator knows when it plans the next table.
type stageInput struct {
	cur      *Table
	target   []Member             // live members that are not leaving: the target's member set
	alive    map[string]bool      // live members, leaving ones included (they still serve)
	reports  map[string]holding   // by member ID
	earlier  map[string]holding   // by member ID: its report for the version before its current one's
	lastLive map[string]*lastLive // by member ID: when it last reported each copy live
	replicas int
	version  uint64
	maxFlips int
	stage    bool // Config.StageMoves: false plans the target at once
}

// nextTable returns the table that follows in.cur: the target table Plan
// makes for in.target, except that every slot whose target primary is not
// ready for it stays with its current primary and gets the target primary
// as its incoming member. A target primary is ready for a slot when it
// holds the slot in cur (as replica or incoming member) and reported it
// live for cur's version; at most in.maxFlips slots change primary this
// way. (Empty slots go the same way: their sync is a snapshot of nothing.
// A shortcut on the old primary's report that a slot is empty would race
// with writes made after the report.) A slot whose primary is gone
// (crashed) goes at once to its first surviving holder (failover); if the
// target gives it to another member, it is staged from that holder, else
// it takes the target's row. Without staging (or replicas, whose
// replication moves the data) the target is returned as it is. The target
// of a leave or a crash (members in cur that the target does not list)
// hands their slots on (handedOn) and moves nothing else.
//
// A staged slot's row is its current primary, then the target's replicas
// (the primary left out), filled up from its current replicas; with the
// incoming member and the primary's position in the target row (oldPos),
// virtualTable rebuilds the target row exactly, so planning again from a
// staged table gives the same target until the members change.
func nextTable(in stageInput) *Table {
	cur := in.cur
	if !in.stage || in.replicas == 0 || cur == nil || cur.width == 0 || len(in.target) == 0 {
		return Plan(liveFirst(cur, in), in.target, in.replicas, in.version)
	}
	lf := liveFirst(virtualTable(cur, in.alive), in)
	var t *Table
	// A leave or a crash: the departed members' slots go to new primaries
	// (handedOn), and nothing else moves.
	if h := handedOn(lf, in.target); h != nil {
		if t = plan(h, in.target, in.replicas, in.version, false); !primariesBalanced(t) {
			t = nil
		}
	}
	handed := t != nil
	if t == nil {
		t = Plan(lf, in.target, in.replicas, in.version)
		if !deadPrimary(cur, in.alive) {
			// Plan takes a promotion's imbalance (a departed primary's
			// slots to their replicas, nothing else moved) and rebalances
			// in the plan after it. With no primary dead nothing needs that
			// shortcut: aim at the balanced plan at once, so the target
			// stays the same while its moves are staged.
			t = Plan(t, in.target, in.replicas, in.version)
		}
	}
	st := &staging{in: in, t: t, rows: make([][]string, NumSlots), inc: make([]string, NumSlots),
		pos: make([]uint8, NumSlots), used: map[string]bool{}}
	for _, m := range t.members {
		st.used[m.ID] = true
	}
	flips := 0
	// The rows are cut from two arrays (target rows, staged rows), not
	// allocated slot by slot: this runs once per stepEvery during a move.
	w := t.width
	ids, staged := make([]string, NumSlots*w), make([]string, 0, NumSlots*w)
	idx := make([]int, len(t.members)) // t's member index to cur's, or -1
	for i, m := range t.members {
		idx[i] = cur.IndexOf(m.ID)
	}
	alive := make([]bool, len(cur.members)) // by cur's member index
	for i, m := range cur.members {
		alive[i] = in.alive[m.ID]
	}
	for s := range NumSlots {
		pi, npi := cur.OwnerIndex(s), t.OwnerIndex(s)
		p, np := cur.members[pi].ID, t.members[npi].ID
		trow := ids[s*w : (s+1)*w : (s+1)*w]
		for k := range trow {
			trow[k] = t.members[t.prefs[s*w+k]].ID
		}
		if !alive[pi] {
			// Failover. A leaving member whose copy comes first (a WAIT 1
			// counted it) is not in the target: Plan would pass it over for
			// a member that may lack the data. It is promoted instead and
			// the slot staged from it to the target primary, as its own
			// slots are.
			// (Not flipped in this table even if np holds the slot live: the
			// leaver becomes primary first, so that it seals the slot for np
			// with every write it has.)
			if l := leaverFirst(lf, s, in, t); l != "" {
				p = l
			} else if h := firstSurvivor(lf, s, in.alive); handed && h != "" && h != np {
				// handedOn gave the slot to a member without the best copy:
				// the holder with it is promoted, and np staged from it.
				p = h
			} else {
				st.rows[s] = trow
				continue
			}
		}
		switch {
		case p == np:
			st.rows[s] = trow
		case alive[pi] && flips < in.maxFlips && flipReady(cur, s, idx[npi]) && in.reports[np].live(cur.version, s) &&
			replicasReady(in, s, trow, p):
			st.rows[s] = trow
			flips++
			st.used[p] = true // a leaving old primary stays a member for this table: it seals the slot
		default:
			at := len(staged)
			row := append(staged[at:at:at+w], p)
			for k, id := range trow[1:] {
				if id == p {
					st.pos[s] = uint8(k + 1)
				} else {
					row = append(row, id)
				}
			}
			staged = staged[:at+len(row)]
			st.rows[s], st.inc[s] = row[:len(row):len(row)], np
			st.used[p] = true
		}
	}
	return st.build()
}

// replicasReady reports whether every replica of trow, slot s's target
// row, holds the slot live in in.cur, or is its current primary p (which
// keeps its copy and resumes at its own seal). A slot flips only then: at
// the flip a leaving primary drops its copy, so a replica still loading
// would leave the new primary the slot's one complete copy, and a failure
// of it (a freeze just after a leave's flip, found by
// TestBinaryClusterSoak) lost writes WAIT had acknowledged. A target
// replica that does not hold the slot yet is listed in the staged row
// meanwhile (nextTable's default case), where it loads from p.
func replicasReady(in stageInput, s int, trow []string, p string) bool {
	for _, id := range trow[1:] {
		if id != p && !in.ready(id, s) {
			return false
		}
	}
	return true
}

// ready reports whether member id holds slot s in in.cur (in any role)
// and reported it live for in.cur's version.
func (in stageInput) ready(id string, s int) bool {
	return in.cur.holdsIndex(s, in.cur.IndexOf(id)) && in.reports[id].live(in.cur.version, s)
}

// flipReady reports whether member index m of cur may take slot s over
// from its live primary in the next table (given its live report): it is
// the slot's first replica, the copy every WAIT counted first, or its
// incoming member, which reports the slot live only once the primary
// marked it (cluster/repl/mark.go: from then on WAIT counted it too). A
// later replica is staged first: a WAIT 1 did not wait for it, and if the
// old primary died before its seal arrived, it would take the slot over
// without writes the first replica acknowledged.
func flipReady(cur *Table, s, m int) bool {
	return m >= 0 && (cur.IncomingIndex(s) == m || cur.Rank(s, m) == 1)
}

// handedOn returns, when lf lists members that target does not (leavers,
// or crashed members) and every member of target, lf with a new primary, a member of target,
// for every slot whose primary is not one (a leaver's); otherwise nil.
// Plan would promote each such slot to its first surviving holder, over
// quota when one member replicates many of them, and then rebalance by
// moving other members' slots too: every moved role is a copy. Here a slot goes to its first surviving holder
// while that one is below its share (no copy), else to the member furthest
// below it (preferring the previous slot's, so that runs stay whole),
// with its holders kept after the new primary as replicas; the leaver
// fills the row's end, so that Plan hands that role out anew. Planned
// from this table without defragmentation (also in the steps after the
// hand-over, while a leaver is still listed as a replica), a leave copies
// each of the leavers' roles once and moves nothing else.
func handedOn(lf *Table, target []Member) *Table {
	w := lf.width
	if w == 0 {
		return nil
	}
	in := make([]bool, len(lf.members)) // by lf's member index
	k := 0
	for _, m := range target {
		if i := lf.IndexOf(m.ID); i >= 0 {
			in[i] = true
			k++
		}
	}
	if k == 0 || k != len(target) || k == len(lf.members) {
		return nil // a member new to the table (a join), or none leaving: Plan's case
	}
	count := make([]int, len(lf.members))
	var moved []int
	for s := range NumSlots {
		if p := lf.OwnerIndex(s); in[p] {
			count[p]++
		} else {
			moved = append(moved, s)
		}
	}
	if len(moved) == 0 {
		return lf // the leavers hold replica roles only
	}
	prefs := slices.Clone(lf.prefs)
	base, extra := NumSlots/k, NumSlots%k
	above := 0 // members at base+1: at most extra of them
	for i, c := range count {
		if in[i] && c > base {
			above++
		}
	}
	// room reports whether member m may take one more slot.
	room := func(m int) bool { return count[m] < base || count[m] == base && above < extra }
	give := func(s, m int) {
		row := lf.prefs[s*w : (s+1)*w]
		out := append(make([]uint16, 0, w+1), uint16(m))
		for _, x := range row { // holders that stay, then the leavers
			if in[x] && int(x) != m {
				out = append(out, x)
			}
		}
		for _, x := range row {
			if !in[x] {
				out = append(out, x)
			}
		}
		copy(prefs[s*w:(s+1)*w], out[:w])
		if count[m] == base {
			above++
		}
		count[m]++
	}
	// First the slots whose first surviving holder has room (no copy):
	// below the share, then up to one above it.
	for _, upTo := range []int{base, base + 1} {
		left := moved[:0]
		for _, s := range moved {
			m := -1
			for _, x := range lf.prefs[s*w+1 : (s+1)*w] {
				if in[x] {
					m = int(x)
					break
				}
			}
			if m >= 0 && count[m] < upTo && room(m) {
				give(s, m)
			} else {
				left = append(left, s)
			}
		}
		moved = left
	}
	// Then the rest to the members furthest below their share.
	last := -1
	for _, s := range moved {
		m := last
		if m < 0 || !room(m) {
			m = -1
			for i := range in {
				if in[i] && room(i) && (m < 0 || count[i] < count[m]) {
					m = i
				}
			}
		}
		if m < 0 {
			return nil
		}
		give(s, m)
		last = m
	}
	out := *lf
	out.prefs = prefs
	return &out
}

// firstSurvivor returns the first live member after the primary in lf's
// row of slot s (liveFirst's order: the best copy first), or "".
func firstSurvivor(lf *Table, s int, alive map[string]bool) string {
	w := lf.width
	for _, m := range lf.prefs[s*w+1 : (s+1)*w] {
		if id := lf.members[m].ID; alive[id] {
			return id
		}
	}
	return ""
}

// leaverFirst returns the member that a failover of slot s should promote
// when it is a leaving one (alive, not a member of the target t), or "".
// The order is liveFirst's: the first surviving holder with the highest
// copyTier in lf's row, then cur's retained member (a leaver's is not in
// lf: virtualTable keeps only members some row references); with no copy
// ever reported live, the first live member of the row.
func leaverFirst(lf *Table, s int, in stageInput, t *Table) string {
	cur, w := in.cur, lf.width
	row := lf.prefs[s*w+1 : (s+1)*w]
	best, tier := "", 0
	for _, m := range row {
		if id := lf.members[m].ID; in.copyTier(id, s, false) > tier {
			best, tier = id, in.copyTier(id, s, false)
		}
	}
	if m, ok := cur.Retained(s); ok && in.copyTier(m.ID, s, true) > tier {
		best = m.ID
	}
	if best == "" {
		for _, m := range row {
			if id := lf.members[m].ID; in.alive[id] {
				best = id
				break
			}
		}
	}
	if best == "" || t.IndexOf(best) >= 0 {
		return ""
	}
	return best
}

// liveFirst returns prev (cur, or its virtual table) with, for every slot
// whose primary is not alive, the surviving holders ordered by copyTier,
// the row's order kept within a tier, so that Plan promotes the first
// holder with a copy that is (or was) complete. A replica that is new in
// cur's row may still be loading its snapshot: the first surviving one in
// the row is then not the one with the data (the holder it was put ahead
// of, or cur's retained member, is). cur's retained member of the slot,
// if its tier is not 0, comes after the row's members of its tier (the
// last of the row drops out). When no holder ever reported the slot live,
// the row is kept (promotion takes the first survivor). prev is returned
// as it is when nothing is reordered.
func liveFirst(prev *Table, in stageInput) *Table {
	if prev == nil || prev.width < 2 || in.cur == nil {
		return prev
	}
	w := prev.width
	var prefs []uint16
	cand := make([]uint16, 0, w) // reused for every slot
	tiers := make([]int, 0, w)   // cand's tiers
	for s := range NumSlots {
		if in.alive[prev.Owner(s).ID] {
			continue
		}
		row := prev.prefs[s*w+1 : (s+1)*w]
		cand, tiers = cand[:0], tiers[:0]
		for _, m := range row {
			cand, tiers = append(cand, m), append(tiers, in.copyTier(prev.members[m].ID, s, false))
		}
		if m, ok := in.cur.Retained(s); ok {
			if i := prev.IndexOf(m.ID); i >= 0 && !slices.Contains(row, uint16(i)) {
				if k := in.copyTier(m.ID, s, true); k > 0 {
					cand, tiers = append(cand, uint16(i)), append(tiers, k)
				}
			}
		}
		// Insertion sort, stable, highest tier first: rows are short.
		for i := 1; i < len(cand); i++ {
			for j := i; j > 0 && tiers[j] > tiers[j-1]; j-- {
				cand[j], cand[j-1] = cand[j-1], cand[j]
				tiers[j], tiers[j-1] = tiers[j-1], tiers[j]
			}
		}
		sorted := cand[:len(row)]
		if slices.Equal(sorted, row) {
			continue
		}
		if prefs == nil {
			prefs = slices.Clone(prev.prefs)
		}
		copy(prefs[s*w+1:(s+1)*w], sorted)
	}
	if prefs == nil {
		return prev
	}
	out := *prev
	out.prefs = prefs
	return &out
}

// Tiers of a surviving holder's copy of a slot whose primary is gone
// (copyTier).
const (
	copyNever = iota // never reported live while held, or not alive
	copyWas          // reported live for an earlier table, held ever since
	copyLive         // reported live for the current table
)

// copyTier sorts the surviving holders of slot s, whose primary is gone,
// for promotion. A copy the member's latest report calls flushed (dropped
// for a snapshot still loading) is copyNever, whatever it reported before.
// copyWas counts what the node recorded (lastLive), so that
// neither a report that is late nor one made after the crash (a copy
// stops being live when its link to the dead primary drops) hands the
// slot to a member still loading its snapshot; for cur's retained member
// (retained) also its report before the current one, if it is for the
// version before cur's, in which it held the slot (it is retained because
// it did). Within a tier the row's order decides, not the versions: WAIT
// counts replicas in that order (docs/replication.md), so a write it
// acknowledged is on the first ones, whichever reported last.
func (in stageInput) copyTier(id string, s int, retained bool) int {
	switch {
	case !in.alive[id], inRanges(in.reports[id].flushed, s): // a flushed copy is part of one
		return copyNever
	case in.reports[id].live(in.cur.version, s):
		return copyLive
	}
	if ll := in.lastLive[id]; ll != nil && ll[s] > 0 {
		return copyWas
	}
	if e := in.earlier[id]; retained && e.version+1 == in.cur.version && e.live(e.version, s) {
		return copyWas
	}
	return copyNever
}

// deadPrimary reports whether some slot's primary in cur is not alive.
func deadPrimary(cur *Table, alive map[string]bool) bool {
	for s := range NumSlots {
		if !alive[cur.Owner(s).ID] {
			return true
		}
	}
	return false
}

// virtualTable returns cur as if every staged move were done: a slot with
// an incoming member whose primary is still alive gets its target row back
// (the incoming member, then the row after the primary, with the primary
// put back at oldPos). Members no row references are left out, so that
// Plan sees the same member set as the target's and keeps its plan.
// Planning from it keeps the targets of moves under way (Plan keeps
// previous holders). A slot whose primary is gone keeps its row, so Plan
// promotes a replica that holds the data rather than the incoming member.
func virtualTable(cur *Table, alive map[string]bool) *Table {
	if cur.incoming == nil {
		return cur
	}
	w := cur.width
	prefs := slices.Clone(cur.prefs)
	row := make([]uint16, 0, w+1) // reused for every slot
	for s := range NumSlots {
		if cur.IncomingIndex(s) < 0 || !alive[cur.Owner(s).ID] {
			continue
		}
		row = targetRow(row, cur, s)
		copy(prefs[s*w:(s+1)*w], row)
	}
	return reindexed(cur, prefs)
}

// targetRow returns the row staged slot s of cur targets (width
// entries), built in buf's array: the incoming member, then the rest of
// the row (without the incoming member where it is also the last replica)
// with the primary put back at oldPos.
func targetRow(buf []uint16, cur *Table, s int) []uint16 {
	w := cur.width
	old := cur.prefs[s*w : (s+1)*w]
	in := cur.IncomingIndex(s)
	row := append(buf[:0], uint16(in))
	for _, m := range old[1:] {
		if int(m) != in {
			row = append(row, m)
		}
	}
	if p := int(cur.oldPos[s]); p > 0 && p < w {
		row = slices.Insert(row, p, old[0])
	} else if len(row) < w {
		row = append(row, old[0])
	}
	return row[:w]
}

// reindexed returns a table like cur with rows prefs (indexes into
// cur.members) and only the members the rows reference.
func reindexed(cur *Table, prefs []uint16) *Table {
	keep := make([]int32, len(cur.members))
	for _, m := range prefs {
		keep[m] = 1
	}
	var ms []Member
	for i, m := range cur.members {
		if keep[i] == 1 {
			keep[i] = int32(len(ms))
			ms = append(ms, m)
		} else {
			keep[i] = -1
		}
	}
	for i, m := range prefs {
		prefs[i] = uint16(keep[m])
	}
	return &Table{version: cur.version, term: cur.term, planner: cur.planner, replicas: cur.replicas,
		width: cur.width, members: ms, prefs: prefs}
}

// Balanced reports whether every member is primary of NumSlots/N or
// NumSlots/N+1 slots, as Plan leaves a table: false while staged moves
// (or a failover's promotions) are still to be balanced.
func (t *Table) Balanced() bool { return primariesBalanced(t) }

// primariesBalanced reports whether every member of t is primary of
// NumSlots/N or NumSlots/N+1 slots, as Plan leaves them. A staged move whose
// new primary had to be listed as a replica instead (the table had no other
// member to fill the row) leaves the table unbalanced until it flips.
func primariesBalanced(t *Table) bool {
	if len(t.members) == 0 {
		return true
	}
	counts := make([]int, len(t.members))
	for s := range NumSlots {
		counts[t.OwnerIndex(s)]++
	}
	lo := NumSlots / len(t.members)
	for _, c := range counts {
		if c < lo || c > lo+1 {
			return false
		}
	}
	return true
}

// memberIDs returns the IDs of ms.
func memberIDs(ms []Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// sameRows reports whether a and b assign every slot alike: the same
// members (with addresses), preference lists and incoming members.
func sameRows(a, b *Table) bool {
	if a.width != b.width || a.replicas != b.replicas || !slices.EqualFunc(a.members, b.members, sameMember) ||
		!slices.Equal(a.prefs, b.prefs) {
		return false
	}
	for s := range NumSlots {
		if a.IncomingIndex(s) != b.IncomingIndex(s) || a.IncomingIndex(s) >= 0 && a.oldPos[s] != b.oldPos[s] ||
			a.RetainedIndex(s) != b.RetainedIndex(s) {
			return false
		}
	}
	return true
}
