package cluster

import "slices"

// Plan computes the slot table that follows prev when the member set becomes
// members: the primary of every slot, then Replicas replicas on other nodes.
// It is deterministic: the same prev assignment (by member ID), the same
// member set in any order and the same replica count give the same table on
// every node. prev may be nil (or share no member with the new set): then the
// table is the bootstrap split, see [BuildTable]. Plan does not keep a
// reference to prev or members.
//
// Each role (primary, first replica, …) is a layer planned alike:
//
//  1. Every slot's previous holders that are still members keep their order:
//     the r-th survivor seeds role r (a dead primary's first surviving
//     replica becomes primary, the next ones shift up), unless it holds an
//     earlier role for the slot. Once an earlier replica role of the slot
//     went to a member without its data, the next holder without a role
//     seeds it instead: holders shift down behind the new copy rather than
//     drop out, and only the last one drops (see [layer.nextHolder]).
//  2. Quotas: every member gets NumSlots/N slots, the NumSlots%N members
//     holding the most (then the lower IDs) one more. In the primary role a
//     slot whose previous primary is gone while another holder survives is
//     promoted: it goes to that holder (it has the data). A plan that
//     promotes slots moves no role that has a holder, in any layer (every
//     quota is raised to the member's count, no defragmentation): it takes
//     the imbalance instead of giving primaries to members without the
//     data, and a later plan with the same members (nothing to promote)
//     rebalances, with the defragmentation budget of a join.
//  3. Members above quota release their excess: first from a range end that
//     touches already released slots (so released pieces merge), else a
//     whole range no longer than the excess, else the tail of their largest
//     range; only slots that some member below quota may hold.
//  4. Members below quota take the free slots: first a free run next to one
//     of their own ranges (the ranges merge), else the member with the
//     largest deficit takes the best-fitting free run from its start.
//  5. Slots nobody below quota may hold go to the least-loaded member that
//     may hold them (a replica layer only; the balance is then approximate).
//
// So a join moves about 1/(N+1) of the slots in each role and a leave moves
// about the leaver's share, and ranges stay few (see docs/cluster.md).
func Plan(prev *Table, members []Member, replicas int, version uint64) *Table {
	return plan(prev, members, replicas, version, true)
}

// plan is Plan; without defrag it moves no slot to merge ranges (for a
// prev already balanced by handedOn, whose primaries are all members).
func plan(prev *Table, members []Member, replicas int, version uint64, defrag bool) *Table {
	ms := normalizeMembers(members)
	replicas = max(replicas, 0)
	t := &Table{version: version, replicas: replicas, members: ms}
	t.width = min(1+replicas, len(ms))
	if t.width == 0 {
		return t
	}
	t.prefs = make([]uint16, NumSlots*t.width)
	remap := remapIndexes(prev, ms)
	var budget [2]int
	switch {
	case !defrag || prev == nil:
	case unbalanced(prev):
		// A rebalancing plan (after a failover) moves slots too, and
		// undoes the failover's fragmentation.
		budget = defragBudget(len(ms))
		budget[0] *= 3
	case !slices.EqualFunc(prev.members, ms, func(a, b Member) bool { return a.ID == b.ID }):
		budget = defragBudget(len(ms)) // only when slots move anyway
	}
	promoting := false
	for r := range t.width {
		l := newLayer(t, r)
		if !defrag && r > 0 && prev != nil {
			l.markVacant(prev, remap)
		}
		l.seed(prev, remap)
		promoting = promoting || l.promoted()
		l.setQuotas()
		if promoting {
			l.keepHeld()
		}
		l.releaseExcess()
		l.fill(!defrag)
		if !promoting {
			l.defrag(budget[min(r, 1)])
		}
		for s, m := range l.own {
			t.prefs[s*t.width+r] = uint16(m)
		}
	}
	return t
}

// defragBudget returns how many slots a plan for k members may move to
// merge ranges, in the primary role and in each replica role: 18% and 10% of
// NumSlots/(k+1), less than the share that a join or leave moves anyway.
func defragBudget(k int) [2]int {
	share := NumSlots / (k + 1)
	return [2]int{share * 18 / 100, share * 10 / 100}
}

