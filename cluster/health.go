package cluster

import (
	"math/bits"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// State is whether a node may serve its slots (CLUSTER INFO cluster_state).
type State int32

// The states of a Node, see Node.State.
const (
	// StateOK: the node has joined, is a member of its table and sees a
	// majority of the table's members: it serves its slots.
	StateOK State = iota
	// StateJoining: the node has seeds (Config.Join) and has not reached
	// any of them yet; it has no table and serves nothing.
	StateJoining
	// StateNotMember: the current table does not include the node (it was
	// planned while the node was away), or includes it from before the
	// node's process started (node_restart.go); the coordinator plans it
	// (back) in.
	StateNotMember
	// StateNoQuorum: the node has not seen a majority of its table's
	// members for Config.NodeTimeout: it is in a minority partition (or
	// most of the cluster is down) and must not serve its slots, which
	// the majority may already have given to others.
	StateNoQuorum
)

// String returns the state's name.
func (s State) String() string {
	switch s {
	case StateOK:
		return "ok"
	case StateJoining:
		return "joining"
	case StateNotMember:
		return "not-member"
	case StateNoQuorum:
		return "no-quorum"
	}
	return "unknown"
}

// healthEvery is how often the loop re-checks the node's state besides
// after every change.
const healthEvery = 50 * time.Millisecond

// minPauseAfter is the shortest stall of the state checks taken for a
// paused process: shorter stalls happen on a loaded machine and must not
// make the node flap. (A loop busy in subscribers or planning is no stall:
// watchLoop stamps for it.)
const minPauseAfter = 2 * time.Second

// pauseAfter is how long the state checks may stall before the node counts
// as paused: Config.NodeTimeout, at least minPauseAfter.
func (n *Node) pauseAfter() time.Duration { return max(n.nodeTimeout, minPauseAfter) }

// State returns the node's current state. Only StateOK may serve keys. The
// loop re-checks the state every healthEvery, and while it is busy
// (subscribers, planning) watchLoop stamps the check for it; if no check
// was stamped for pauseAfter (the process was paused: SIGSTOP, a VM
// freeze; or the loop was busy without a majority in sight), State
// reports StateNoQuorum, and so it does from the moment the node is
// marked for a re-sync. After a pause, and after it lost the majority
// (StateNoQuorum for NodeTimeout without a majority in sight), the node
// stays StateNoQuorum until it has exchanged state with a majority of its
// table's members again (see resyncOnce), so that a node that wakes up or
// reconnects after the majority re-planned its slots never serves them
// from its old table.
// A state other than StateOK shows before the subscribers get the table it
// was computed for; StateOK after another state only once they have it and
// the slots it took away were dropped (see loop).
func (n *Node) State() State { return n.StateAt(n.clock()) }

// StateAt is State with the caller's reading now of the node's clock
// (Config.Clock), for a caller that reads that clock per request anyway
// and so checks the state at no extra clock read. The pause check is
// State's against now: a reading taken before a pause does not see it,
// so a caller must read the clock again after anything that may wait.
func (n *Node) StateAt(now int64) State {
	// checked before resync: notePause marks resync before it stamps.
	if now-n.checked.Load() > int64(n.pauseAfter()) || n.resync.Load() {
		return StateNoQuorum
	}
	return State(n.state.Load())
}

// BeenOK reports whether the node's state has been ok at some time since
// it started: a node listed in its table that has not been is a joiner
// just planned in (or one restarted under its old ID, Restarted), not a
// member cut off or thawed.
func (n *Node) BeenOK() bool { return n.beenOK.Load() }

// OnSlotsLost registers fn to be called with the slots this node owned
// (as primary) and no longer owns, after the table that took them is
// delivered to the Subscribe callbacks: the caller drops its data for them,
// so that a slot that comes back later never serves a stale copy. If the
// node missed intermediate tables (a version gap, as after a partition),
// every slot it owned counts as lost, since another node may have owned
// and written it meanwhile. fn runs on the subscriber goroutine; the
// ranges are sorted and fn owns them.
func (n *Node) OnSlotsLost(fn func(lost []SlotRange)) {
	n.mu.Lock()
	n.lostFn = append(n.lostFn, fn)
	n.mu.Unlock()
}

// markLostLocked records the slots this node owns in cur and loses with t.
// n.mu must be held.
func (n *Node) markLostLocked(cur, t *Table) {
	if cur.version == 0 {
		return
	}
	self := cur.IndexOf(n.id)
	if self < 0 {
		return
	}
	gap := t.version > cur.version+1
	next := t.IndexOf(n.id)
	for s := range NumSlots {
		if cur.OwnerIndex(s) == self && (gap || next < 0 || t.OwnerIndex(s) != next) {
			n.lost[s/64] |= 1 << (s % 64)
		}
	}
}

// takeLost returns the slots marked lost since the last call and the lost
// callbacks, and clears the marks.
func (n *Node) takeLost() ([]SlotRange, []func([]SlotRange)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []SlotRange
	for w, word := range n.lost {
		for word != 0 {
			s := w*64 + bits.TrailingZeros64(word)
			word &= word - 1
			if k := len(out); k > 0 && out[k-1].End == s-1 {
				out[k-1].End = s
			} else {
				out = append(out, SlotRange{Start: s, End: s})
			}
		}
		n.lost[w] = 0
	}
	return out, n.lostFn[:len(n.lostFn):len(n.lostFn)]
}

// quorumLocked reports whether this node sees a majority of t's members,
// itself included, in memberlist's live view and sending heartbeats; members that left gracefully
// or are forgotten do not count. An empty table has a quorum (bootstrap).
// n.mu must be held.
func (n *Node) quorumLocked(t *Table) bool {
	reach, total := n.reachLocked(t)
	return 2*reach > total || total == 0
}

// reachLocked counts t's members that count for the majority rule (not
// gone, not forgotten; this node always) and how many of them are in the
// live view and sent a heartbeat lately (reach.go). n.mu must be held.
func (n *Node) reachLocked(t *Table) (reach, total int) {
	now := time.Now()
	for _, m := range t.members {
		if m.ID != n.id && (n.gone[m.ID] || n.bannedLocked(m.ID)) {
			continue
		}
		total++
		if _, ok := n.seen[m.ID]; ok && n.heardLocked(m.ID, now) || m.ID == n.id {
			reach++
		}
	}
	return reach, total
}

// notePause stamps n.checked and, if no check was stamped for pauseAfter
// (the process was paused: SIGSTOP, a VM freeze; or the loop was busy
// while the node saw no majority, see watchLoop), marks the node as
// re-syncing, before the stamp, so that StateAt never sees the new stamp
// without the mark. The loop calls it first whenever it wakes, before it
// may plan: a coordinator thawed by a planning timer once planned from its
// old view and gave its table the version the others had agreed on
// meanwhile (two different tables of one version; the thawed node then
// served stale copies). watchLoop never stamps over such a gap, so the
// loop sees it however long it was busy. Called by loop only.
func (n *Node) notePause() {
	now := n.clock()
	if prev := n.checked.Load(); now-prev > int64(n.pauseAfter()) && n.joined.Load() {
		n.resync.Store(true) // paused: our table may be stale
		n.log.Warn("cluster: the node was paused, re-syncing with peers", "for", time.Duration(now-prev))
		n.wakeJoin()
	}
	n.checked.Store(now)
}

// watchLoop stamps the pause check (n.checked) every healthEvery while the
// loop is busy running subscribers or planning (n.busy), which under load
// may take longer than pauseAfter and is no pause of the process. It
// stamps only while the node sees a majority of its table (the loop, busy,
// does not check that meanwhile) and never over a gap longer than
// pauseAfter: after a real pause StateAt reports StateNoQuorum whichever
// goroutine wakes first, and the loop's notePause sees the pause however
// long the loop was busy. While the loop is idle only the loop stamps
// (tests count its rounds by the stamp). It returns when n.stop closes.
func (n *Node) watchLoop() {
	defer n.wg.Done()
	tick := time.NewTicker(healthEvery)
	defer tick.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
		if !n.busy.Load() {
			continue
		}
		n.mu.Lock()
		q := n.quorumLocked(n.table.Load())
		n.mu.Unlock()
		now := n.clock()
		if prev := n.checked.Load(); q && now > prev && now-prev <= int64(n.pauseAfter()) {
			n.checked.CompareAndSwap(prev, now) // lost to the loop's own stamp: fine
		}
	}
}

