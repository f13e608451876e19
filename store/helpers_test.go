package store

import (
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

// checkInvariants verifies every shard's structures agree with each other.
func checkInvariants(tb testing.TB, s *Store) {
	tb.Helper()
	for _, sh := range s.shards {
		sh.mu.Lock()
		err := sh.invariantsLocked()
		sh.mu.Unlock()
		if err != "" {
			tb.Fatalf("shard %d: %s", sh.id, err)
		}
	}
}

func (sh *shard) invariantsLocked() string {
	live, used := 0, int64(0)
	objNums := map[uint32]bool{}
	type count struct{ keys, expires int64 }
	counts := make([]count, len(sh.counts))
	for i := uint32(1); i < sh.nrec; i++ {
		r := sh.rec(i)
		if r.typ == TypeNone {
			continue
		}
		live++
		used += sh.costLocked(i)
		counts[r.db].keys++
		if r.flags&recTTL != 0 {
			counts[r.db].expires++
			if uint32(len(sh.kv(r)))+4 > sh.slabs.room(r.item) {
				return "no room for the ttl position"
			}
			if p := sh.ttlPos(r); int(p) >= len(sh.ttl) || sh.ttl[p].rec != i {
				return "ttl position broken"
			}
		}
		if sh.find(r.db, sh.key(r), tagOf(hashKey(sh.key(r)), r.db)) != i {
			return "record not found through index"
		}
		if r.typ != TypeString {
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
			if inLists++; inLists > live || sh.rec(i).typ == TypeNone {
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
	free := 0
	for i := sh.free; i != 0; i = sh.rec(i).snext {
		if free++; free > int(sh.nrec)-1-live || sh.rec(i).typ != TypeNone {
			return "free list broken"
		}
	}
	if free != int(sh.nrec)-1-live {
		return "free list misses records"
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
		if r.typ == TypeNone {
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
		if sh.rec(i).typ == TypeString {
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
