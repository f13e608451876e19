package cluster

import (
	"bytes"
	"slices"
	"time"

	"github.com/hashicorp/memberlist"
)

// planDelay is how long the coordinator waits after a membership change
// before it plans: changes that come together (a join's member events and
// the cluster table it merges) make one new table.
const planDelay = 20 * time.Millisecond

// tableBroadcast is the encoded current table, gossiped to every member. A
// newer one replaces an older one still queued.
type tableBroadcast []byte

// Invalidates implements memberlist.Broadcast.
func (b tableBroadcast) Invalidates(o memberlist.Broadcast) bool {
	_, ok := o.(tableBroadcast)
	return ok
}

// Name implements memberlist.NamedBroadcast: one table broadcast at a time.
func (b tableBroadcast) Name() string { return "table" }

// Message implements memberlist.Broadcast.
func (b tableBroadcast) Message() []byte { return b }

// Finished implements memberlist.Broadcast.
func (b tableBroadcast) Finished() {}

// liveLocked returns the seen members that are not out (forgotten or
// restarted, outLocked) sorted by ID, Self set. n.mu must be held.
func (n *Node) liveLocked() []Member { return n.seenLocked(n.outLocked) }

// reachableLocked is liveLocked with restarted members kept: out of the
// plans, but alive and on this node's side of any partition, so they count
// for confirmQuorum's majority. Without them a two-member table whose
// other member restarted had no majority to plan it out, and the two
// never agreed again. n.mu must be held.
func (n *Node) reachableLocked() []Member { return n.seenLocked(n.bannedLocked) }

// seenLocked returns the seen members except those skip reports, sorted
// by ID, Self set. n.mu must be held.
func (n *Node) seenLocked(skip func(id string) bool) []Member {
	ms := make([]Member, 0, len(n.seen))
	for id, m := range n.seen {
		if !skip(id) {
			ms = append(ms, m)
		}
	}
	return normalizeMembers(ms)
}

// needsPlanLocked reports whether this node is the coordinator (the lowest
// live ID among members that are not leaving), has joined, sees a majority
// of the current table's members, something changed since its last plan,
// and the current table is not the target yet: its members differ from
// the live members that are not leaving, or it has staged moves.
// n.mu must be held.
func (n *Node) needsPlanLocked() bool {
	if !n.dirty || !n.joined.Load() {
		return false
	}
	if n.joinedAt.IsZero() {
		n.joinedAt = time.Now()
	}
	cur := n.table.Load()
	target := n.plannedLocked(cur, n.liveLocked())
	if len(target) == 0 || target[0].ID != n.id {
		return false
	}
	if n.newerReportedLocked(cur) {
		return false
	}
	pending := !slices.EqualFunc(target, cur.members, sameMember) || cur.incoming != nil ||
		n.stage && !primariesBalanced(cur)
	if pending && cur.incoming != nil && (n.stepSettledLocked(cur, target) || n.primaryGoneLocked(cur)) &&
		!n.allReportedLocked(cur, target) {
		// A staged step waits until every member applied cur (no version
		// gaps); a failover from a staged table waits for the reports
		// that say which copies are live (at most reportWait).
		return false
	}
	// A coordinator without a majority of the current members is on the
	// minority side of a partition: only the majority re-plans.
	return pending && n.quorumLocked(cur)
}

// newerReportedLocked reports whether a live member reports holdings for
// a table newer than cur: this node is behind, and a plan from cur would
// list members of a cluster that has agreed on more. A node started
// without seeds at the address of a member that died (a supervisor's
// restart) forms a cluster of its own and sees that cluster's members by
// their gossip before their table reaches it: planning then made it
// primary of every slot in a table that listed one of them, whose copies
// it replaced with its empty slots (docs/cluster.md, "A seedless node
// restarted at its address"). The newer table arrives by broadcast or
// push/pull; the plan waits for it. n.mu must be held.
func (n *Node) newerReportedLocked(cur *Table) bool {
	for id, h := range n.reports {
		if _, alive := n.seen[id]; alive && id != n.id && h.version > cur.version {
			return true
		}
	}
	return false
}

// sameMember compares members ignoring Self.
func sameMember(a, b Member) bool {
	return a.ID == b.ID && a.Host == b.Host && a.Port == b.Port && a.GossipAddr == b.GossipAddr
}

// needsPlan is needsPlanLocked for the loop, with the delay before the
// plan: planDelay, or stepEvery while the current table has staged moves
// or members on their way out.
func (n *Node) needsPlan() (bool, time.Duration) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.needsPlanLocked() {
		return false, 0
	}
	cur := n.table.Load()
	if cur.incoming != nil || len(n.plannedLocked(cur, n.liveLocked())) != len(n.liveLocked()) {
		return true, stepEvery
	}
	return true, planDelay
}