// BuildTable returns the bootstrap table of a member set (no previous
// table): members sorted by ID split the slots into equal contiguous ranges
// in that order (the first NumSlots%N members get one slot more), and the
// r-th replica of a slot is the member r places after its primary in ID
// order, cyclically. Members are sorted by ID and duplicate IDs dropped (the
// first in sort order by ID, Host, Port, GossipAddr is kept); at most 65535
// members are used. replicas < 0 counts as 0.
func BuildTable(members []Member, replicas int, version uint64) *Table {
	return Plan(nil, members, replicas, version)
}

// remapIndexes maps prev's member indexes to indexes in ms (-1 if gone).
func remapIndexes(prev *Table, ms []Member) []int32 {
	if prev == nil {
		return nil
	}
	out := make([]int32, len(prev.members))
	j := 0
	for i, m := range prev.members { // both sorted by ID
		for j < len(ms) && ms[j].ID < m.ID {
			j++
		}
		out[i] = -1
		if j < len(ms) && ms[j].ID == m.ID {
			out[i] = int32(j)
		}
	}
	return out
}

// layer plans one role (column r of the preference lists) of table t, whose
// earlier columns are final.
type layer struct {
	t     *Table
	r     int
	k     int     // members
	own   []int32 // slot -> member index, -1 free
	count []int   // slots held per member
	quota []int
	// pinned marks the slots promoted in this layer (primary role only):
	// their previous primary is gone and own[s] is the first surviving
	// holder. Nothing moves them.
	pinned []bool
	// fresh marks, while fill runs, the slots that were free when it
	// began (no holder kept them) or vacant: whoever takes one copies it.
	fresh []bool
	// vacant marks, in a replica layer of a plan without defragmentation,
	// the slots with a role left over for a new copy: fewer surviving
	// previous holders plus new copies in the earlier layers than the
	// row's width (a departed member's role, the holders after it shifted
	// up). A member without the slot that takes this role over makes that
	// copy, and the holder it replaces moves down a place (nextHolder)
	// instead of out: releasing and moving these first adds no copy
	// (releaseOne, fill). After a departure with 2 replicas no slot of
	// the first replica layer is free, and balancing it moved roles of
	// slots the departed member did not hold (docs/cluster.md, "Crashes
	// copy the dead member's roles").
	vacant []bool
}

func newLayer(t *Table, r int) *layer {
	l := &layer{t: t, r: r, k: len(t.members), own: make([]int32, NumSlots)}
	l.count = make([]int, l.k)
	l.quota = make([]int, l.k)
	return l
}

// forbidden reports whether member m holds an earlier role for slot s.
func (l *layer) forbidden(s, m int) bool {
	row := l.t.prefs[s*l.t.width : s*l.t.width+l.r]
	return slices.Contains(row, uint16(m))
}

// seed sets every slot's holder to its r-th previous holder still present
// (previous order kept), if that member holds no earlier role. In the
// primary role it pins the slots whose previous primary is gone (promoted).
// If nothing is kept, it falls back to the bootstrap split (primaries) or
// to the rotation of the primaries (replicas).
func (l *layer) seed(prev *Table, remap []int32) {
	kept := 0
	if l.r == 0 && prev != nil {
		l.pinned = make([]bool, NumSlots)
	}
	for s := range NumSlots {
		m := int32(-1)
		if prev != nil {
			m = l.nextHolder(prev, remap, s)
		}
		l.own[s] = m
		if m >= 0 {
			kept++
			if l.pinned != nil && prev.width > 0 && remap[prev.prefs[s*prev.width]] < 0 {
				l.pinned[s] = true
			}
		}
	}
	if kept == 0 {
		l.bootstrap()
	}
	for _, m := range l.own {
		if m >= 0 {
			l.count[m]++
		}
	}
}

