package store

// Held ties locked Txs to an owner (in cached, a client connection) so that
// the owner can release every lock it still holds when its work is
// abandoned: the server recovers a panic inside a command and calls
// ReleaseAll, so that the keys the command had locked stay usable.
//
// A Tx locked with LockHeld or LockAllHeld is registered in the Held until
// its Unlock. Registering and unregistering allocate nothing while an owner
// holds at most len(Held.buf) Txs at once (a command holds one).
//
// The zero value is ready to use. A Held must not be copied after first
// use. It is not safe for concurrent use: only the goroutine that runs the
// owner's commands may use it (ownership may pass between goroutines with a
// happens-before edge, as a connection passes from one goroutine to another).
type Held struct {
	txs []*Tx  // locked Txs, in lock order; backed by buf while they fit
	buf [4]*Tx // inline storage for txs
}

// LockHeld is Lock, with the Tx registered in h until its Unlock.
func (s *Store) LockHeld(h *Held, keys ...[]byte) *Tx {
	tx := s.Lock(keys...)
	h.add(tx)
	return tx
}

// LockAllHeld is LockAll, with the Tx registered in h until its Unlock.
func (s *Store) LockAllHeld(h *Held) *Tx {
	tx := s.LockAll()
	h.add(tx)
	return tx
}

// Len returns how many Txs h holds locked.
func (h *Held) Len() int { return len(h.txs) }

// ReleaseAll unlocks every Tx h still holds, newest first, and returns how
// many it unlocked.
func (h *Held) ReleaseAll() int {
	n := len(h.txs)
	for len(h.txs) > 0 {
		h.txs[len(h.txs)-1].Unlock() // unregisters it
	}
	return n
}

func (h *Held) add(tx *Tx) {
	if h.txs == nil {
		h.txs = h.buf[:0]
	}
	h.txs = append(h.txs, tx)
	tx.held = h
}

// remove unregisters tx (called by Tx.Unlock).
func (h *Held) remove(tx *Tx) {
	for i := len(h.txs) - 1; i >= 0; i-- {
		if h.txs[i] == tx {
			copy(h.txs[i:], h.txs[i+1:])
			h.txs[len(h.txs)-1] = nil
			h.txs = h.txs[:len(h.txs)-1]
			break
		}
	}
	if len(h.txs) == 0 && cap(h.txs) > len(h.buf) {
		h.txs = h.buf[:0] // drop a grown array once empty
	}
}
