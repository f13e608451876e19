package store

import "math/rand/v2"

// View reads the whole keyspace, shard by shard. A View from Store.View
// locks each shard briefly in turn; one from Tx.View runs inside its Tx's
// locks (a KEYS or SCAN inside an EXEC that locked every shard) and locks
// only the shards the Tx does not hold.
type View struct {
	s  *Store
	tx *Tx
}

// View returns a View that locks shards one at a time.
func (s *Store) View() View { return View{s: s} }

// View returns a View inside the Tx's locks.
func (tx *Tx) View() View { return View{s: tx.st, tx: tx} }

// Scan is View().Scan.
func (s *Store) Scan(db int, cursor uint64, count int, fn func(key []byte, t Type) bool) uint64 {
	return s.View().Scan(db, cursor, count, fn)
}

// RandomKey is View().RandomKey.
func (s *Store) RandomKey(db int) ([]byte, bool) { return s.View().RandomKey(db) }

// Scan visits about count keys of db from cursor and returns the cursor to
// continue from, 0 when the scan is complete. fn gets each key (valid only
// during the call; copy to keep) and its type; returning false stops early.
// fn runs with a shard lock held and must not call the Store.
//
// As Redis guarantees: every key present in db for the whole scan is visited
// at least once (records never move, and the cursor is a shard and record
// number); keys added or removed meanwhile may or may not be. Expired keys
// are skipped and reaped. A call looks at no more than 10*count records
// (not counting the chunks, or chunk tails, that hold no key of db).
func (v View) Scan(db int, cursor uint64, count int, fn func(key []byte, t Type) bool) (next uint64) {
	s := v.s
	if count < 1 {
		count = 10
	}
	count = min(count, 1<<30) // keeps 10*count from overflowing
	shi, ri := int(cursor>>32), uint32(cursor)
	now := s.clock.NowMs()
	found, work := 0, 0
	for ; shi < len(s.shards); shi, ri = shi+1, 0 {
		sh := s.shards[shi]
		v.tx.lockShard(sh)
		p := s.phys(db)
		if sh.counts[p].keys.Load() == 0 {
			v.tx.unlockShard(sh)
			continue
		}
		for ri = max(ri, 1); ri < sh.nrec; ri++ {
			if sh.noKeysOfFrom(p, ri) {
				ri |= chunkMask // the rest of the chunk: no work
				continue
			}
			if found >= count || work >= 10*count {
				v.tx.unlockShard(sh)
				return uint64(shi)<<32 | uint64(ri)
			}
			work++
			r := sh.rec(ri)
			if r.typ() == TypeNone || sh.dbOf(ri) != p || sh.expiredReadLocked(ri, now) {
				continue
			}
			found++
			if !fn(sh.key(r), r.typ()) {
				v.tx.unlockShard(sh)
				return uint64(shi)<<32 | uint64(ri+1)
			}
		}
		v.tx.unlockShard(sh)
	}
	return 0
}

// RandomKey returns a copy of a random key of db, skipping expired keys;
// false if db is empty.
func (v View) RandomKey(db int) ([]byte, bool) {
	s := v.s
	now := s.clock.NowMs()
	for range 64 {
		sh := s.shards[rand.IntN(len(s.shards))]
		v.tx.lockShard(sh)
		p := s.phys(db)
		if sh.counts[p].keys.Load() > 0 {
			i := uint32(1 + rand.IntN(int(sh.nrec-1)))
			if r := sh.rec(i); r.typ() != TypeNone && sh.dbOf(i) == p && !sh.expiredReadLocked(i, now) {
				k := append([]byte(nil), sh.key(r)...)
				v.tx.unlockShard(sh)
				return k, true
			}
		}
		v.tx.unlockShard(sh)
	}
	// Sparse db: walk from a random shard.
	start := rand.IntN(len(s.shards))
	for k := range s.shards {
		sh := s.shards[(start+k)&int(s.mask)]
		v.tx.lockShard(sh)
		p := s.phys(db)
		for i := uint32(1); i < sh.nrec && sh.counts[p].keys.Load() > 0; i++ {
			if sh.noKeysOfFrom(p, i) {
				i |= chunkMask
				continue
			}
			if r := sh.rec(i); r.typ() != TypeNone && sh.dbOf(i) == p && !sh.expiredReadLocked(i, now) {
				k := append([]byte(nil), sh.key(r)...)
				v.tx.unlockShard(sh)
				return k, true
			}
		}
		v.tx.unlockShard(sh)
	}
	return nil, false
}

// KeysInSlot returns copies of up to count keys of db 0 in a cluster slot
// (CLUSTER GETKEYSINSLOT). It walks every shard: O(keys).
func (v View) KeysInSlot(slot int, count int) [][]byte {
	s := v.s
	var out [][]byte
	if count <= 0 || s.CountKeysInSlot(slot) == 0 {
		return nil
	}
	v.ForEachInSlots(func(sl int) bool { return sl == slot }, func(_ int, key []byte, _ Entry) bool {
		out = append(out, append([]byte(nil), key...))
		return len(out) < count
	})
	return out
}

// slotBatch is how many records ForEachInSlots looks at per lock hold.
const slotBatch = 1024

// ForEachInSlots calls fn for every unexpired key of db 0 whose cluster slot
// satisfies want, in one pass over the store: for slot snapshots (full sync)
// and handoff. It locks one shard at a time for at most slotBatch records,
// so writers are never stopped for long; as with Scan, every key present
// for the whole walk is visited once, keys written meanwhile may or may not
// be. fn runs with the shard lock held: it must not keep key or e past the
// call nor call the Store; returning false stops the walk.
func (v View) ForEachInSlots(want func(slot int) bool, fn func(slot int, key []byte, e Entry) bool) {
	s := v.s
	for _, sh := range s.shards {
		for start := uint32(1); ; start += slotBatch {
			v.tx.lockShard(sh)
			if start >= sh.nrec {
				v.tx.unlockShard(sh)
				break
			}
			if !sh.slotBatchLocked(start, want, fn) {
				v.tx.unlockShard(sh)
				return
			}
			v.tx.unlockShard(sh)
		}
	}
}

func (sh *shard) slotBatchLocked(start uint32, want func(int) bool, fn func(int, []byte, Entry) bool) bool {
	p := sh.st.phys(0)
	if sh.counts[p].keys.Load() == 0 {
		return true
	}
	now := sh.st.clock.NowMs()
	end := min(start+slotBatch, sh.nrec)
	for i := start; i < end; i++ {
		if sh.noKeysOfFrom(p, i) {
			i |= chunkMask
			continue
		}
		r := sh.rec(i)
		if r.typ() == TypeNone {
			continue
		}
		if exp := sh.expireAt(i); exp != 0 && exp <= now {
			continue
		}
		if slot := KeySlot(sh.key(r)); want(slot) && !fn(slot, sh.key(r), Entry{sh: sh, i: i, now: now}) {
			return false
		}
	}
	return true
}
