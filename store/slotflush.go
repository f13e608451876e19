package store

import "slices"

// Slot-wide changes inside a Tx, for cluster replication: FLUSHALL on a
// node that keeps its replica slots empties its own slots one by one and
// records one effect per emptied slot, numbered in that slot's sequence, so
// each slot's replicas see the flush in order with the slot's other effects;
// a replica applies such a unit holding all its shards at once
// (LockApplyAll), so no reader sees half of it.

// coversSlot reports whether the Tx holds the shard of slot.
func (tx *Tx) coversSlot(slot int) bool {
	return tx.all || slices.Contains(tx.ids, slot&int(tx.st.mask))
}

// FlushSlot removes every key of slot, in every database, and returns how
// many there were. The Tx must hold the slot's shard (it panics
// otherwise). Transactions watching an existing key of the slot are told
// first, as FlushAll tells them (FlushObserver, with db -1); no change is
// noted per key and no effect is recorded (PropagateSlot does that).
func (tx *Tx) FlushSlot(slot int) int {
	if !tx.coversSlot(slot) {
		panic("store: FlushSlot of a slot outside the Tx")
	}
	s := tx.st
	sh := s.shards[slot&int(s.mask)]
	if *sh.headOf(slot) == 0 {
		return 0
	}
	if fo, ok := s.observer.(FlushObserver); ok {
		fo.Flushing(-1, -1, func(db int, key []byte) bool {
			if KeySlot(key) != slot {
				return false
			}
			_, ok := tx.Peek(db, key)
			return ok
		})
	}
	return sh.dropSlotLocked(slot, nil)
}

// PropagateSlot records an effect that belongs to slot without naming a key
// of it (a slot's flush): it is numbered in the slot's sequence like any
// effect of the slot. The Tx must hold the slot's shard. It copies args,
// and does nothing while effects are not recorded.
func (tx *Tx) PropagateSlot(db, slot int, args ...[]byte) {
	if !tx.st.recordFx.Load() {
		return
	}
	if slot < 0 || slot >= Slots || !tx.coversSlot(slot) {
		panic("store: effect for a slot outside the Tx")
	}
	tx.rec.effect(db, slot, args[0], args[1:])
}

// LockApplyAll is LockAll for the replication applier (see LockApply): a
// unit that flushes slots, or touches the whole keyspace, is applied
// holding every shard.
func (s *Store) LockApplyAll() *Tx {
	tx := s.LockAll()
	for _, sh := range s.shards {
		sh.applying = true
	}
	return tx
}
