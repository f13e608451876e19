package server

import "github.com/cached/cached/cluster"

// This file holds what cluster mode does about partitions: a node that is
// not in StateOK (still joining, or cut off from the majority of its
// table) answers CLUSTERDOWN for keyed commands, and a node drops its keys
// of every slot it loses, so that a slot that comes back never serves a
// stale copy. See docs/cluster.md "Partitions".

// down reports whether the node must not serve keys: no node yet, or its
// state is not ok (cluster.Node.State). A node that handed its slots over
// before leaving (not-member) is not down: it answers MOVED to the new
// owners until it stops.
func (cs *clusterState) down() bool {
	n := cs.node.Load()
	if n == nil {
		return true
	}
	st := n.State()
	return st != cluster.StateOK && (st != cluster.StateNotMember || !n.Leaving())
}

// stateName is the node's cluster.State name ("starting" before the node
// exists).
func (cs *clusterState) stateName() string {
	if n := cs.node.Load(); n != nil {
		return n.State().String()
	}
	return "starting"
}

// allowedWhenDown reports whether cmd is served even when the node is down:
// the shard-channel commands, as Redis's cluster-allow-pubsubshard-when-down
// (default yes) does.
func (cs *clusterState) allowedWhenDown(cmd *command) bool {
	switch cmd.name {
	case "spublish", "ssubscribe", "sunsubscribe":
		return true
	}
	return false
}

// dropLostSlots deletes every key of the given slots (the node lost them
// in a new table), logs and counts them. It runs on the cluster node's
// subscriber goroutine after the routing view has moved on, so no new write
// reaches those slots here (a command already past routing may still land;
// see docs/cluster.md). Each slot is flushed through its own key list
// (store.FlushSlot), so the cost is the keys dropped, not the store's size
// (walking the store per batch stalled the node's goroutine for seconds
// with a million keys, and the node counted itself paused).
func (cs *clusterState) dropLostSlots(lost []cluster.SlotRange) {
	st := cs.s.store
	nslots, dropped := 0, 0
	for _, r := range lost {
		for s := r.Start; s <= r.End; s++ {
			if st.ReplicaSlot(s) { // now a replica's copy: its snapshot replaces it
				continue
			}
			nslots++
			dropped += st.FlushSlot(s)
		}
	}
	cs.lostKeys.Add(uint64(dropped))
	cs.s.log.Info("cluster: dropped the keys of lost slots", "slots", nslots, "ranges", len(lost), "keys", dropped)
}

// LostSlotKeys returns how many keys the node has dropped because their
// slots moved to another node (0 outside cluster mode).
func (s *Server) LostSlotKeys() uint64 {
	if s.cl == nil {
		return 0
	}
	return s.cl.lostKeys.Load()
}
