package store

import (
	"fmt"
	"testing"
)

// Collection keys take objTable slots that deleted keys give back: filling,
// emptying and refilling a store leaves as many slots as keys at the
// peak. A collection key costs its record, its item (key and 4-byte object
// number), one slot and the object's reported size; a string written over
// it gives the slot back.
func TestObjTableReusesSlots(t *testing.T) {
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1})
	defer s.Close()
	const n = 3000
	key := func(i int) []byte { return fmt.Appendf(nil, "coll:%d", i) }
	for round := range 3 {
		tx := s.Lock(key(0))
		for i := range n {
			tx.SetObject(0, key(i), TypeHash, &fakeObj{n: i}, 100, 0)
		}
		tx.Unlock()
		checkInvariants(t, s)
		sh := s.shards[0]
		if sh.objs.next != n {
			t.Fatalf("round %d: %d slots handed out for %d keys", round, sh.objs.next, n)
		}
		tx = s.Lock(key(7))
		e, ok := tx.LookupRead(0, key(7))
		r := sh.rec(e.i)
		want := recordCost + int64(sh.slabs.size(r.item)) + objCost + 100
		if !ok || e.MemoryUsage() != want || e.Object().(*fakeObj).n != 7 {
			t.Fatalf("round %d: MEMORY USAGE %d, want %d", round, e.MemoryUsage(), want)
		}
		tx.Unlock()
		tx = s.Lock(key(0))
		for i := range n {
			if i%2 == 0 {
				tx.Delete(0, key(i))
			} else {
				tx.SetString(0, key(i), []byte("v"), 0)
			}
		}
		tx.Unlock()
		checkInvariants(t, s) // every slot is in use or on the free list
		if sh.objs.next != n || sh.objs.free == 0 {
			t.Fatalf("round %d: objects given back wrongly (%d slots, free head %d)", round, sh.objs.next, sh.objs.free)
		}
		tx = s.Lock(key(0))
		for i := range n {
			tx.Delete(0, key(i))
		}
		tx.Unlock()
		if s.UsedMemory() != 0 {
			t.Fatalf("round %d: %d bytes used in an empty store", round, s.UsedMemory())
		}
	}
}
