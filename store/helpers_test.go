package store

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// fakeClock is a settable Clock.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) NowMs() int64     { return c.ms.Load() }
func (c *fakeClock) Advance(ms int64) { c.ms.Add(ms) }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ms.Store(1_700_000_000_000)
	return c
}

func mustNew(tb testing.TB, cfg Config) *Store {
	tb.Helper()
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// delKey deletes key from database 0.
func delKey(s *Store, key []byte) {
	tx := s.Lock(key)
	tx.Delete(0, key)
	tx.Unlock()
}

// setKeys sets keys 0..n-1 (keyN) to values of size bytes in database 0.
func setKeys(s *Store, n, size int) {
	for i := range n {
		s.Set(0, keyN(i), make([]byte, size), 0, 0, "set")
	}
}

// checkInvariants verifies every shard's structures agree with each other.
func checkInvariants(tb testing.TB, s *Store) {
	tb.Helper()
	var idle int64
	var spares int32
	for _, sh := range s.shards {
		sh.mu.Lock()
		err := sh.invariantsLocked()
		for i := range sh.slabs.slabs {
			idle += idleIn(&sh.slabs.slabs[i])
		}
		if sh.slabs.spare != nil && sh.slabs.spareMap {
			idle += int64(cap(sh.slabs.spare))
			spares++
		}
		sh.mu.Unlock()
		if err != "" {
			tb.Fatalf("shard %d: %s", sh.id, err)
		}
	}
	// Store-wide counters: compared only when no write runs meanwhile.
	if got := s.SlabIdleBytes(); got != idle {
		tb.Fatalf("SlabIdleBytes %d, the slabs' spares and their tails hold %d", got, idle)
	}
	if got := s.slabSpares.Load(); got != spares {
		tb.Fatalf("%d mapped spares counted, %d held", got, spares)
	}
}

func (sh *shard) invariantsLocked() string {
	live, used := 0, int64(0)
	objNums := map[uint32]bool{}
	type count struct{ keys, expires int64 }
	counts := make([]count, len(sh.counts))
	for i := uint32(1); i < sh.nrec; i++ {
		r := sh.rec(i)
		if r.typ() == TypeNone {
			continue
		}
		live++
		used += sh.costLocked(i)
		counts[sh.dbOf(i)].keys++
		if r.hasTTL() {
			counts[sh.dbOf(i)].expires++
			if uint32(len(sh.kv(r)))+4 > sh.slabs.room(r.item) {
				return "no room for the ttl position"
			}
			if p := sh.ttlPos(r); int(p) >= len(sh.ttl) || sh.ttl[p].rec != i {
				return "ttl position broken"
			}
		}
		if sh.find(sh.dbOf(i), sh.key(r), tagOf(hashKey(sh.key(r)), sh.dbOf(i))) != i {
			return "record not found through index"
		}
		if r.typ() != TypeString {
			if n := sh.objNum(r); objNums[n] || n >= sh.objs.next || sh.objOf(i).obj == nil {
				return "object number shared, out of range or empty"
			} else {
				objNums[n] = true
			}
		}
	}
	if live != sh.idx.n {
		return "index count differs from live records"
	}
	inLists := 0
	for _, h := range sh.heads {
		for i := h; i != 0; i = sh.rec(i).snext {
			if inLists++; inLists > live || sh.rec(i).typ() == TypeNone {
				return "slot key list broken"
			}
			if n := sh.rec(i).snext; n != 0 && sh.rec(n).sprev != i {
				return "slot key list links broken"
			}
		}
	}
	if inLists != live {
		return "slot key lists miss records"
	}
	if s := sh.chunkInvariantsLocked(); s != "" {
		return s
	}
	if used != sh.used.Load() {
		return "used memory differs from the sum of costs"
	}
	for db := range counts {
		if counts[db].keys != sh.counts[db].keys.Load() || counts[db].expires != sh.counts[db].expires.Load() {
			return "db counts differ"
		}
	}
	if s := objInvariantsLocked(sh, len(objNums)); s != "" {
		return s
	}
	if len(objNums) != live-countStrings(sh) {
		return "stray objects"
	}
	return sh.slabInvariantsLocked()
}

// slabInvariantsLocked checks that the live records own exactly the items
// the slab allocator counts as in use, and no item twice.
func (sh *shard) slabInvariantsLocked() string {
	items := map[uint32]uint32{}
	large := 0
	seen := map[uint32]bool{}
	for i := uint32(1); i < sh.nrec; i++ {
		r := sh.rec(i)
		if r.typ() == TypeNone {
			continue
		}
		if seen[r.item] {
			return "two records share an item"
		}
		seen[r.item] = true
		if uint32(len(sh.kv(r)))+ttlTail(r) > sh.slabs.room(r.item) {
			return "record longer than its item"
		}
		if r.item&largeBit != 0 {
			large++
		} else {
			items[r.item>>itemBits]++
		}
	}
	for si, b := range sh.slabs.slabs {
		if b.used != items[uint32(si)] {
			return "slab item count differs from its records"
		}
	}
	for _, b := range sh.slabs.large {
		if b != nil {
			large--
		}
	}
	if large != 0 {
		return "large values differ from their records"
	}
	return ""
}

func countStrings(sh *shard) int {
	n := 0
	for i := uint32(1); i < sh.nrec; i++ {
		if sh.rec(i).typ() == TypeString {
			n++
		}
	}
	return n
}

// objInvariantsLocked checks that the objTable's free list and the used
// object numbers together cover every slot handed out.
func objInvariantsLocked(sh *shard, used int) string {
	free := 0
	for f := sh.objs.free; f != 0; f = uint32(sh.objs.ref(f - 1).size) {
		if free++; free > int(sh.objs.next) || sh.objs.ref(f-1).obj != nil {
			return "object free list broken"
		}
	}
	if free+used != int(sh.objs.next) {
		return "object slots leaked"
	}
	return ""
}

// chunkInvariantsLocked checks the record chunks' allocation state: each
// chunk's live count, bump and free list agree with its records; a chunk is
// on its database's list exactly when it has free records and a live one,
// and spare exactly when it has no live record.
func (sh *shard) chunkInvariantsLocked() (err string) {
	if sh.nrec != uint32(len(sh.chunks))<<chunkBits || len(sh.cinfo) != len(sh.chunks) {
		return "chunk count broken"
	}
	listed := make([]bool, len(sh.chunks))
	var freeRecs int64
	defer func() {
		if n := sh.freeRecs.Load(); freeRecs != n && err == "" {
			err = fmt.Sprintf("%d records on the free lists, counted %d", freeRecs, n)
		}
	}()
	for db, c := range sh.partial {
		for prev := int32(-1); c >= 0; prev, c = c, sh.cinfo[c].next {
			ci := &sh.cinfo[c]
			if listed[c] || int(ci.db) != db || ci.prev != prev || ci.full() || ci.live == 0 {
				return fmt.Sprintf("chunk %d on db %d's list wrongly: %+v", c, db, *ci)
			}
			listed[c] = true
		}
	}
	spare := make([]bool, len(sh.chunks))
	for _, c := range sh.spare {
		if spare[c] || sh.cinfo[c].live != 0 {
			return fmt.Sprintf("spare chunk %d wrongly: %+v", c, sh.cinfo[c])
		}
		spare[c] = true
	}
	for c := range sh.chunks {
		ci := &sh.cinfo[c]
		base := uint32(c) << chunkBits
		live := 0
		for j := uint32(0); j < chunkSize; j++ {
			if base+j == 0 {
				continue
			}
			if sh.rec(base+j).typ() != TypeNone {
				if j >= uint32(ci.bump) {
					return fmt.Sprintf("chunk %d: live record %d past bump %d", c, j, ci.bump)
				}
				live++
			}
		}
		if live != int(ci.live) {
			return fmt.Sprintf("chunk %d: %d live records, counted %d", c, live, ci.live)
		}
		free := 0
		for f := ci.free; f != 0; f = uint16(sh.rec(base + uint32(f) - 1).snext) {
			if free++; free > chunkSize || uint32(f-1) >= uint32(ci.bump) || sh.rec(base+uint32(f)-1).typ() != TypeNone {
				return fmt.Sprintf("chunk %d: free list broken", c)
			}
		}
		freeRecs += int64(free)
		used := int(ci.bump)
		if c == 0 {
			used-- // record 0
		}
		if free+live != used {
			return fmt.Sprintf("chunk %d: %d free + %d live records of %d handed out", c, free, live, used)
		}
		if listed[c] != (!ci.full() && ci.live != 0) || spare[c] != (ci.live == 0) {
			return fmt.Sprintf("chunk %d: listed %v spare %v: %+v", c, listed[c], spare[c], *ci)
		}
	}
	return ""
}
