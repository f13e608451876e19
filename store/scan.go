package store

import "math/rand/v2"

// Scan visits about count keys of db from cursor and returns the cursor to
// continue from, 0 when the scan is complete. fn gets each key (valid only
// during the call; copy to keep) and its type; returning false stops early.
// fn runs with a shard lock held and must not call the Store.
//
// As Redis guarantees: every key present in db for the whole scan is visited
// at least once (records never move, and the cursor is a shard and record
// number); keys added or removed meanwhile may or may not be. Expired keys
// are skipped and reaped. A call looks at no more than 10*count records.
func (s *Store) Scan(db int, cursor uint64, count int, fn func(key []byte, t Type) bool) (next uint64) {
	if count < 1 {
		count = 10
	}
	count = min(count, 1<<30) // keeps 10*count from overflowing
	shi, ri := int(cursor>>32), uint32(cursor)
	now := s.clock.NowMs()
	found, work := 0, 0
	for ; shi < len(s.shards); shi, ri = shi+1, 0 {
		sh := s.shards[shi]
		sh.mu.Lock()
		p := s.phys(db)
		if sh.counts[p].keys == 0 {
			sh.mu.Unlock()
			continue
		}
		for ri = max(ri, 1); ri < sh.nrec; ri++ {
			if found >= count || work >= 10*count {
				sh.mu.Unlock()
				return uint64(shi)<<32 | uint64(ri)
			}
			work++
			r := sh.rec(ri)
			if r.typ == TypeNone || r.db != p || sh.expiredLocked(ri, now) {
				continue
			}
			found++
			if !fn(r.key(), r.typ) {
				sh.mu.Unlock()
				return uint64(shi)<<32 | uint64(ri+1)
			}
		}
		sh.mu.Unlock()
	}
	return 0
}

// RandomKey returns a copy of a random key of db, skipping expired keys;
// false if db is empty.
func (s *Store) RandomKey(db int) ([]byte, bool) {
	now := s.clock.NowMs()
	for range 64 {
		sh := s.shards[rand.IntN(len(s.shards))]
		sh.mu.Lock()
		p := s.phys(db)
		if sh.counts[p].keys > 0 {
			i := uint32(1 + rand.IntN(int(sh.nrec-1)))
			if r := sh.rec(i); r.typ != TypeNone && r.db == p && !sh.expiredLocked(i, now) {
				k := append([]byte(nil), r.key()...)
				sh.mu.Unlock()
				return k, true
			}
		}
		sh.mu.Unlock()
	}
	// Sparse db: walk from a random shard.
	start := rand.IntN(len(s.shards))
	for k := range s.shards {
		sh := s.shards[(start+k)&int(s.mask)]
		sh.mu.Lock()
		p := s.phys(db)
		for i := uint32(1); i < sh.nrec && sh.counts[p].keys > 0; i++ {
			if r := sh.rec(i); r.typ != TypeNone && r.db == p && !sh.expiredLocked(i, now) {
				k := append([]byte(nil), r.key()...)
				sh.mu.Unlock()
				return k, true
			}
		}
		sh.mu.Unlock()
	}
	return nil, false
}

// KeysInSlot returns copies of up to count keys of db 0 in a cluster slot
// (CLUSTER GETKEYSINSLOT). It walks every shard: O(keys).
func (s *Store) KeysInSlot(slot int, count int) [][]byte {
	var out [][]byte
	if count <= 0 || s.CountKeysInSlot(slot) == 0 {
		return nil
	}
	s.ForEachInSlots(func(sl int) bool { return sl == slot }, func(_ int, key []byte, _ Entry) bool {
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
func (s *Store) ForEachInSlots(want func(slot int) bool, fn func(slot int, key []byte, e Entry) bool) {
	for _, sh := range s.shards {
		for start := uint32(1); ; start += slotBatch {
			sh.mu.Lock()
			if start >= sh.nrec {
				sh.mu.Unlock()
				break
			}
			if !sh.slotBatchLocked(start, want, fn) {
				sh.mu.Unlock()
				return
			}
			sh.mu.Unlock()
		}
	}
}

func (sh *shard) slotBatchLocked(start uint32, want func(int) bool, fn func(int, []byte, Entry) bool) bool {
	p := sh.st.phys(0)
	if sh.counts[p].keys == 0 {
		return true
	}
	now := sh.st.clock.NowMs()
	end := min(start+slotBatch, sh.nrec)
	for i := start; i < end; i++ {
		r := sh.rec(i)
		if r.typ == TypeNone || r.db != p {
			continue
		}
		if exp := sh.expireAt(i); exp != 0 && exp <= now {
			continue
		}
		if slot := KeySlot(r.key()); want(slot) && !fn(slot, r.key(), Entry{sh: sh, i: i, now: now}) {
			return false
		}
	}
	return true
}
