package store

import "github.com/cespare/xxhash/v2"

// StringUpdate is the change of a read-modify-write of one string key
// (INCR, INCRBYFLOAT): it gets the key's value (nil and false when the key
// is missing or expired; valid only during the call) and returns the new
// value and true, or false to change nothing.
type StringUpdate func(old []byte, found bool) (val []byte, ok bool)

// UpdateStringAt runs fn on the string key in db at the command's time now
// (Unix ms, from MsAt) under the key's shard lock, without a Tx: the
// request path of INCR and its family, one hash and one index walk where a
// Tx takes two of each. See Tx.UpdateString for what it does. It writes
// nothing and returns ErrFenced for a key of a fenced slot (fence.go), and
// the caller takes the Tx path, which decides whether the command may
// still write it.
func (s *Store) UpdateStringAt(now int64, db int, key []byte, fn StringUpdate, class uint16, event string) (bool, error) {
	h := xxhash.Sum64(key)
	slot := KeySlot(key)
	sh := s.shards[slot&int(s.mask)]
	var tx *Tx
	tx.lockShard(sh)
	defer tx.unlockShard(sh)
	if s.fencedSlot(slot) {
		return false, ErrFenced
	}
	return sh.updateStringLocked(db, key, h, slot, now, fn, class, event)
}

// UpdateString runs fn on the string key in db, a write command's lookup
// (lazy expiry, the LRU touched, no keyspace hit or miss counted), and
// stores the value it returns keeping the key's TTL. A write notes a
// ChangeWrite with class and event (as Changed) and records the effect
// SET key val KEEPTTL (as Propagate). It reports whether fn wrote; a key
// holding a collection is ErrWrongType, and fn is not called.
func (tx *Tx) UpdateString(db int, key []byte, fn StringUpdate, class uint16, event string) (bool, error) {
	sh, h, slot := tx.shardSlot(key)
	return sh.updateStringLocked(db, key, h, slot, tx.now, fn, class, event)
}

// updateStringLocked is Tx.UpdateString with the shard locked; notes and
// the effect go to the lock holder's Record (sh.cur).
func (sh *shard) updateStringLocked(db int, key []byte, h uint64, slot int, now int64, fn StringUpdate, class uint16, event string) (bool, error) {
	p := sh.st.phys(db)
	tag := tagOf(h, p)
	i := sh.find(p, key, tag)
	if i != 0 && sh.expiredLocked(i, now) {
		i = 0
	}
	var old []byte
	if i != 0 {
		r := sh.rec(i)
		if r.typ() != TypeString {
			return false, ErrWrongType
		}
		sh.touchLocked(i, now)
		old = sh.val(r)
	}
	val, ok := fn(old, i != 0)
	if !ok {
		return false, nil
	}
	if sh.st.recordFx.Load() { // before the put: val may alias the old value
		args := [...][]byte{key, val, wordKeepTTL}
		sh.cur.effect(db, slot, cmdSet, args[:])
	}
	sh.putLocked(p, key, tag, slot, i, TypeString, val, nil, 0, KeepTTL, now, i)
	if !sh.st.quiet.Load() {
		sh.cur.note(ChangeWrite, db, key, class, event)
	}
	return true, nil
}

var (
	cmdSet      = []byte("SET")
	wordKeepTTL = []byte("KEEPTTL")
)
