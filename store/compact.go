package store

// Slab compaction.
//
// Freed items stay in their slab for later items of their class, and a slab
// goes back only when its last item is freed (slab.go). Deleting or evicting
// keys spread over a class's slabs therefore leaves every slab partly used:
// memory the process holds, that eviction counts (SlabFreedBytes), and that
// no write of another size can use. Compaction moves the items of a class's
// least used slab into the holes of its other slabs, so that the slab
// empties and leaves the class (the shard's spare, or unmapped).
//
// A step looks at every class of a shard under the shard lock. A class is
// compacted when its freed items add up to at least its least used slab's
// bytes (so its other slabs have room for that slab's items) and to an
// eighth of the class's slabs: a class whose holes the writes refill (a
// steady workload of one value size) is left alone. The victim slab leaves the
// partial list (draining), so the moved items go into the other slabs and
// never into a new one; a walk over the shard's records, compactWalk
// records a step, finds the items to move (an item does not name its
// record) and points each record at its new item. Between steps a
// draining slab's items stay where they are, valid; no item is allocated
// in it. Entries, keys and values handed out are valid only under the
// shard lock (doc.go), which a step holds, so no reader sees an item move.

// compactMinHoles is the share of a class's slab bytes (1/compactMinHoles)
// its freed items must reach before it is compacted.
const compactMinHoles = 8

// compactWalk bounds the records one step walks on one shard, and so how
// long it holds the shard's lock (0.19 ms with its moves,
// BenchmarkCompactStep on the 2-core development VM): a shard of 1,250,000
// keys (20,000,000 over 16 shards) takes 20 steps, 2 s at the cron's 10 a
// second. A variable for the tests.
var compactWalk uint32 = 1 << 16

// CompactSlabs runs a compaction step on every shard: in each size class
// with enough freed items, the least used slab's items move into the
// others' holes and the slab goes back. It returns the items moved. A
// server calls it periodically (its cron); it takes each shard's lock in
// turn.
func (s *Store) CompactSlabs() int {
	moved := 0
	for _, sh := range s.shards {
		sh.mu.Lock()
		moved += sh.compactLocked()
		sh.mu.Unlock()
	}
	if moved > 0 {
		s.compactMoved.Add(uint64(moved))
	}
	return moved
}

// CompactedItems returns the items compaction has moved since the store
// started.
func (s *Store) CompactedItems() uint64 { return s.compactMoved.Load() }

// compactLocked is CompactSlabs's step on one shard: it walks the next
// compactWalk records for the items of the slabs being emptied, choosing
// those first when none is, and ends the pass at the last record.
func (s *shard) compactLocked() int {
	a := &s.slabs
	if len(s.compacting) == 0 {
		for c := range a.classes {
			if v, ok := a.compactVictim(uint8(c)); ok {
				a.unlinkPartial(v)
				a.slabs[v].draining = true
				s.compacting = append(s.compacting, v)
			}
		}
		if len(s.compacting) == 0 {
			return 0
		}
		s.compactCur = 1
	}
	moved := 0
	i, end := s.compactCur, min(s.nrec, s.compactCur+compactWalk)
	for ; i < end; i++ {
		if s.noKeysFrom(i) {
			i |= chunkMask // the rest of the chunk holds no key
			continue
		}
		r := s.rec(i)
		if r.typ() == TypeNone || r.item&largeBit != 0 || !a.slabs[r.item>>itemBits].draining {
			continue
		}
		if h, ok := a.move(r.item); ok {
			r.item = h
			moved++
		}
	}
	if s.compactCur = i; i < s.nrec {
		return moved
	}
	for _, v := range s.compacting {
		// A victim that emptied was released: its slot was reset (and
		// may hold another class's slab since). One whose class ran out
		// of room keeps its remaining items.
		if b := &a.slabs[v]; b.draining {
			b.draining = false
			if !b.full() {
				a.linkPartial(v)
			}
		}
	}
	s.compacting = s.compacting[:0]
	return moved
}

// compactVictim returns the slab of class c to empty, if the class is worth
// compacting: its least used partial slab, when the class's freed items
// cover that slab's bytes and an eighth of the class's slab bytes.
//
// The other slabs then have room for the victim's items: its bytes are
// its items (used), its holes and its never-used tail, so the holes
// outside it are at least its used items plus its tail.
func (a *slabAlloc) compactVictim(c uint8) (uint32, bool) {
	cl := &a.classes[c]
	if cl.slabs < 2 || cl.partial == 0 {
		return 0, false
	}
	var holes int64 // a full slab has none: they are all on the partial list
	victim, least := uint32(0), uint32(1<<32-1)
	for si := cl.partial; si != 0; si = a.slabs[si-1].next {
		b := &a.slabs[si-1]
		holes += freedIn(b)
		if b.used < least {
			victim, least = si-1, b.used
		}
	}
	if holes < int64(len(a.slabs[victim].buf)) || holes*compactMinHoles < cl.bytes {
		return 0, false
	}
	return victim, true
}

// move copies slab item h into another slab of its class, frees h and
// returns the new handle; false if the class's partial list (which a
// draining slab is not on) is empty. It never makes a slab.
func (a *slabAlloc) move(h uint32) (uint32, bool) {
	b, off := a.slabItem(h)
	c := b.class
	if a.classes[c].partial == 0 {
		return 0, false
	}
	n := a.allocPartial(c)
	d, doff := a.slabItem(n)
	size := slabClasses[c]
	copy(d.buf[doff:doff+size], b.buf[off:off+size])
	a.free(h)
	return n, true
}
