package cluster

import (
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// metaUpdateTimeout bounds how long metaLoop waits for memberlist to send
// a meta update to some member.
const metaUpdateTimeout = time.Second

// metaEvery is the least time between two meta updates: holding reports
// change slot by slot during a sync and are coalesced.
const metaEvery = 50 * time.Millisecond

// BeginLeave announces that this node is about to leave gracefully: its
// gossip meta says "leaving", so the coordinator plans it out in stages
// (each of its slots is flipped to its next primary once that member holds
// the slot live) while the node keeps serving. The caller waits for
// HandedOff (bounded by its own deadline), then calls Close. It is
// idempotent.
func (n *Node) BeginLeave() {
	if n.leaving.Swap(true) {
		return
	}
	n.mu.Lock()
	n.meta.Leaving = true
	n.dirty = true
	n.wake()
	n.mu.Unlock()
	n.kickMeta()
	n.log.Info("cluster: leaving: handing slots over", "version", n.Table().Version())
}

// Leaving reports whether BeginLeave was called.
func (n *Node) Leaving() bool { return n.leaving.Load() }

// HandedOff reports whether the current table no longer gives this node
// any slot (as primary, replica or incoming member).
func (n *Node) HandedOff() bool {
	t := n.Table()
	self := t.IndexOf(n.id)
	if self < 0 {
		return true
	}
	for s := range NumSlots {
		if t.holdsIndex(s, self) {
			return false
		}
	}
	return true
}

// ReportHeld records this node's holding report for table version: notLive
// lists (sorted, disjoint) the slots it holds in that table as replica or
// incoming member whose copy is not live yet, and flushed those of them
// whose copy it dropped for a snapshot that is still loading. The report
// travels in the node's gossip meta; the coordinator flips a staged slot
// once its incoming member reports it live for the current table, and a
// failover does not count a flushed copy as one that was live (copyTier).
// Reports that do not fit in the meta are shortened conservatively: more
// slots count as not live, fewer as flushed (as before flushed existed);
// flushed ranges take at most a third of the room.
func (n *Node) ReportHeld(version uint64, notLive, flushed []SlotRange) {
	n.mu.Lock()
	defer n.mu.Unlock()
	old := n.reports[n.id]
	if old.same(holding{version: version, notLive: notLive, flushed: flushed}) {
		return
	}
	// The flushed ranges get up to a third of the room, the rest goes to
	// the not-live ones.
	room := memberlist.MetaMaxSize - 16 - len(encodeMeta(meta{ID: n.meta.ID, Host: n.meta.Host, Port: n.meta.Port,
		Leaving: true, HeldVersion: version, NotLive: "x", Flushed: "x"}))
	n.meta.HeldVersion = version
	n.meta.Flushed = encodeRangesFit(flushed, room/3)
	n.meta.NotLive = encodeRanges(notLive, room-len(n.meta.Flushed))
	h := holding{version: version}
	h.notLive, _ = decodeRanges(n.meta.NotLive) // what peers will see
	h.flushed, _ = decodeRanges(n.meta.Flushed)
	if old.version != 0 && old.version != version {
		n.earlier[n.id] = old
	}
	n.reports[n.id] = h
	n.noteLiveLocked(n.id, h)
	n.dirty = true
	n.wake()
	n.kickMeta()
}

// HeldReport returns the holding report this node has of member id (its
// own, or the last its gossip meta carried): the table version it is for
// (0: none yet), the slots held there not live yet, and of those the ones
// whose copy was flushed for a snapshot still loading.
func (n *Node) HeldReport(id string) (version uint64, notLive, flushed []SlotRange) {
	n.mu.Lock()
	defer n.mu.Unlock()
	h := n.reports[id]
	return h.version, slices.Clone(h.notLive), slices.Clone(h.flushed)
}

// PeersReported reports whether every other member of the current table
// that this node sees alive has reported holding for the table's version
// or a later one: it applied the table, so a client that reloads its slot
// map from it gets this table or a newer one. A leaving node waits for it
// before it counts its last quiet moments (a dead member, which reports
// nothing, is not waited for).
func (n *Node) PeersReported() bool {
	t := n.Table()
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range t.members {
		if _, alive := n.seen[m.ID]; m.ID == n.id || !alive || n.outLocked(m.ID) {
			continue
		}
		if n.reports[m.ID].version < t.version {
			return false
		}
	}
	return true
}

// kickMeta wakes metaLoop without blocking.
func (n *Node) kickMeta() {
	select {
	case n.metaKick <- struct{}{}:
	default:
	}
}

// metaLoop re-advertises the node's meta (memberlist UpdateNode) when it
// changes, at most once per metaEvery. It returns when n.stop closes.
func (n *Node) metaLoop() {
	defer n.wg.Done()
	for {
		select {
		case <-n.stop:
			return
		case <-n.metaKick:
		}
		n.mu.Lock()
		m := encodeMeta(n.meta)
		n.mu.Unlock()
		if len(m) > memberlist.MetaMaxSize { // cannot happen: ReportHeld leaves room
			continue
		}
		n.del.meta.Store(&m)
		n.lifeMu.Lock()
		closed := n.closed
		n.lifeMu.Unlock()
		if closed {
			return
		}
		if err := n.ml.UpdateNode(metaUpdateTimeout); err != nil {
			n.log.Debug("cluster: meta update", "err", err)
		}
		select {
		case <-n.stop:
			return
		case <-time.After(metaEvery):
		}
	}
}

// pushTableLocked sends a table this node planned straight to every live
// member over memberlist's reliable (TCP) channel, besides the gossip
// broadcast: a flip takes effect on the old and the new primary within
// about a round trip of each other instead of a few gossip rounds (while
// they disagree, clients bounce between them with MOVED). One goroutine
// per member, owned by the node (Close waits for them; each is bounded by
// memberlist's TCP timeout). n.mu must not be held (lifeMu comes first).
func (n *Node) pushTable(enc []byte) {
	var to []*memberlist.Node // our copies: memberlist's own Nodes change under its lock
	n.mu.Lock()
	for id, m := range n.seen {
		if id == n.id {
			continue
		}
		if node := gossipNode(id, m.GossipAddr); node != nil {
			to = append(to, node)
		}
	}
	n.mu.Unlock()
	n.pushTableTo(enc, to)
}

// gossipNode is the memberlist address of member id at gossip address
// addr (host:port, an IP host), nil if addr is not one.
func gossipNode(id, addr string) *memberlist.Node {
	host, port, err := net.SplitHostPort(addr)
	p, perr := strconv.Atoi(port)
	if err != nil || perr != nil || net.ParseIP(host) == nil {
		return nil
	}
	return &memberlist.Node{Name: id, Addr: net.ParseIP(host), Port: uint16(p)}
}

// pushTableTo sends enc to each node of to over memberlist's reliable
// channel, one goroutine each, owned by the node (see pushTable). n.mu
// must not be held.
func (n *Node) pushTableTo(enc []byte, to []*memberlist.Node) {
	n.lifeMu.Lock()
	defer n.lifeMu.Unlock()
	if n.closed {
		return
	}
	for _, node := range to {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := n.ml.SendReliable(node, enc); err != nil {
				n.log.Debug("cluster: table push", "to", node.Name, "err", err)
			}
		}()
	}
}