// nextHolder returns the index (in the new members) of the member that
// seeds role r of slot s: the r-th member of the slot's previous preference
// list that is still a member, or -1 if there is none or it holds an earlier
// role. But when an earlier replica role went to a member that did not hold
// the slot (a new copy, still to be synced), the first previous holder
// without a role yet seeds it: the holder whose role was given away moves
// down one place instead of out of the list, so the slot's copies keep
// their order behind the new one and the last copy drops out (a write
// that WAIT counted on the first replicas stays on a replica listed before
// the others that have the data; docs/replication.md).
func (l *layer) nextHolder(prev *Table, remap []int32, s int) int32 {
	row := prev.prefs[s*prev.width : (s+1)*prev.width]
	shift := false
	for k := 1; k < l.r; k++ {
		m := int32(l.t.prefs[s*l.t.width+k])
		shift = shift || !slices.ContainsFunc(row, func(p uint16) bool { return remap[p] == m })
	}
	r := l.r
	for _, p := range row {
		m := remap[p]
		switch {
		case m < 0:
		case shift && !l.forbidden(s, int(m)):
			return m
		case !shift && r == 0:
			if l.forbidden(s, int(m)) {
				return -1
			}
			return m
		case !shift:
			r--
		}
	}
	return -1
}

// markVacant sets l.vacant (before seed): the slots whose surviving
// previous holders and new copies in the earlier layers number fewer than
// the table's width.
func (l *layer) markVacant(prev *Table, remap []int32) {
	l.vacant = make([]bool, NumSlots)
	w := l.t.width
	for s := range NumSlots {
		row := prev.prefs[s*prev.width : (s+1)*prev.width]
		n := 0
		for _, p := range row {
			if remap[p] >= 0 {
				n++
			}
		}
		for _, m := range l.t.prefs[s*w : s*w+l.r] {
			if !slices.ContainsFunc(row, func(p uint16) bool { return remap[p] == int32(m) }) {
				n++
			}
		}
		l.vacant[s] = n < w
	}
}

// promoted reports whether the layer holds promoted slots.
func (l *layer) promoted() bool { return slices.Contains(l.pinned, true) }

// keepHeld, in a plan with promoted slots, raises every member's quota to
// what it holds in this layer, so that balancing moves no slot role that
// has a holder: the promoted primaries have their data only there, and
// moving other roles during a failover would add hand-offs and copies to
// it. Only roles without a surviving holder are handed out (to members
// below quota first). The table is unbalanced until a later plan (see
// [Plan]).
func (l *layer) keepHeld() {
	for m := range l.k {
		l.quota[m] = max(l.quota[m], l.count[m])
	}
}

// unbalanced reports whether t's primaries are more than one slot apart
// (a failover plan's table).
func unbalanced(t *Table) bool {
	c := make([]int, len(t.members))
	for s := range NumSlots {
		if t.width > 0 {
			c[t.prefs[s*t.width]]++
		}
	}
	return len(c) > 0 && slices.Max(c)-slices.Min(c) > 1
}

// bootstrap assigns equal contiguous ranges in ID order (primaries) or the
// rotation of the primaries by r places (replicas; never a forbidden member
// when the earlier layers are rotations too).
func (l *layer) bootstrap() {
	w := l.t.width
	for s := range NumSlots {
		if l.r == 0 {
			l.own[s] = int32(bootstrapOwner(s, l.k))
			continue
		}
		m := (int(l.t.prefs[s*w]) + l.r) % l.k
		if l.forbidden(s, m) {
			l.own[s] = -1
			continue
		}
		l.own[s] = int32(m)
	}
}

// bootstrapOwner is the member index of slot s in an equal contiguous split
// among k members, the first NumSlots%k members one slot larger.
func bootstrapOwner(s, k int) int {
	base, extra := NumSlots/k, NumSlots%k
	if big := extra * (base + 1); s < big {
		return s / (base + 1)
	} else {
		return extra + (s-big)/base
	}
}

// setQuotas gives every member NumSlots/k slots and the NumSlots%k members
// holding the most (ties: lower index) one more.
func (l *layer) setQuotas() {
	order := make([]int, l.k)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return l.count[b] - l.count[a] })
	base, extra := NumSlots/l.k, NumSlots%l.k
	for i, m := range order {
		l.quota[m] = base
		if i < extra {
			l.quota[m]++
		}
	}
}

// deficit returns how many slots member m lacks to reach its quota.
func (l *layer) deficit(m int) int { return l.quota[m] - l.count[m] }

// receivers returns the members below quota.
func (l *layer) receivers() []int {
	var out []int
	for m := range l.k {
		if l.deficit(m) > 0 {
			out = append(out, m)
		}
	}
	return out
}

