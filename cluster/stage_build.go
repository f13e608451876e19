package cluster

import "slices"

// How nextTable turns its rows into the staged table (stage.go): filling
// short rows, the copy a replica move retains, and the incoming member's
// columns.

// staging is nextTable's result in the making: rows by member ID
// (primary first; staged rows may be short), incoming members and oldPos.
type staging struct {
	in   stageInput
	t    *Table // the target
	rows [][]string
	inc  []string
	pos  []uint8
	used map[string]bool // members the result keeps
	cand []string        // fill's scratch
}

// build turns the rows into a Table whose members are the target's plus the
// current primaries of staged slots and the leaving members it retains.
// Short rows are filled up to the table's width (fill): with the slot's
// current replicas that are target members, then with the incoming member
// as the last replica, which then stays incoming too (the one overlap the
// wire format allows: flipReady), and only where a row is short by more
// with other target members, then any member still alive, before it.
func (st *staging) build() *Table {
	cur := st.in.cur
	var ms []Member
	for _, m := range cur.members {
		if st.used[m.ID] && st.t.IndexOf(m.ID) < 0 {
			ms = append(ms, m)
		}
	}
	ms = normalizeMembers(append(ms, st.t.members...))
	width := min(1+st.in.replicas, len(ms))
	// A leaving member that only keeps copies (retained, in no row) joins
	// the members without widening the rows: only when the width is
	// 1+replicas already.
	leaversFit := width == 1+st.in.replicas
	retained := make([]string, NumSlots)
	var extra []Member
	for s := range NumSlots {
		row := st.fill(s, st.rows[s], width, ms)
		st.rows[s] = row
		// An incoming member fill listed as the row's last replica stays
		// incoming: it takes the slot over only once the primary marked
		// it (flipReady).
		inc := st.inc[s]
		id := st.retain(s, row, inc, ms, leaversFit)
		retained[s] = id
		if id != "" && !slices.ContainsFunc(ms, func(m Member) bool { return m.ID == id }) &&
			!slices.ContainsFunc(extra, func(m Member) bool { return m.ID == id }) {
			extra = append(extra, cur.members[cur.IndexOf(id)])
		}
	}
	if extra != nil {
		ms = normalizeMembers(append(ms, extra...))
	}
	out := &Table{version: st.in.version, replicas: st.in.replicas, members: ms, width: width}
	out.prefs = make([]uint16, NumSlots*out.width)
	idx := make(map[string]uint16, len(ms))
	for i, m := range ms {
		idx[m.ID] = uint16(i)
	}
	for s := range NumSlots {
		for k, id := range st.rows[s] {
			out.prefs[s*out.width+k] = idx[id]
		}
		if inc := st.inc[s]; inc != "" {
			out.stageColumns()
			out.incoming[s], out.oldPos[s] = idx[inc], st.pos[s]
			out.since[s] = stagedSince(cur, s, st.rows[s][0], inc, st.in.version)
		}
		if id := retained[s]; id != "" {
			out.stageColumns()
			if out.retained == nil {
				out.retained = make([]uint16, NumSlots)
				for i := range out.retained {
					out.retained[i] = noMember
				}
			}
			out.retained[s] = idx[id]
		}
	}
	return out
}

// stagedSince returns the since value of slot s staged from primary p to
// inc in a table of version v planned from cur: cur's if cur staged it the
// same way, else v.
func stagedSince(cur *Table, s int, p, inc string, v uint64) uint64 {
	if in := cur.IncomingIndex(s); in >= 0 && cur.members[in].ID == inc && cur.Owner(s).ID == p && cur.StagedSince(s) != 0 {
		return cur.since[s]
	}
	return v
}

// stageColumns allocates t's incoming and oldPos columns (no slot staged)
// if t has none.
func (t *Table) stageColumns() {
	if t.incoming != nil {
		return
	}
	t.incoming, t.oldPos, t.since = make([]uint16, NumSlots), make([]uint8, NumSlots), make([]uint64, NumSlots)
	for i := range t.incoming {
		t.incoming[i] = noMember
	}
}

// retain returns the member that keeps its copy of slot s in the table
// being built although row (the slot's new preference list, by ID) drops
// it, or "": while some replica in row is not ready (it did not hold the
// slot in cur or has not reported it live for cur's version), the first
// replica of cur's row that is still alive and neither in row nor the
// incoming member inc, else cur's retained member on the same terms. The
// member is one of ms (the table's members so far) or, if leavers, a live
// member that is leaving (not a target member; it joins the table's
// members). So a replica move (a join gives the new member replica roles
// at once, a leave takes the leaver's) keeps the copy the old list vouched
// for until the new copies are complete, and a failover meanwhile can
// promote it (liveFirst, leaverFirst).
func (st *staging) retain(s int, row []string, inc string, ms []Member, leavers bool) string {
	cur, in := st.in.cur, st.in
	if !slices.ContainsFunc(row[1:], func(id string) bool { return !in.ready(id, s) }) {
		return ""
	}
	keeps := func(id string) bool {
		if !in.alive[id] || id == inc || slices.Contains(row, id) {
			return false
		}
		if st.t.IndexOf(id) < 0 { // leaving
			return leavers || slices.ContainsFunc(ms, func(m Member) bool { return m.ID == id })
		}
		return true
	}
	// cur's replicas in order, then its retained member: by index, with no
	// allocation (this runs for every slot of every step).
	for k := 1; k < cur.width; k++ {
		if id := cur.members[cur.prefs[s*cur.width+k]].ID; keeps(id) {
			return id
		}
	}
	if i := cur.RetainedIndex(s); i >= 0 && keeps(cur.members[i].ID) {
		return cur.members[i].ID
	}
	return ""
}

// fill completes slot s's row to width members of ms (see build): first
// with cur's replicas of the slot that are target members (their copies
// stay), then with the incoming member as the row's last replica (it
// copies the slot anyway), other target members and any member still
// alive before it. A member fill adds other than those two copies the slot
// only to drop it at the flip: the target row does not list it. A failover
// that promotes a survivor and stages the slot from it to another member
// leaves such a short row (the dead member's role vacant), and padding it
// with a third member cost 0.13-0.20 more copies than the dead member's
// roles on average, up to 0.30 (docs/cluster.md "Crashes copy the dead
// member's roles").
func (st *staging) fill(s int, row []string, width int, ms []Member) []string {
	if len(row) >= width {
		return row[:width]
	}
	inc := st.inc[s]
	cand := st.cand[:0] // reused: no allocation per short row
	cur := st.in.cur
	for k := 1; k < cur.width; k++ {
		if id := cur.members[cur.prefs[s*cur.width+k]].ID; st.t.IndexOf(id) >= 0 {
			cand = append(cand, id)
		}
	}
	kept := len(cand)
	for _, m := range st.t.members {
		cand = append(cand, m.ID)
	}
	for _, m := range ms {
		if st.in.alive[m.ID] {
			cand = append(cand, m.ID)
		}
	}
	st.cand = cand
	member := func(id string) bool { return slices.ContainsFunc(ms, func(m Member) bool { return m.ID == id }) }
	add := func(cand []string, upTo int) {
		for _, id := range cand {
			if len(row) < upTo && id != inc && !slices.Contains(row, id) && member(id) {
				row = append(row, id)
			}
		}
	}
	add(cand[:kept], width)
	if len(row) == width || inc == "" || slices.Contains(row, inc) {
		add(cand[kept:], width)
		return row
	}
	add(cand[kept:], width-1)
	return append(row, inc)
}