// noteMetaLocked records a peer's leaving flag and holding report from its
// meta. n.mu must be held.
func (n *Node) noteMetaLocked(id string, node *memberlist.Node) {
	if id == n.id {
		return // our own report is set by ReportHeld
	}
	md, h := extrasOf(node)
	if md.Leaving != n.leavers[id] {
		n.leavers[id] = md.Leaving
		n.dirty = true
	}
	if md.Restarted != n.restarters[id] {
		n.noteRestarterLocked(id, md.Restarted)
	}
	if old := n.reports[id]; !old.same(h) {
		if old.version != 0 && old.version != h.version {
			n.earlier[id] = old
		}
		n.reports[id] = h
		n.noteLiveLocked(id, h)
		n.dirty = true
	}
}

// isLeavingLocked reports whether member id is leaving (this node or a
// peer whose meta says so). n.mu must be held.
func (n *Node) isLeavingLocked(id string) bool {
	if id == n.id {
		return n.leaving.Load()
	}
	return n.leavers[id]
}

// stageInputLocked gathers what nextTable needs from the live view.
// n.mu must be held.
func (n *Node) stageInputLocked(cur *Table, live []Member) stageInput {
	in := stageInput{cur: cur, alive: make(map[string]bool, len(live)), reports: make(map[string]holding, len(n.reports)),
		replicas: n.replicas, version: cur.version + 1, maxFlips: flipBatch, stage: n.stage}
	for _, m := range live {
		in.alive[m.ID] = true
	}
	in.target = n.plannedLocked(cur, live)
	for id, h := range n.reports {
		in.reports[id] = h
	}
	in.earlier = make(map[string]holding, len(n.earlier))
	for id, h := range n.earlier {
		in.earlier[id] = h
	}
	in.lastLive = make(map[string]*lastLive, len(n.lastLive))
	for id, ll := range n.lastLive {
		in.lastLive[id] = ll // never changed in place
	}
	return in
}