// takeable reports whether one of the receivers may hold slot s.
func (l *layer) takeable(s int, receivers []int) bool {
	for _, m := range receivers {
		if !l.forbidden(s, m) {
			return true
		}
	}
	return false
}

// set makes m (or nobody, -1) the holder of slots [a, b].
func (l *layer) set(a, b int, m int32) {
	for s := a; s <= b; s++ {
		if o := l.own[s]; o >= 0 {
			l.count[o]--
		}
		l.own[s] = m
		if m >= 0 {
			l.count[m]++
		}
	}
}

// runs returns the maximal runs of slots satisfying in, ascending.
func runs(in func(s int) bool) []SlotRange {
	var out []SlotRange
	start := -1
	for s := 0; s <= NumSlots; s++ {
		ok := s < NumSlots && in(s)
		switch {
		case ok && start < 0:
			start = s
		case !ok && start >= 0:
			out = append(out, SlotRange{start, s - 1})
			start = -1
		}
	}
	return out
}

func (r SlotRange) size() int { return r.End - r.Start + 1 }

// releaseExcess frees the slots members hold above their quota.
func (l *layer) releaseExcess() {
	anyDeficit := false
	for m := range l.k {
		anyDeficit = anyDeficit || l.deficit(m) > 0
	}
	if !anyDeficit {
		return
	}
	for m := range l.k {
		for e := -l.deficit(m); e > 0; e = -l.deficit(m) {
			l.releaseOne(m, e)
		}
	}
}

// releaseOne frees up to e slots of member m from one of its ranges.
func (l *layer) releaseOne(m, e int) {
	recv := l.receivers()
	mine := func(s int) bool { return int(l.own[s]) == m && l.takeable(s, recv) }
	var rs []SlotRange
	if l.vacant != nil { // vacant slots first: releasing them adds no copy
		rs = runs(func(s int) bool { return l.vacant[s] && mine(s) })
	}
	if len(rs) == 0 {
		rs = runs(mine)
	}
	if len(rs) == 0 { // nothing anyone below quota could take: release anyway
		rs = runs(func(s int) bool { return int(l.own[s]) == m })
	}
	for _, r := range rs { // (a) next to free slots
		if n := min(e, r.size()); r.Start > 0 && l.own[r.Start-1] < 0 {
			l.set(r.Start, r.Start+n-1, -1)
			return
		} else if r.End < NumSlots-1 && l.own[r.End+1] < 0 {
			l.set(r.End-n+1, r.End, -1)
			return
		}
	}
	small, large := -1, 0
	for i, r := range rs {
		if r.size() <= e && (small < 0 || r.size() < rs[small].size()) {
			small = i
		}
		if r.size() > rs[large].size() {
			large = i
		}
	}
	if small >= 0 { // (b) a whole small range
		l.set(rs[small].Start, rs[small].End, -1)
		return
	}
	r := rs[large] // (c) the tail of the largest
	l.set(r.End-e+1, r.End, -1)
}

// fill hands the free slots to members below quota, then any rest to the
// least-loaded allowed member, and rebalances. With freshFirst (a plan
// without defragmentation: a leave's or a crash's, from handedOn) the
// rebalancing moves slots that were free at the start or are vacant
// (l.vacant) first, which adds no copy, and others only where those
// cannot balance the layer. Plans that defragment keep the rebalancing
// that merges ranges best: fresh slots lie scattered, and moving them
// first left the random walk of TestPlanRandomWalk with 8 primary ranges
// per member instead of 7 at most.
func (l *layer) fill(freshFirst bool) {
	if freshFirst {
		l.fresh = make([]bool, NumSlots)
		for s, m := range l.own {
			l.fresh[s] = m < 0 || l.vacant != nil && l.vacant[s]
		}
	}
	stuck := make([]bool, l.k)
	for l.fillAdjacent() || l.fillNeediest(stuck) {
	}
	l.fillRest()
	for freshFirst && (l.rebalance(false, true) || l.rebalance(true, true)) ||
		l.rebalance(false, false) || l.rebalance(true, false) {
	}
	l.fresh = nil
}