// checkHealth computes the node's state for table t (the one the loop
// delivers next); the loop stores it with setState. Called by loop only.
func (n *Node) checkHealth(t *Table) State {
	n.mu.Lock()
	reach, total := n.reachLocked(t)
	restarted := n.restarted
	n.mu.Unlock()
	q := 2*reach > total || total == 0
	now := time.Now()
	n.notePause()
	n.noteShortLoss(t, q, reach)
	if q {
		n.lastQuorum = now
		if !n.hadQuorum && n.resync.Load() {
			n.wakeJoin() // the majority is back: re-sync with it now
		}
	}
	n.hadQuorum = q
	st := StateOK
	switch {
	case !n.joined.Load():
		st = StateJoining
	case n.resync.Load():
		st = StateNoQuorum
	case restarted || t.IndexOf(n.id) < 0:
		st = StateNotMember
	case !q && now.Sub(n.lastQuorum) >= n.nodeTimeout:
		st = StateNoQuorum
		// Seeing the majority again is not enough to serve: memberlist
		// reports its members alive before a push/pull brings their
		// table, and meanwhile they may have re-planned (and written)
		// this node's slots. As after a pause, the node stays down until
		// it has exchanged state with a majority (resyncOnce).
		n.lossReach = 0 // the re-sync covers the loss
		if !n.resync.Swap(true) {
			n.log.Warn("cluster: lost the majority; serving again only after re-syncing with it",
				"version", t.version, "members", t.Len())
			n.wakeJoin()
		}
	}
	return st
}

