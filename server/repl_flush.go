package server

import (
	"strconv"

	"github.com/cached/cached/store"
)

// FLUSHALL and FLUSHDB with replication. In cluster mode only database 0
// exists (SELECT n and SWAPDB are refused, as in Redis), so both empty the
// node's keyspace; but a node is primary for some slots and a replica for
// others, and a replica's copy belongs to its primary (Redis refuses writes
// on a replica). So the flush empties every slot this node does not hold
// as a replica, and records, per slot that had keys, one effect
// FLUSHSLOT <slot> numbered in that slot's sequence: the slot's replicas
// apply it in order with the slot's other effects, in the same unit as the
// rest of the command (or EXEC). FLUSHSLOT is an effect only, not a
// command clients can send.

// effFlushSlot names the slot-flush effect.
const effFlushSlot = "FLUSHSLOT"

var effFlushSlotB = []byte(effFlushSlot)

// flushReplicated runs FLUSHALL/FLUSHDB's change under tx (every shard
// locked) when replication is on, and reports whether it did; without
// replication the caller flushes as a single node does.
func (s *Server) flushReplicated(tx *store.Tx) bool {
	if s.repl.Load() == nil {
		return false
	}
	st := s.store
	for slot := range store.Slots {
		if st.ReplicaSlot(slot) {
			continue
		}
		if tx.FlushSlot(slot) > 0 {
			tx.PropagateSlot(0, slot, effFlushSlotB, strconv.AppendInt(nil, int64(slot), 10))
		}
	}
	return true
}