// rebalance moves slots from a member above quota to one below it that
// may hold them (direct), or, with via, through a third member: x takes
// slots of the member above quota and hands as many of its own to the one
// below. It prefers runs next to the receiver's ranges and reports whether
// it moved anything. Only replica layers need it: there a member may not
// hold the slots it is primary of, so the greedy fill can leave it short.
// With fresh it moves only slots that were free when the fill began or
// are vacant: each is a copy whoever takes it, so moving it adds none,
// where moving a slot its holder kept makes a copy that balance alone
// asks for (after a crash of 4 → 3 nodes, up to a sixth more copies than
// the dead member's roles: docs/cluster.md "Crashes copy the dead
// member's roles").
func (l *layer) rebalance(via, fresh bool) bool {
	for u := range l.k {
		if l.deficit(u) <= 0 {
			continue
		}
		for o := range l.k {
			if l.deficit(o) >= 0 {
				continue
			}
			n := min(l.deficit(u), -l.deficit(o))
			if !via {
				if l.transfer(o, u, n, fresh) {
					return true
				}
				continue
			}
			for x := range l.k {
				if x == u || x == o {
					continue
				}
				if m := l.movable(x, u, n, fresh); m > 0 && l.movable(o, x, m, fresh) > 0 {
					m = min(m, l.movable(o, x, m, fresh))
					l.transfer(x, u, m, fresh)
					l.transfer(o, x, m, fresh)
					return true
				}
			}
		}
	}
	return false
}

// movable returns how many (up to n) slots of member from member to may
// hold (only fresh ones, with fresh), in from's largest run of such slots.
func (l *layer) movable(from, to, n int, fresh bool) int {
	best := 0
	for _, r := range runs(l.canMove(from, to, fresh)) {
		best = max(best, min(n, r.size()))
	}
	return best
}

// canMove returns the test of a slot that member from holds and member to
// may take over (only a fresh one, with fresh).
func (l *layer) canMove(from, to int, fresh bool) func(s int) bool {
	return func(s int) bool {
		return int(l.own[s]) == from && !l.forbidden(s, to) && (!fresh || l.fresh[s])
	}
}

// transfer moves up to n slots from member from to member to, out of one
// run of from's slots that to may hold (only fresh ones, with fresh): a run
// touching a range of to if any (from that end), else the largest (from
// its end). It reports whether it moved anything.
func (l *layer) transfer(from, to, n int, fresh bool) bool {
	rs := runs(l.canMove(from, to, fresh))
	if len(rs) == 0 || n <= 0 {
		return false
	}
	large := 0
	for i, r := range rs {
		c := min(n, r.size())
		if r.Start > 0 && int(l.own[r.Start-1]) == to {
			l.set(r.Start, r.Start+c-1, int32(to))
			return true
		}
		if r.End < NumSlots-1 && int(l.own[r.End+1]) == to {
			l.set(r.End-c+1, r.End, int32(to))
			return true
		}
		if r.size() > rs[large].size() {
			large = i
		}
	}
	r := rs[large]
	l.set(r.End-min(n, r.size())+1, r.End, int32(to))
	return true
}

// fillAdjacent lets a member below quota take free slots next to one of its
// ranges; it reports whether it did.
func (l *layer) fillAdjacent() bool {
	for _, r := range runs(func(s int) bool { return l.own[s] < 0 }) {
		if r.Start > 0 {
			if m := int(l.own[r.Start-1]); l.deficit(m) > 0 && !l.forbidden(r.Start, m) {
				l.takeFrom(m, r.Start, 1)
				return true
			}
		}
		if r.End < NumSlots-1 {
			if m := int(l.own[r.End+1]); l.deficit(m) > 0 && !l.forbidden(r.End, m) {
				l.takeFrom(m, r.End, -1)
				return true
			}
		}
	}
	return false
}

// takeFrom gives m up to its deficit in free, allowed slots starting at s
// and walking in direction dir (+1 or -1).
func (l *layer) takeFrom(m, s, dir int) {
	for d := l.deficit(m); d > 0 && s >= 0 && s < NumSlots && l.own[s] < 0 && !l.forbidden(s, m); d-- {
		l.set(s, s, int32(m))
		s += dir
	}
}

