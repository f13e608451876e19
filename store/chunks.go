package store

import "unsafe"

// Record chunks and their allocation.
//
// A shard's records live in chunks of chunkSize; record number i is record
// i&chunkMask of chunk i>>chunkBits, and record 0 is never used (0 means
// none). Every chunk holds the records of one physical database, its
// chunkInfo.db, so a record need not carry its database (dbOf): that is
// what keeps the record at 16 bytes. A chunk hands out its never-used
// records in order (bump) and then those freed since, from its own free
// list (linked through the free records' snext, in-chunk numbers + 1).
//
// Each database has a list of its chunks with free records (partial); a
// new key takes a record from the first of them. A chunk whose last key
// goes leaves its database's list for the shard's spare chunks, which any
// database takes before a new chunk is made, so the records a deleted or
// flushed database used serve the others: at most one chunk per database
// in use holds free records that only its database can take, beyond what
// a single list of free records (before: any record for any database)
// would keep. Chunks are given back only when the whole shard is
// (resetLocked, Close).
//
// Freed records stay in their chunks until a key takes them again, as
// freed slab items stay in their slabs: the shard counts them (freeRecs;
// the Store sums them at recordCost each, RecordFreedBytes), so that
// a server that counts the memory beyond the keys can leave them out, as
// they are at each count rather than as of its last GC cycle.

// chunkInfo is the allocation state of one record chunk.
type chunkInfo struct {
	prev, next int32  // links of its database's list of chunks with free records; -1 = none
	live       uint16 // records in use
	bump       uint16 // records from here on were never handed out
	free       uint16 // first record of the chunk's free list + 1; 0 = none
	db         uint8  // physical database of its records
}

// full reports whether the chunk has no record to hand out.
func (c *chunkInfo) full() bool { return c.free == 0 && c.bump == chunkSize }

// dbOf returns the physical database of record i.
func (s *shard) dbOf(i uint32) uint8 { return s.cinfo[i>>chunkBits].db }

// resetChunksLocked leaves the shard one chunk, spare, whose record 0 is
// never handed out.
func (s *shard) resetChunksLocked() {
	s.chunks, s.mapped, s.cinfo, s.spare = nil, nil, nil, nil
	if s.partial == nil {
		s.partial = make([]int32, len(s.counts))
	}
	for db := range s.partial {
		s.partial[db] = -1
	}
	c := s.newChunk()
	s.cinfo[c].bump = 1
	s.spare = append(s.spare, c)
}

// unwrittenLocked returns the bytes of the mapped chunks' records that
// were never handed out (from bump on): untouched pages, which hold no RSS.
func (s *shard) unwrittenLocked() int64 {
	var n int64
	for c, m := range s.mapped {
		if m {
			n += int64(chunkSize - int(s.cinfo[c].bump))
		}
	}
	return n * int64(unsafe.Sizeof(record{}))
}

// newChunk appends a chunk of free records, off the Go heap if it can,
// except the first: an empty or small shard maps nothing. It returns its
// number; the caller lists it.
func (s *shard) newChunk() int32 {
	var c []record
	if len(s.chunks) > 0 {
		c = offHeapRecords()
	}
	mapped := c != nil
	if mapped {
		s.st.offHeap.Add(int64(pageRound(chunkSize * int(unsafe.Sizeof(record{})))))
	} else {
		c = make([]record, chunkSize)
	}
	s.chunks = append(s.chunks, c)
	s.mapped = append(s.mapped, mapped)
	s.cinfo = append(s.cinfo, chunkInfo{prev: -1, next: -1})
	s.nrec = uint32(len(s.chunks)) << chunkBits
	return int32(len(s.chunks) - 1)
}

// listChunk puts chunk c first on its database's list of chunks with free
// records.
func (s *shard) listChunk(c int32) {
	ci := &s.cinfo[c]
	head := &s.partial[ci.db]
	ci.prev, ci.next = -1, *head
	if *head >= 0 {
		s.cinfo[*head].prev = c
	}
	*head = c
}

// unlistChunk takes chunk c off its database's list.
func (s *shard) unlistChunk(c int32) {
	ci := &s.cinfo[c]
	if ci.prev >= 0 {
		s.cinfo[ci.prev].next = ci.next
	} else {
		s.partial[ci.db] = ci.next
	}
	if ci.next >= 0 {
		s.cinfo[ci.next].prev = ci.prev
	}
	ci.prev, ci.next = -1, -1
}

// allocRecord hands out a free record for a key of physical database db:
// from the database's first chunk with free records, else from a spare
// chunk or a new one, which becomes the database's.
func (s *shard) allocRecord(db uint8) uint32 {
	c := s.partial[db]
	if c < 0 {
		if n := len(s.spare); n > 0 {
			c, s.spare = s.spare[n-1], s.spare[:n-1]
		} else {
			c = s.newChunk()
		}
		s.cinfo[c].db = db
		s.listChunk(c)
	}
	ci := &s.cinfo[c]
	var i uint32
	if ci.free != 0 {
		i = uint32(c)<<chunkBits | uint32(ci.free-1)
		ci.free = uint16(s.rec(i).snext)
		s.freeRecs.Add(-1)
	} else {
		i = uint32(c)<<chunkBits | uint32(ci.bump)
		ci.bump++
	}
	ci.live++
	if ci.full() {
		s.unlistChunk(c)
	}
	return i
}

// freeRecord gives record i back to its chunk (zeroed: TypeNone).
func (s *shard) freeRecord(i uint32) {
	c := int32(i >> chunkBits)
	ci := &s.cinfo[c]
	wasFull := ci.full()
	*s.rec(i) = record{snext: uint32(ci.free)}
	ci.free = uint16(i&chunkMask) + 1
	ci.live--
	s.freeRecs.Add(1)
	switch {
	case ci.live == 0:
		if !wasFull {
			s.unlistChunk(c)
		}
		s.spare = append(s.spare, c)
	case wasFull:
		s.listChunk(c)
	}
}

// noKeysOfFrom reports whether records i to the end of i's chunk hold no key
// of physical database db: the chunk is another database's or has no live
// record, or i is past the records it ever handed out. A chunk changes
// database only while it has no live record, so a walk may skip such a rest.
func (s *shard) noKeysOfFrom(db uint8, i uint32) bool {
	ci := &s.cinfo[i>>chunkBits]
	return ci.live == 0 || ci.db != db || i&chunkMask >= uint32(ci.bump)
}

// noKeysFrom reports whether records i to the end of i's chunk hold no key:
// the chunk has no live record or i is past the records it handed out.
func (s *shard) noKeysFrom(i uint32) bool {
	ci := &s.cinfo[i>>chunkBits]
	return ci.live == 0 || i&chunkMask >= uint32(ci.bump)
}