// noteShortLoss marks the node for a re-sync when the majority comes back
// after a loss too short for StateNoQuorum (under NodeTimeout): while
// the node served without seeing a majority, the majority may have
// declared it dead and re-planned its slots, and memberlist shows the
// members alive again before their table arrives. q and reach are this
// check's (quorumLocked, reachLocked for t). A majority regained only
// because members left gracefully (reach did not grow) needs no re-sync.
// Called by checkHealth only.
func (n *Node) noteShortLoss(t *Table, q bool, reach int) {
	if n.resync.Load() {
		n.lossReach = 0 // re-syncing anyway
		return
	}
	switch {
	case !q && n.lossReach == 0 && State(n.state.Load()) == StateOK:
		n.lossReach = reach // serving without a majority in sight
	case !q && n.lossReach > 0:
		n.lossReach = min(n.lossReach, reach)
	case q && n.lossReach > 0:
		back := reach > n.lossReach
		n.lossReach = 0
		if back && !n.resync.Swap(true) {
			n.log.Warn("cluster: the majority is back after a short loss; serving again only after re-syncing with it",
				"version", t.version, "members", t.Len())
		}
	}
}

// setState makes st, computed by checkHealth for table t, the node's state.
// Called by loop only.
func (n *Node) setState(st State, t *Table) {
	if st == StateOK {
		n.beenOK.Store(true)
	}
	if old := State(n.state.Swap(int32(st))); old != st {
		n.log.Warn("cluster: state changed", "from", old.String(), "to", st.String(),
			"version", t.version, "members", t.Len(), "live", n.KnownPeers())
	}
}

// byeMagic opens a bye message: a node that leaves gracefully gossips its
// ID just before memberlist's leave broadcast, so that peers stop counting
// it for the majority rule and stop re-joining it. (memberlist's leave
// event does not say whether a node left or died.)
const byeMagic = 'B'

// byeBroadcast is a queued bye message.
type byeBroadcast []byte

// Invalidates implements memberlist.Broadcast.
func (b byeBroadcast) Invalidates(memberlist.Broadcast) bool { return false }

// Message implements memberlist.Broadcast.
func (b byeBroadcast) Message() []byte { return b }

// Finished implements memberlist.Broadcast.
func (b byeBroadcast) Finished() {}

// queueBye queues this node's bye message for gossip.
func (n *Node) queueBye() {
	n.queue.QueueBroadcast(byeBroadcast(append([]byte{byeMagic}, n.id...)))
}

// receiveBye records that member id leaves gracefully.
func (n *Node) receiveBye(id string) {
	if !ValidID(id) || id == n.id {
		return
	}
	n.mu.Lock()
	n.gone[id] = true
	delete(n.known, id)
	n.wake()
	n.mu.Unlock()
}

// confirmQuorum reports whether this node, about to plan a table that drops
// members of cur, reaches a majority of cur's members directly: it pings
// every member of cur that is in live, the members it sees alive
// (reachableLocked: restarted ones too), in parallel, each waiting up to
// the probe interval, and counts those that answer. memberlist declares
// peers dead one by one, so a node cut off from the majority still sees
// some of them alive for a while; without this check it would plan a smaller table with
// them (and then with fewer), conflicting with the majority's. A plan
// that only adds members needs no check.
func (n *Node) confirmQuorum(cur *Table, live []Member) bool {
	missing := false
	for _, m := range cur.members {
		if _, ok := slices.BinarySearchFunc(live, m.ID, func(a Member, id string) int { return strings.Compare(a.ID, id) }); !ok {
			missing = true
			break
		}
	}
	if !missing {
		return true
	}
	var answered atomic.Int32
	var wg sync.WaitGroup
	for _, m := range live {
		if m.ID == n.id || cur.IndexOf(m.ID) < 0 {
			continue
		}
		addr, err := net.ResolveUDPAddr("udp", m.GossipAddr)
		if err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := n.ml.Ping(m.ID, addr); err == nil {
				answered.Add(1)
			}
		}()
	}
	wg.Wait()
	n.mu.Lock()
	defer n.mu.Unlock()
	total, self := 0, 0
	for _, m := range cur.members {
		if m.ID == n.id {
			self = 1
		}
		if m.ID == n.id || !n.gone[m.ID] && !n.bannedLocked(m.ID) {
			total++
		}
	}
	ok := 2*(int(answered.Load())+self) > total
	if !ok {
		n.log.Warn("cluster: not planning: no majority answers", "answered", answered.Load(), "members", total)
	}
	return ok
}

// wakeJoin wakes the join loop without blocking.
func (n *Node) wakeJoin() {
	select {
	case n.joinKick <- struct{}{}:
	default:
	}
}