// fillNeediest lets the member with the largest deficit (not stuck) take
// the smallest free run it may hold that covers its deficit, else the
// largest; a member that may hold no free slot becomes stuck. It reports
// whether it changed anything.
func (l *layer) fillNeediest(stuck []bool) bool {
	m := -1
	for i := range l.k {
		if !stuck[i] && l.deficit(i) > 0 && (m < 0 || l.deficit(i) > l.deficit(m)) {
			m = i
		}
	}
	if m < 0 {
		return false
	}
	rs := runs(func(s int) bool { return l.own[s] < 0 && !l.forbidden(s, m) })
	if len(rs) == 0 {
		stuck[m] = true
		return true
	}
	d, best, large := l.deficit(m), -1, 0
	for i, r := range rs {
		if r.size() >= d && (best < 0 || r.size() < rs[best].size()) {
			best = i
		}
		if r.size() > rs[large].size() {
			large = i
		}
	}
	if best < 0 {
		best = large
	}
	l.takeFrom(m, rs[best].Start, 1)
	return true
}

// fillRest gives each remaining free run, piece by piece, to the allowed
// member with the fewest slots above its quota (ties: lower index).
func (l *layer) fillRest() {
	for _, r := range runs(func(s int) bool { return l.own[s] < 0 }) {
		for s := r.Start; s <= r.End; {
			m := -1
			for i := range l.k {
				if !l.forbidden(s, i) && (m < 0 || -l.deficit(i) < -l.deficit(m)) {
					m = i
				}
			}
			if m < 0 { // cannot happen: width <= k leaves a member free
				panic("cluster: no member may hold a slot")
			}
			e := s
			for e < r.End && !l.forbidden(e+1, m) && e-s < NumSlots/l.k/8 {
				e++
			}
			l.set(s, e, int32(m))
			s = e + 1
		}
	}
}

// Stage returns a copy of t with the given version in which the slots of
// slots that the member with ID to neither is primary of nor replicates,
// and no others, have it as incoming member (a staged move to it, as the
// coordinator plans one, StagedSince included). With Flip, tests step a
// hand-over without a coordinator.
func Stage(t *Table, slots []int, to string, version uint64) *Table {
	out := *t
	out.version, out.planner = version, ""
	m := t.IndexOf(to)
	out.incoming, out.oldPos, out.since = nil, nil, nil
	for _, s := range slots {
		if s < 0 || s >= NumSlots || m < 0 || t.Rank(s, m) >= 0 {
			continue
		}
		out.stageColumns()
		out.incoming[s] = uint16(m)
		out.since[s] = stagedSince(t, s, t.Owner(s).ID, to, version)
	}
	return &out
}

// Flip returns a copy of t with the given version in which, for every slot
// of slots whose preference list holds the member with ID to after its
// primary, to becomes the primary and the old primary takes to's place:
// the last step of a hand-over, when the new primary already holds the
// slot's data as a replica. A slot staged to to as its incoming member
// (Stage) gets the row its stage targets instead (targetRow), no longer
// staged; the old primary stays among the members even where no row
// lists it any more. Other slots, and slots to does not hold, are
// unchanged.
func Flip(t *Table, slots []int, to string, version uint64) *Table {
	out := *t
	out.version, out.planner = version, ""
	out.prefs = slices.Clone(t.prefs)
	out.incoming, out.oldPos, out.since = slices.Clone(t.incoming), slices.Clone(t.oldPos), slices.Clone(t.since)
	m := t.IndexOf(to)
	for _, s := range slots {
		if s < 0 || s >= NumSlots || m < 0 {
			continue
		}
		row := out.prefs[s*t.width : (s+1)*t.width]
		if t.IncomingIndex(s) == m {
			copy(row, targetRow(nil, t, s))
			out.incoming[s], out.oldPos[s] = noMember, 0
			if out.since != nil { // nil in a table of an older wire format
				out.since[s] = 0
			}
			continue
		}
		if i := slices.Index(row, uint16(m)); i > 0 {
			row[0], row[i] = row[i], row[0]
		}
	}
	if out.incoming != nil && out.Staged() == 0 {
		out.incoming, out.oldPos, out.since, out.retained = nil, nil, nil, nil
	}
	return &out
}