// plan makes the next table and adopts it, if this node still is the
// coordinator and the table is out of date (or always, with force). The
// next table is the target (Plan) with moves staged (nextTable). Planning
// runs without n.mu (it takes milliseconds); if the table changed
// meanwhile, the result is dropped and plan reports false.
func (n *Node) plan(force bool) bool {
	if !force && n.resync.Load() {
		// Paused or cut off from the majority: our view may be old, and
		// the others may have agreed on newer tables meanwhile. Plan again
		// once re-synced with a majority (the loop keeps trying).
		return true
	}
	n.mu.Lock()
	if !force && !n.needsPlanLocked() {
		n.mu.Unlock()
		return true
	}
	n.dirty = false
	cur, live, reachable := n.table.Load(), n.liveLocked(), n.reachableLocked()
	in := n.stageInputLocked(cur, live)
	n.mu.Unlock()
	if !force && !n.confirmQuorum(cur, reachable) {
		n.setDirty() // the loop tries again while a plan is needed
		return true
	}
	t := nextTable(in)
	if sameRows(t, cur) && !force {
		return true // waiting for members to report slots live
	}
	t.planner, t.term = n.id, nextTerm(cur, n.id)
	enc := encodeTable(t)
	n.mu.Lock()
	if n.table.Load() != cur {
		n.dirty = true
		n.wake() // the loop looks again
		n.mu.Unlock()
		return false
	}
	n.plannedOwnLocked()
	n.adoptLocked(t, enc)
	n.mu.Unlock()
	n.pushTable(enc)
	n.log.Info("cluster: planned slot table", "version", t.version, "members", t.Len(), "ranges", primaryRangeCount(t),
		"staged", t.Staged())
	return true
}

// nextTerm returns the term of a table that node id plans from cur: cur's
// term if id planned cur too, else the next one. So a node taking over from
// another planner (a coordinator cut off or frozen) outranks, at equal
// versions, every table that planner made from cur's line and did not get
// out (see newer).
func nextTerm(cur *Table, id string) uint64 {
	if cur.planner == id {
		return cur.term
	}
	return cur.term + 1
}

// setDirty marks that the next plan may differ and wakes the loop.
func (n *Node) setDirty() {
	n.mu.Lock()
	n.dirty = true
	n.wake()
	n.mu.Unlock()
}

// adoptLocked makes t (encoded as enc; t not yet shared) the current table
// if it is newer than the current one, queues it for gossip and wakes the
// loop. It marks the slots this node loses, remembers the members' gossip
// addresses for re-joining, and counts the node as joined if a peer's table
// includes it. It reports whether it did. n.mu must be held.
func (n *Node) adoptLocked(t *Table, enc []byte) bool {
	cur := n.table.Load()
	if !newer(t, cur, enc, *n.enc.Load()) {
		return false
	}
	n.markLostLocked(cur, t)
	n.dirty = true
	n.adoptedAt = time.Now()
	for id := range n.gone {
		if t.IndexOf(id) < 0 {
			delete(n.gone, id) // no longer counted anyway
		}
	}
	for i := range t.members {
		m := &t.members[i]
		m.Self = m.ID == n.id
		if m.Self && t.planner != n.id {
			n.joined.Store(true) // a peer's table includes us: we are in
		} else if !m.Self && (len(n.known) < maxKnown || n.known[m.ID] != "") {
			n.known[m.ID] = m.GossipAddr
		}
	}
	n.table.Store(t)
	n.enc.Store(&enc)
	n.noteRestartLocked(t)
	n.keepLiveLocked(t)
	n.queue.QueueBroadcast(tableBroadcast(enc))
	n.wake()
	return true
}

// receive handles a table gossiped by a peer (b is not retained). Tables
// planned by a forgotten node are ignored while its ban runs.
func (n *Node) receive(b []byte) {
	if len(b) > 0 && b[0] == byeMagic {
		n.receiveBye(string(b[1:]))
		return
	}
	if len(b) > 0 && b[0] == beatMagic {
		n.receiveBeat(string(b[1:]))
		return
	}
	if len(b) == 0 || b[0] != tableMagic {
		return
	}
	if bytes.Equal(b, *n.enc.Load()) {
		return // a retransmit of the table we hold: gossip repeats each table several times
	}
	b = slices.Clone(b)
	t, err := decodeTable(b)
	if err != nil {
		n.log.Warn("cluster: ignoring table from peer", "err", err)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.bannedLocked(t.planner) {
		return
	}
	if n.adoptLocked(t, b) {
		n.log.Debug("cluster: adopted slot table", "version", t.version, "planner", t.planner)
	}
}

// localState returns the encoded current table for a push/pull exchange,
// nil before the node has one.
func (n *Node) localState() []byte {
	if n.table.Load().version == 0 {
		return nil
	}
	return *n.enc.Load()
}

// primaryRangeCount counts the maximal runs of slots with one primary.
func primaryRangeCount(t *Table) int {
	c := 0
	for s := range NumSlots {
		if s == 0 || t.OwnerIndex(s) != t.OwnerIndex(s-1) {
			c++
		}
	}
	return c
}
