package server

import (
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/cluster/repl"
	"github.com/cached/cached/store"
)

// This file holds what cluster mode does about partitions: a node that is
// not in StateOK (still joining, or cut off from the majority of its
// table) answers CLUSTERDOWN for keyed commands, and a node drops its keys
// of every slot it loses, so that a slot that comes back never serves a
// stale copy. See docs/cluster.md "Partitions".

// down reports whether the node must not serve keys: no node yet, or its
// state is not ok (cluster.Node.State). A node that handed its slots over
// before leaving (not-member) is not down: it answers MOVED to the new
// owners until it stops.
func (cs *clusterState) down() bool { return cs.downAt(store.Mono()) }

// downAt is down by the clock reading now (a store.Mono reading, the
// cluster node's clock: cluster.Node.StateAt).
func (cs *clusterState) downAt(now int64) bool {
	n := cs.node.Load()
	if n == nil {
		return true
	}
	st := n.StateAt(now)
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

// dropLostSlots drops every key of the given slots (the node lost them in
// a new table). It runs on the cluster node's subscriber goroutine after
// the routing view has moved on, so no new write reaches those slots here
// (a command already past routing may still land; see docs/cluster.md).
// A lost slot that is now a replica's copy stays: its snapshot replaces
// it. One the current view gives back to this node (after a version gap
// every owned slot counts as lost) is flushed here, before the node
// serves again (cluster.Node.OnSlotsLost). The others go to the
// background drop (slotDropper), paced with the snapshot work: nothing
// serves them meanwhile (routing moved on before; with replication, the
// slots given up were also fenced: replState.sealSlots).
func (cs *clusterState) dropLostSlots(lost []cluster.SlotRange) {
	st := cs.s.store
	v := cs.view.Load()
	var later []int
	now := 0
	for _, r := range lost {
		for s := r.Start; s <= r.End; s++ {
			switch {
			case st.ReplicaSlot(s): // now a replica's copy: its snapshot replaces it
			case v != nil && v.self >= 0 && v.t.Holds(s, v.self):
				cs.drops.claim(s)
				now += st.FlushSlot(s)
			default:
				later = append(later, s)
			}
		}
	}
	cs.lostKeys.Add(uint64(now))
	cs.s.log.Info("cluster: dropping the keys of lost slots", "slots", len(later), "ranges", len(lost), "given_back_keys", now)
	cs.drops.drop(later)
}

// initDrops sets up the background drop of slots no longer held.
func (cs *clusterState) initDrops() {
	cs.drops.st = cs.s.store
	cs.drops.pacer = func() *repl.Pacer {
		if rs := cs.s.repl.Load(); rs != nil {
			return rs.pacer
		}
		return nil
	}
	cs.drops.dropped = func(keys int) { cs.lostKeys.Add(uint64(keys)) }
	cs.drops.logf = func(slots, keys int, took time.Duration) {
		cs.s.log.Info("cluster: dropped the keys of slots no longer held", "slots", slots, "keys", keys, "took", took.Round(time.Millisecond))
	}
}

// LostSlotKeys returns how many keys the node has dropped because it no
// longer holds their slots: slots it owned that moved to another node and,
// since the drops run in the background (slotdrop.go), replica copies it
// stopped following (0 outside cluster mode).
func (s *Server) LostSlotKeys() uint64 {
	if s.cl == nil {
		return 0
	}
	return s.cl.lostKeys.Load()
}
