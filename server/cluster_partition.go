package server

import (
	"github.com/cached/cached/cluster"
	"github.com/cached/cached/store"
)

// This file holds what cluster mode does about partitions: a node that is
// not in StateOK (still joining, or cut off from the majority of its
// table) answers CLUSTERDOWN for keyed commands, and a node drops its keys
// of every slot it loses, so that a slot that comes back never serves a
// stale copy. See docs/cluster.md "Partitions".

// lostFlushBatch is how many keys dropLostSlots collects per pass.
const lostFlushBatch = 4096

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

// dropLostSlots deletes every key of db 0 in the given slots (the node lost
// them in a new table), logs and counts them. It runs on the cluster node's
// subscriber goroutine after the routing view has moved on, so no new write
// reaches those slots here (a command already past routing may still land;
// see docs/cluster.md).
func (cs *clusterState) dropLostSlots(lost []cluster.SlotRange) {
	st := cs.s.store
	want := make([]bool, cluster.NumSlots)
	nslots, present := 0, int64(0)
	for _, r := range lost {
		for s := r.Start; s <= r.End; s++ {
			want[s] = true
			nslots++
			present += st.CountKeysInSlot(s)
		}
	}
	dropped := 0
	for present > 0 {
		keys := collectSlotKeys(st, want)
		if len(keys) == 0 {
			break
		}
		for _, k := range keys {
			tx := st.Lock(k)
			if tx.Delete(0, k) {
				dropped++
			}
			tx.Unlock()
		}
		if len(keys) < lostFlushBatch {
			break
		}
	}
	cs.lostKeys.Add(uint64(dropped))
	cs.s.log.Info("cluster: dropped the keys of lost slots", "slots", nslots, "ranges", len(lost), "keys", dropped)
}

// collectSlotKeys returns copies of up to lostFlushBatch keys of db 0 whose
// slot is wanted.
func collectSlotKeys(st *store.Store, want []bool) [][]byte {
	var keys [][]byte
	st.View().ForEachInSlots(func(s int) bool { return want[s] }, func(_ int, key []byte, _ store.Entry) bool {
		keys = append(keys, append([]byte(nil), key...))
		return len(keys) < lostFlushBatch
	})
	return keys
}

// LostSlotKeys returns how many keys the node has dropped because their
// slots moved to another node (0 outside cluster mode).
func (s *Server) LostSlotKeys() uint64 {
	if s.cl == nil {
		return 0
	}
	return s.cl.lostKeys.Load()
}
