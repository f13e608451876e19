package store

import (
	"math/bits"
	"sync/atomic"
)

// The per-slot key index and the replica marks.
//
// Every key is linked into a doubly linked list of its cluster slot through
// its record (sprev, snext: 8 of its 16 bytes), headed in its shard (a slot's
// keys all live in the shard slot&mask). Insert and delete are O(1), so a
// slot's keys are found without walking the shard: replication snapshots one
// slot under its shard lock (SnapshotSlot), and a replica drops one slot
// (FlushSlot).
//
// A slot marked as a replica (SetReplicaSlot) holds a copy of another node's
// data: its keys are never expired nor evicted on this node's clock (the
// primary's DEL effects remove them), and a key whose TTL has passed is
// hidden from reads without being deleted, as a Redis replica does. A Tx
// from LockApply (the replication applier) sees such keys as live, so the
// primary's stream applies exactly as the primary ran it.

// headOf returns the list head of slot in its shard.
func (s *shard) headOf(slot int) *uint32 {
	return &s.heads[slot>>bits.TrailingZeros(uint(len(s.st.shards)))]
}

// slotLink links record i at the head of its slot's list.
func (s *shard) slotLink(i uint32, slot int) {
	h := s.headOf(slot)
	r := s.rec(i)
	r.sprev, r.snext = 0, *h
	if *h != 0 {
		s.rec(*h).sprev = i
	}
	*h = i
}

// slotUnlink removes record i from its slot's list.
func (s *shard) slotUnlink(i uint32, slot int) {
	r := s.rec(i)
	if r.sprev != 0 {
		s.rec(r.sprev).snext = r.snext
	} else {
		*s.headOf(slot) = r.snext
	}
	if r.snext != 0 {
		s.rec(r.snext).sprev = r.sprev
	}
	r.sprev, r.snext = 0, 0
}

// SnapshotSlot calls fn for every key of db 0 in slot that has not expired,
// with the slot's shard locked: the keys are exactly those of the slot's
// effects up to the sequence number it returns (Tx commits number effects
// under the same lock). fn must not keep key or e past the call nor call the
// Store; an error from fn stops the walk and is returned. O(keys of slot).
func (s *Store) SnapshotSlot(slot int, fn func(key []byte, e Entry) error) (uint64, error) {
	sh := s.shards[slot&int(s.mask)]
	var tx *Tx
	tx.lockShard(sh)
	defer tx.unlockShard(sh)
	p := s.phys(0)
	now := s.clock.NowMs()
	var batch [warmBatch]uint32
	var sink uint64
	for i := *sh.headOf(slot); i != 0; {
		// warmBatch records at a time, their items touched together first
		// (prefetch.go).
		k := 0
		for ; i != 0 && k < len(batch); i = sh.rec(i).snext {
			batch[k] = i
			k++
		}
		if warmSlotWalks {
			sink += sh.warmItems(batch[:k])
		}
		for _, j := range batch[:k] {
			if sh.dbOf(j) != p {
				continue
			}
			if exp := sh.expireAt(j); exp == 0 || exp > now {
				if err := fn(sh.key(sh.rec(j)), Entry{sh: sh, i: j, now: now}); err != nil {
					return s.seq[slot], err
				}
			}
		}
	}
	sh.warmed += sink
	return s.seq[slot], nil
}

// FlushSlot deletes every key of slot (in every database) and returns how
// many there were. Each deletion is noted as a change (WATCH reacts); no
// effect is recorded. The replication applier calls it before loading a
// slot's snapshot.
func (s *Store) FlushSlot(slot int) int {
	tx := s.lockSlot(slot)
	defer tx.Unlock()
	sh := s.shards[slot&int(s.mask)]
	return sh.dropSlotLocked(slot, func(i uint32) {
		tx.rec.note(ChangeWrite, s.logical(sh.dbOf(i)), sh.key(sh.rec(i)), 0, "")
	})
}

// dropSlotLocked removes every record of slot, warmBatch at a time: each
// batch's items and index slots are touched together first, so that their
// cache misses overlap (warmSlotWalks). each, if not nil, is called for
// every record just before its removal. It returns how many it removed.
func (s *shard) dropSlotLocked(slot int, each func(i uint32)) int {
	n := 0
	var batch [warmBatch]uint32
	for *s.headOf(slot) != 0 {
		k := 0
		for i := *s.headOf(slot); i != 0 && k < len(batch); i = s.rec(i).snext {
			batch[k] = i
			k++
		}
		if warmSlotWalks {
			s.warmed += s.warmRecs(batch[:k])
		}
		for _, i := range batch[:k] {
			if each != nil {
				each(i)
			}
			s.removeLocked(i)
		}
		n += k
	}
	return n
}

// SlotSeq returns the sequence number of slot's last effect.
func (s *Store) SlotSeq(slot int) uint64 {
	tx := s.lockSlot(slot)
	defer tx.Unlock()
	return s.seq[slot]
}

// ContinueSlot makes slot's next effect number seq+1. A replica promoted to
// primary for the slot calls it with the last sequence number it applied,
// so that its effects continue the old primary's stream.
func (s *Store) ContinueSlot(slot int, seq uint64) {
	tx := s.lockSlot(slot)
	defer tx.Unlock()
	s.seq[slot] = seq
}

// lockSlot returns a Tx holding the shard of slot.
func (s *Store) lockSlot(slot int) *Tx {
	tx := s.txPool.Get().(*Tx)
	tx.ids = append(tx.buf[:0], slot&int(s.mask))
	sh := s.shards[tx.ids[0]]
	sh.mu.Lock()
	sh.cur = &tx.rec
	tx.locked = true
	tx.now = s.clock.NowMs()
	return tx
}

// SetReplicaSlot marks slot as a replica's copy (on) or this node's own
// (off). See the top of this file.
func (s *Store) SetReplicaSlot(slot int, on bool) {
	if s.replica[slot].Swap(on) != on {
		if on {
			s.replicaSlots.Add(1)
		} else {
			s.replicaSlots.Add(-1)
		}
	}
}

// ReplicaSlot reports whether slot is marked as a replica's copy.
func (s *Store) ReplicaSlot(slot int) bool { return s.replica[slot].Load() }

// replicaKey reports whether key belongs to a slot marked as a replica's.
func (s *Store) replicaKey(key []byte) bool {
	return s.replicaSlots.Load() != 0 && s.replica[KeySlot(key)].Load()
}

// LockApply is Lock for the replication applier: in slots marked as a
// replica's, keys past their TTL are live for this Tx (the primary decides
// when they expire and sends their DEL).
func (s *Store) LockApply(keys ...[]byte) *Tx {
	tx := s.Lock(keys...)
	for _, id := range tx.ids {
		s.shards[id].applying = true
	}
	return tx
}

// replicaMarks is the Store's part of the replica marks.
type replicaMarks struct {
	replica      [Slots]atomic.Bool
	replicaSlots atomic.Int32 // how many slots are marked
}

// replicaRec reports whether record i is a key of a replica slot: past its
// TTL it stays (hidden from reads, live for the applier), and it is never
// evicted.
func (s *shard) replicaRec(i uint32) bool {
	return s.st.replicaKey(s.key(s.rec(i)))
}
