package store

// slotMemo remembers the cluster slots of the last few keys a Tx hashed,
// so that a command which locks a key, checks its Tx covers it, looks it
// up, writes it and propagates it computes the key's CRC16 once, not at
// every step. An entry holds a copy of the key's bytes (callers may reuse
// their buffers): a slot is a function of those bytes alone, so an entry
// is never stale, and a Tx taken from the pool may keep its old entries.
type slotMemo struct {
	n    uint8 // entries in use
	next uint8 // the entry the next miss replaces once all are in use
	hint uint8 // the entry after the last one found: a command walks its keys in the same order each time
	ents [memoKeys]memoEntry
	keys []byte // the entries' key bytes
}

type memoEntry struct {
	off, n uint32 // the key: keys[off:off+n]
	slot   uint32
}

const (
	memoKeys     = 16  // entries: a script's or a command's keys (MSET of 10 keys included)
	memoKeyBytes = 512 // keys longer than this are hashed each time
	memoBytes    = 2048
)

// slot returns KeySlot(key), from the memo when key is in it; a key not in
// it is hashed and remembered.
func (m *slotMemo) slot(key []byte) int {
	i := m.hint
	for range m.n {
		if i >= m.n {
			i = 0
		}
		if e := &m.ents[i]; int(e.n) == len(key) && string(m.keys[e.off:e.off+e.n]) == string(key) {
			m.hint = i + 1
			return int(e.slot)
		}
		i++
	}
	slot := KeySlot(key)
	m.add(key, slot)
	return slot
}

// add remembers that key is in slot.
func (m *slotMemo) add(key []byte, slot int) {
	if len(key) > memoKeyBytes {
		return
	}
	if len(m.keys)+len(key) > memoBytes { // replaced entries left their bytes behind
		m.reset()
	}
	i := m.n
	if i < memoKeys {
		m.n++
	} else {
		i = m.next
		m.next = (m.next + 1) % memoKeys
	}
	m.ents[i] = memoEntry{off: uint32(len(m.keys)), n: uint32(len(key)), slot: uint32(slot)}
	m.keys = append(m.keys, key...)
}

// reset forgets every entry.
func (m *slotMemo) reset() {
	m.n, m.next, m.hint = 0, 0, 0
	m.keys = m.keys[:0]
}

// slotOf returns the cluster slot of key (KeySlot), hashing it only when
// the Tx has not seen it yet.
func (tx *Tx) slotOf(key []byte) int { return tx.slots.slot(key) }
