package store

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
