package store

import "github.com/cespare/xxhash/v2"

// Prefetch: a multi-key command (MSET, MGET, DEL of many keys) looks its
// keys up one after the other, and each lookup is a chain of dependent
// cache misses: the index slot, then the record, then the key's item. Done
// key by key, the misses of one key cannot overlap those of the next (the
// work between them fills the processor's window), so a 10-key MSET pays
// about thirty misses in a row. Warm walks the keys three times, touching
// one link of every key's chain per pass; the loads of one pass do not
// depend on each other, so the processor keeps them in flight together,
// and the lookups that follow find the lines in cache.

// warmBatch is the most keys Warm touches per pass: the processor keeps
// about ten misses in flight, and the touched lines must still be in the
// first-level cache when the lookups come.
const warmBatch = 16

// Warm touches the index slots, records and key bytes that looking up keys
// in db will read, so that the lookups after it (in the same Tx) do not
// wait for memory one key at a time. It changes nothing and has no effect
// on results; it pays off from a few keys up. The keys must be in the Tx.
func (tx *Tx) Warm(db int, keys [][]byte) {
	if len(keys) < 2 {
		return
	}
	p := tx.st.phys(db)
	var (
		sh   [warmBatch]*shard
		slot [warmBatch]uint64
		sink uint64
	)
	for len(keys) > 0 {
		n := min(len(keys), warmBatch)
		// Pass 1: every key's home index slot.
		for i, k := range keys[:n] {
			s, h := tx.shard(k) // the lookups' own route: slot memo, lock check
			sh[i] = s
			slots := s.idx.slots
			slot[i] = slots[home(tagOf(h, p), len(slots))]
		}
		// Pass 2: the record the home slot names (a hit or the first of
		// the probe run).
		var item [warmBatch]uint32
		for i := range n {
			if v := slot[i]; v != 0 {
				item[i] = sh[i].rec(uint32(v)).item
			}
		}
		// Pass 3: the first byte of the record's item (the key's length).
		for i := range n {
			if slot[i] != 0 {
				if b := sh[i].slabs.bytes(item[i], 1); len(b) > 0 {
					sink += uint64(b[0])
				}
			}
		}
		keys = keys[n:]
	}
	tx.warmed += sink
}

// WarmKey is one key for Store.Warm: the logical database it is looked up
// in and its bytes.
type WarmKey struct {
	DB  int
	Key []byte
}

// Warm is Tx.Warm across requests, without a Tx: it touches the index
// slots, records and key bytes that looking up keys will read, up to 16
// keys at a time in three passes, so that the requests that look them up
// next (an event loop's batch) do not wait for memory one key at a time.
// It never waits: a shard whose lock another goroutine holds is skipped
// (sync.Mutex.TryLock), with its keys; the others' locks are held only
// during their keys' passes. It changes nothing and counts nothing (no
// hit, no miss, no LRU touch), so the lookups' results are the same with
// or without it. It returns how many keys it touched.
func (s *Store) Warm(keys []WarmKey) int {
	warmed := 0
	for len(keys) > 0 {
		n := min(len(keys), warmBatch)
		warmed += s.warm(keys[:n])
		keys = keys[n:]
	}
	return warmed
}

// warm is Warm for at most warmBatch keys.
func (s *Store) warm(keys []WarmKey) int {
	var (
		sh     [warmBatch]*shard
		slot   [warmBatch]uint64
		item   [warmBatch]uint32
		locked [warmBatch]*shard // the shards this call locked
		nl     int
		sink   uint64
	)
	// Pass 1: every key's shard (locked if free) and home index slot.
	for i, k := range keys {
		h := xxhash.Sum64(k.Key)
		s1 := s.shards[KeySlot(k.Key)&int(s.mask)]
		held := false
		for _, l := range locked[:nl] {
			if l == s1 {
				held = true
				break
			}
		}
		if !held {
			if !s1.mu.TryLock() {
				continue // sh[i] stays nil: the key is skipped
			}
			locked[nl] = s1
			nl++
		}
		sh[i] = s1
		p := s.phys(k.DB)
		slots := s1.idx.slots
		slot[i] = slots[home(tagOf(h, p), len(slots))]
	}
	// Pass 2: the record the home slot names (a hit or the first of the
	// probe run).
	for i := range keys {
		if v := slot[i]; v != 0 {
			item[i] = sh[i].rec(uint32(v)).item
		}
	}
	// Pass 3: the first byte of the record's item (the key's length).
	warmed := 0
	for i := range keys {
		if sh[i] == nil {
			continue
		}
		warmed++
		if slot[i] != 0 {
			if b := sh[i].slabs.bytes(item[i], 1); len(b) > 0 {
				sink += uint64(b[0])
			}
		}
	}
	if nl > 0 {
		locked[0].warmSink += sink // under its lock
	}
	for _, l := range locked[:nl] {
		l.mu.Unlock()
	}
	return warmed
}

// warmSlotWalks makes the walks over a slot's keys (FlushSlot,
// SnapshotSlot) take them warmBatch at a time and touch what each batch
// will read in passes before they use it (warmItems, warmRecs): a slot's
// records lie scattered over its shard when clients wrote its keys, so
// key by key every record, item and index slot is a miss of its own. A
// switch for the benchmark that compares both (BenchmarkSlotWalkKeySpace).
var warmSlotWalks = true

// warmItems touches the first byte of the item of each of recs (their
// records are in cache: the caller walked them) and returns a sum of them.
func (s *shard) warmItems(recs []uint32) uint64 {
	var items [warmBatch]uint32
	var sink uint64
	for i, r := range recs {
		items[i] = s.rec(r).item
	}
	for _, h := range items[:len(recs)] {
		if b := s.slabs.bytes(h, 1); len(b) > 0 {
			sink += uint64(b[0])
		}
	}
	return sink
}

// warmRecs touches what removing records recs reads: their items
// (warmItems; the key is hashed to find the index entry), then the keys'
// home index slots. It changes nothing.
func (s *shard) warmRecs(recs []uint32) uint64 {
	sink := s.warmItems(recs)
	slots := s.idx.slots
	for _, r := range recs {
		key := s.key(s.rec(r))
		sink += slots[home(tagOf(xxhash.Sum64(key), s.dbOf(r)), len(slots))]
	}
	return sink
}
