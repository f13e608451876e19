package cluster

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// memberUp records a member memberlist reports alive (joined or updated) and
// rebuilds the table if the member set changed. Called by memberlist.
func (n *Node) memberUp(node *memberlist.Node) {
	m, ok := memberOf(node)
	if !ok {
		n.log.Warn("cluster: ignoring node with unreadable meta", "name", node.Name, "addr", node.Address())
		n.memberDown(node.Name)
		return
	}
	m.Self = m.ID == n.id
	n.mu.Lock()
	defer n.mu.Unlock()
	if old, ok := n.seen[m.ID]; ok && old == m {
		return
	}
	n.seen[m.ID] = m
	if !n.bannedLocked(m.ID) {
		n.rebuildLocked()
	}
}

// memberDown drops a member memberlist reports left or dead. Called by memberlist.
func (n *Node) memberDown(id string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.seen[id]; !ok {
		return
	}
	delete(n.seen, id)
	if !n.bannedLocked(id) {
		n.rebuildLocked()
	}
}

// bannedLocked reports whether id is forgotten and its ban still runs.
// n.mu must be held.
func (n *Node) bannedLocked(id string) bool {
	end, ok := n.banned[id]
	return ok && time.Now().Before(end)
}

// rebuildLocked builds and publishes the table of the seen, non-banned
// members with the next version, and wakes the loop. n.mu must be held.
func (n *Node) rebuildLocked() {
	ms := make([]Member, 0, len(n.seen))
	for id, m := range n.seen {
		if !n.bannedLocked(id) {
			ms = append(ms, m)
		}
	}
	n.version++
	n.table.Store(BuildTable(ms, n.replicas, n.version))
	n.wake()
}

// wake signals the loop without blocking.
func (n *Node) wake() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// expireBans drops ended bans (rebuilding if a dropped ID is still seen) and
// returns the end of the earliest running ban, ok false if none runs.
func (n *Node) expireBans() (next time.Time, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	now, rebuild := time.Now(), false
	for id, end := range n.banned {
		if !now.Before(end) {
			delete(n.banned, id)
			_, seen := n.seen[id]
			rebuild = rebuild || seen
			continue
		}
		if !ok || end.Before(next) {
			next, ok = end, true
		}
	}
	if rebuild {
		n.rebuildLocked()
	}
	return next, ok
}

// subscribers returns a snapshot of the subscriber list.
func (n *Node) subscribers() []func(*Table) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.subs[:len(n.subs):len(n.subs)]
}

// loop is the Node's notification goroutine: it calls subscribers with each
// new table and ends Forget bans on time. It returns when n.stop closes.
func (n *Node) loop() {
	defer n.wg.Done()
	var delivered uint64
	banTimer := time.NewTimer(time.Hour)
	banTimer.Stop()
	defer banTimer.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-n.kick:
		case <-banTimer.C:
		}
		if next, ok := n.expireBans(); ok {
			banTimer.Reset(time.Until(next))
		}
		t := n.table.Load()
		if t.Version() == delivered {
			continue
		}
		delivered = t.Version()
		for _, fn := range n.subscribers() {
			fn(t)
		}
	}
}

// joinLoop joins the seeds with exponential back-off until an attempt
// succeeds or the node closes.
func (n *Node) joinLoop(seeds []string) {
	defer n.wg.Done()
	backoff := joinBackoffMin
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-retry.C:
		}
		c, err := n.Join(seeds)
		if err == nil {
			n.joined.Store(true)
			n.log.Info("cluster: joined", "seeds", seeds, "reached", c)
			return
		}
		n.log.Debug("cluster: join failed, retrying", "seeds", seeds, "err", err, "in", backoff)
		retry.Reset(backoff)
		backoff = min(2*backoff, joinBackoffMax)
	}
}