// reportWait bounds how long a staged step waits for every member to report
// the current table (a member that never reports must not stall moves).
const reportWait = 2 * time.Second

// stepSettledLocked reports whether cur was planned for the member set
// target: the members its staged moves lead to (the target rows rebuilt by
// virtualTable) are target's, by ID. Then the next table only advances the
// staged moves. n.mu must be held.
func (n *Node) stepSettledLocked(cur *Table, target []Member) bool {
	if n.virtFor != cur {
		alive := make(map[string]bool, len(cur.members))
		for _, m := range cur.members {
			alive[m.ID] = true // dead primaries count as alive here: only the member set matters
		}
		n.virtFor, n.virtIDs = cur, memberIDs(virtualTable(cur, alive).members)
	}
	return slices.Equal(n.virtIDs, memberIDs(target))
}

// allReportedLocked reports whether every member of target that is a
// member of cur has reported holding for cur's version, or cur is older
// than reportWait. A staged step waits for that, so that no member sees a
// version gap in normal operation (a gap makes a node drop every slot it
// owned, see markLostLocked); so does a failover from a staged table, so
// that it promotes the copies reported live for it (liveFirst: a retained
// copy whose report is missing would be passed over for a replica still
// loading its snapshot). n.mu must be held.
func (n *Node) allReportedLocked(cur *Table, target []Member) bool {
	if time.Since(n.adoptedAt) > reportWait {
		return true
	}
	for _, m := range target {
		if cur.IndexOf(m.ID) >= 0 && n.reports[m.ID].version != cur.version {
			return false
		}
	}
	return true
}

// joinGrace is how long after joining a node, as coordinator, keeps the
// members of the current table that it has not seen yet: memberlist
// reports the members one by one after a join, and a member not seen yet
// is not a member known dead (planning it out would move its slots away
// and back).
const joinGrace = 2 * time.Second

// plannedLocked returns the members the next table is planned for: the
// live members that are not leaving and, in the first joinGrace after
// joining, the current table's members this node has not heard of as gone
// (not seen down, not gracefully gone, not forgotten). Sorted by ID.
// n.mu must be held.
func (n *Node) plannedLocked(cur *Table, live []Member) []Member {
	out := make([]Member, 0, len(live))
	for _, m := range live {
		if !n.isLeavingLocked(m.ID) {
			out = append(out, m)
		}
	}
	if time.Since(n.joinedAt) >= joinGrace {
		return out
	}
	for _, m := range cur.members {
		_, seen := n.seen[m.ID]
		if !seen && !n.downSeen[m.ID] && !n.gone[m.ID] && !n.bannedLocked(m.ID) && m.ID != n.id {
			m.Self = false
			out = append(out, m)
		}
	}
	return normalizeMembers(out)
}

// primaryGoneLocked reports whether a member that is primary of some slot
// in cur is no longer live (not seen, or banned): the next plan is a
// failover. n.mu must be held.
func (n *Node) primaryGoneLocked(cur *Table) bool {
	for i, m := range cur.members {
		if _, seen := n.seen[m.ID]; seen && !n.outLocked(m.ID) {
			continue
		}
		for s := range NumSlots {
			if cur.OwnerIndex(s) == i {
				return true
			}
		}
	}
	return false
}
