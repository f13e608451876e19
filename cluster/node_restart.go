package cluster

// A node restarted under the ID of a member it was before (a crashed
// process started again with the same cluster-node-id) has none of that
// member's data, yet the cluster's table may still list it: as primary of
// slots whose copies now live on its replicas only. Until the failure
// detector notices (it may never, if the new process answers at the old
// address), the restarted node must not serve the table's slots, nor
// replicate by it: its replicas would follow an empty primary.
//
// So a node that starts with seeds is fresh until it adopts a table that
// does not list it, or plans one itself. A fresh node that adopts a table
// listing it (planned by a peer, or by its old process if that was the
// coordinator) is restarted: it stays in StateNotMember, delivers no
// table to its subscribers (the server keeps routing, and replicating, by
// none), and says "restarted" in its gossip meta. Every node leaves a
// restarted member out of the live set it plans for (outLocked), so the
// coordinator fails its slots over to their replicas as for a dead
// member. Once the node adopts a table without itself it is an ordinary
// new node: it clears the flag and the coordinator plans it back in as a
// joiner (staged moves, snapshots before it serves).

// noteRestartLocked updates the restart state for t, just adopted. n.mu
// must be held.
func (n *Node) noteRestartLocked(t *Table) {
	if !n.fresh || t.version == 0 {
		return
	}
	switch listed := t.IndexOf(n.id) >= 0; {
	case !listed:
		n.fresh = false
		if n.restarted {
			n.restarted = false
			n.meta.Restarted = false
			n.kickMeta()
			n.log.Warn("cluster: restarted node planned out; rejoining as a new member", "version", t.version)
		}
	case !n.restarted: // planned by a peer, or by the old process
		n.restarted = true
		n.meta.Restarted = true
		n.dirty = true
		n.kickMeta()
		n.log.Warn("cluster: the table lists this node from before the process started; serving nothing until planned out and back in",
			"version", t.version, "planner", t.planner)
	}
}

// plannedOwnLocked is called before the node adopts a table it planned
// itself: a fresh node that plans (a seed that is its own address, a
// cluster of one forming) built the table from what this process knows,
// so it is no longer fresh. A restarted node, out of its own live set,
// plans only tables without itself (a forced plan), which end the
// restart as any table without it does. n.mu must be held.
func (n *Node) plannedOwnLocked() {
	if !n.restarted {
		n.fresh = false
	}
}

// noteRestarterLocked records a peer's restarted flag. n.mu must be held.
func (n *Node) noteRestarterLocked(id string, restarted bool) {
	if restarted {
		n.restarters[id] = true
		n.log.Info("cluster: member restarted under its old ID; planning it out", "member", id)
	} else {
		delete(n.restarters, id)
	}
	n.dirty = true
	n.wake()
}

// outLocked reports whether member id, even if memberlist sees it alive,
// is not live for planning: forgotten (its ban runs) or restarted (this
// node or a peer). n.mu must be held.
func (n *Node) outLocked(id string) bool {
	if id == n.id {
		return n.restarted
	}
	return n.restarters[id] || n.bannedLocked(id)
}

// ServedTable returns the table the node's subscribers may serve by: the
// current table, or, while the node is restarted (above), the empty table
// of version 0, which gives it nothing. A subscriber that registers after
// New reads it once for a table the node delivered before it subscribed;
// Table would give it the old member's table, which the restarted node
// adopts as soon as a peer's gossip brings it (CI run 119: the restarted
// process served the old slots with its empty store and sent their empty
// snapshots to the replicas that held the only copies).
func (n *Node) ServedTable() *Table {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.restarted {
		return BuildTable(nil, n.replicas, 0)
	}
	return n.table.Load()
}

// Restarted reports whether this node is restarted (see above): it found
// itself in a table from before its process started and serves nothing
// until planned out and back in.
func (n *Node) Restarted() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.restarted
}
