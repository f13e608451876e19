package cluster

import "math"

// lastLive is what a node remembers of one member's copies: for each slot,
// the latest table version in which the member reported its copy live
// while the table gave it the slot as replica, incoming or retained
// member; 0 if it never did, or if a table adopted since gave it no role
// in the slot (it then drops its copy). A member's report for the current
// table says only whether the copy is live now, and a copy whose primary
// crashed stops being live (its link is down) though it is as complete as
// a failover can get; its report may also arrive late. A failover sorts
// a dead primary's surviving holders with this record (stageInput.copyTier),
// so that it promotes a copy that was complete over one that never was,
// however late the reports. Values are never changed in place: a change
// makes a new lastLive (the planner reads them without the node's lock).
type lastLive [NumSlots]uint32

// withReport returns ll (nil: nothing recorded yet) updated with member
// id's report h, if h is for t's version; ll itself if nothing changes. A
// copy h reports flushed loses its record: it is part of a copy now,
// whatever it was.
func (ll *lastLive) withReport(id string, h holding, t *Table) *lastLive {
	if h.version == 0 || t == nil || h.version != t.version {
		return ll
	}
	idx := t.IndexOf(id)
	if idx < 0 {
		return ll
	}
	v := uint32(min(h.version, math.MaxUint32))
	out := ll
	set := func(s int, to uint32) {
		if out == ll {
			out = new(lastLive)
			if ll != nil {
				*out = *ll
			}
		}
		out[s] = to
	}
	next, nextF := 0, 0 // index of the first range of h.notLive, h.flushed that may contain s
	for s := range NumSlots {
		for next < len(h.notLive) && h.notLive[next].End < s {
			next++
		}
		for nextF < len(h.flushed) && h.flushed[nextF].End < s {
			nextF++
		}
		if nextF < len(h.flushed) && h.flushed[nextF].Start <= s {
			if out != nil && out[s] != 0 {
				set(s, 0)
			}
			continue
		}
		if next < len(h.notLive) && h.notLive[next].Start <= s {
			continue // not live
		}
		if t.OwnerIndex(s) == idx || !t.holdsIndex(s, idx) || (out != nil && out[s] == v) {
			continue
		}
		set(s, v)
	}
	return out
}

// keptBy returns ll with the slots that t gives member id no role in
// cleared (it drops those copies), nil if t does not list id or nothing
// is left; ll itself if nothing changes.
func (ll *lastLive) keptBy(id string, t *Table) *lastLive {
	if ll == nil {
		return nil
	}
	idx := t.IndexOf(id)
	if idx < 0 {
		return nil
	}
	out, left := ll, false
	for s := range NumSlots {
		if ll[s] == 0 {
			continue
		}
		if t.holdsIndex(s, idx) {
			left = true
			continue
		}
		if out == ll {
			out = new(lastLive)
			*out = *ll
		}
		out[s] = 0
	}
	if !left {
		return nil
	}
	return out
}

// noteLiveLocked records member id's report h in n.lastLive if it is for
// the current table. n.mu must be held.
func (n *Node) noteLiveLocked(id string, h holding) {
	if ll := n.lastLive[id].withReport(id, h, n.table.Load()); ll != nil {
		n.lastLive[id] = ll
	}
}

// keepLiveLocked updates n.lastLive for table t, just adopted: the copies
// t gives no role are forgotten, and the reports already made for t's
// version (they may come before the table) are recorded. n.mu must be
// held.
func (n *Node) keepLiveLocked(t *Table) {
	for id, ll := range n.lastLive {
		if kept := ll.keptBy(id, t); kept == nil {
			delete(n.lastLive, id)
		} else {
			n.lastLive[id] = kept
		}
	}
	for id, h := range n.reports {
		n.noteLiveLocked(id, h)
	}
}
