package store

import "sync/atomic"

// Fences. A node that hands a slot over to another node fences it before
// it seals the slot's stream: FenceSlot sets the mark under the slot's
// shard lock, so every command that locked the slot before has committed
// (and its effects are in the stream the seal ends), and every command
// that locks it after sees the mark. The store does not refuse anyone
// itself, except on the fast paths (GetAt, SetAt), which do not say whom
// they serve: they refuse a fenced slot's key with ErrFenced and the caller
// retries through a Tx, whose holder checks SlotFenced with the lock held
// (server/kernel: a command admitted as the slot's primary gets MOVED).

// fences is the Store's part of the fence marks.
type fences struct {
	fenced  [Slots]atomic.Bool // written under the slot's shard lock
	nFenced atomic.Int32       // how many slots are fenced: the fast paths' check
}

// FenceSlot fences slot (on) or lifts its fence (off), holding the slot's
// shard lock, and returns the slot's last effect sequence number at that
// moment.
func (s *Store) FenceSlot(slot int, on bool) uint64 {
	tx := s.lockSlot(slot)
	defer tx.Unlock()
	if s.fenced[slot].Swap(on) != on {
		if on {
			s.nFenced.Add(1)
		} else {
			s.nFenced.Add(-1)
		}
	}
	return s.seq[slot]
}

// SlotFenced reports whether slot is fenced. It is exact for a caller that
// holds the slot's shard lock (a Tx covering a key of the slot).
func (s *Store) SlotFenced(slot int) bool { return s.fenced[slot].Load() }

// fencedSlot reports whether slot is fenced, cheaply when no slot is (the
// fast paths' check, with the slot's shard locked).
func (s *Store) fencedSlot(slot int) bool {
	return s.nFenced.Load() != 0 && s.fenced[slot].Load()
}
