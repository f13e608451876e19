package cluster

import (
	"slices"
	"time"

	"github.com/hashicorp/memberlist"
)

// memberUp records a member memberlist reports alive (joined or updated) and
// wakes the loop (which plans if this node is the coordinator). Called by
// memberlist.
func (n *Node) memberUp(node *memberlist.Node) {
	m, ok := memberOf(node)
	if !ok {
		n.log.Warn("cluster: ignoring node with unreadable meta", "name", node.Name, "addr", node.Address())
		n.memberDown(node.Name)
		return
	}
	m.Self = m.ID == n.id
	var push []byte
	var to *memberlist.Node
	defer func() {
		if push != nil {
			n.pushTableTo(push, []*memberlist.Node{to}) // after n.mu is released
		}
	}()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.noteMetaLocked(m.ID, node)
	if old, ok := n.seen[m.ID]; ok && old == m {
		if n.dirty {
			n.wake()
		}
		return
	}
	if _, ok := n.seen[m.ID]; !ok {
		// Back alive (or new): if a table of ours had it and the current
		// one does not, it may still route by an old one (reach.go).
		push, to = n.catchUpLocked(m.ID, time.Now())
	}
	n.dirty = true
	delete(n.downSeen, m.ID)
	n.seen[m.ID] = m
	n.heard[m.ID] = time.Now()
	delete(n.gone, m.ID)
	if !m.Self && (len(n.known) < maxKnown || n.known[m.ID] != "") {
		n.known[m.ID] = m.GossipAddr
	}
	n.numNodes.Store(int32(len(n.seen)))
	n.wake()
}

// memberDown drops a member memberlist reports left or dead and wakes the
// loop. Called by memberlist.
func (n *Node) memberDown(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.seen[id]; !ok {
		return
	}
	delete(n.seen, id)
	delete(n.heard, id)
	n.downSeen[id] = true
	delete(n.leavers, id)
	delete(n.restarters, id)
	delete(n.reports, id)
	delete(n.lastLive, id)
	n.dirty = true
	n.numNodes.Store(int32(len(n.seen)))
	n.wake()
}

// bannedLocked reports whether id is forgotten and its ban still runs.
// n.mu must be held.
func (n *Node) bannedLocked(id string) bool {
	end, ok := n.banned[id]
	return ok && time.Now().Before(end)
}

// wake signals the loop without blocking.
func (n *Node) wake() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// expireBans drops ended bans and returns the end of the earliest running
// ban, ok false if none runs. The loop then plans if the member is back.
func (n *Node) expireBans() (next time.Time, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	for id, end := range n.banned {
		if !now.Before(end) {
			delete(n.banned, id)
			n.dirty = true
			continue
		}
		if !ok || end.Before(next) {
			next, ok = end, true
		}
	}
	return next, ok
}

// subscribers returns a snapshot of the subscriber list.
func (n *Node) subscribers() []func(*Table) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.subs[:len(n.subs):len(n.subs)]
}

// loop is the Node's notification goroutine: it plans the next table when
// this node is the coordinator and the members changed (planDelay after the
// change), calls subscribers with each new table and then the lost-slot
// callbacks, re-checks the node's State (after every change and every
// healthEvery) and ends Forget bans on time. While it plans or runs
// callbacks it sets n.busy, and watchLoop stamps the pause check for it.
// It returns when n.stop closes.
func (n *Node) loop() {
	defer n.wg.Done()
	var delivered *Table
	banTimer, planTimer := time.NewTimer(time.Hour), time.NewTimer(time.Hour)
	banTimer.Stop()
	planTimer.Stop()
	defer banTimer.Stop()
	defer planTimer.Stop()
	health := time.NewTicker(healthEvery)
	defer health.Stop()
	planArmed := false
	for {
		select {
		case <-n.stop:
			return
		case <-n.kick:
		case <-health.C:
		case <-banTimer.C:
		case <-planTimer.C:
			planArmed = false
			n.notePause() // a pause is noticed before planning from an old view
			n.busy.Store(true)
			n.plan(false)
			n.busy.Store(false)
		}
		if next, ok := n.expireBans(); ok {
			banTimer.Reset(time.Until(next))
		}
		if ok, delay := n.needsPlan(); ok && !planArmed {
			planTimer.Reset(delay)
			planArmed = true
		}
		t := n.table.Load()
		st := n.checkHealth(t)
		if t == delivered {
			if !n.okTooEarly(st, t) {
				n.setState(st, t)
			}
			continue
		}
		// A state that stops serving takes effect before subscribers see
		// t: routing never serves by a table the state forbids. StateOK
		// after another state (joined, re-synced after a pause, majority
		// back) takes effect only after the subscribers have t and the
		// slots it took away were dropped: routing never serves by the
		// table from before (a thawed node's old table gives it slots
		// the others re-planned) nor an old copy of a slot t gives back.
		if st != StateOK {
			n.setState(st, t)
		}
		if n.Restarted() {
			continue // its subscribers get no table that lists it from before (node_restart.go)
		}
		delivered = t
		n.busy.Store(true) // watchLoop stamps the pause check meanwhile
		for _, fn := range n.subscribers() {
			fn(t)
		}
		if lost, fns := n.takeLost(); len(lost) > 0 {
			for _, fn := range fns {
				fn(slices.Clone(lost))
			}
		}
		n.busy.Store(false)
		if !n.okTooEarly(st, t) {
			n.setState(st, t)
		}
	}
}

// okTooEarly reports whether st, StateOK computed for table t, would end
// another state although a newer table arrived since the loop read t: a
// re-sync that ended between the two reads (resyncOnce brings the
// majority's table, then clears resync) must not turn the node ok before
// its subscribers have that table. The loop then comes round again (the
// newer table's store kicked it) and delivers it first. Called by loop
// only.
func (n *Node) okTooEarly(st State, t *Table) bool {
	return st == StateOK && State(n.state.Load()) != StateOK && n.table.Load() != t
}
