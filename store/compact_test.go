package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestCompactSlabsEmptiesSparseSlabs: deleting three keys of four, spread
// over a class's slabs, leaves every slab partly used; compaction moves the
// remaining items together, the freed items and the slabs they held go
// back, and every key keeps its value, TTL and object.
func TestCompactSlabsEmptiesSparseSlabs(t *testing.T) {
	clk := newFakeClock()
	s := mustNew(t, Config{Shards: 2, ActiveExpireHz: -1, Clock: clk})
	defer s.Close()
	exp := clk.NowMs() + 3_600_000
	val := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 200) }
	const n = 20000
	for i := range n {
		k := keyN(i)
		switch {
		case i%50 == 0:
			tx := s.Lock(k)
			tx.SetObject(0, k, TypeList, &fakeObj{n: i}, 100, 0)
			tx.Unlock()
		case i%7 == 0:
			s.Set(0, k, val(i), exp, 0, "set")
		default:
			s.Set(0, k, val(i), 0, 0, "set")
		}
	}
	for i := range n {
		if i%4 != 0 {
			tx := s.Lock(keyN(i))
			tx.Delete(0, keyN(i))
			tx.Unlock()
		}
	}
	freed, off := s.SlabFreedBytes(), s.OffHeapBytes()
	moved := 0
	for range 100 {
		m := s.CompactSlabs()
		if m == 0 {
			break
		}
		moved += m
		checkInvariants(t, s)
	}
	t.Logf("moved %d items; freed on the slabs %d -> %d bytes, off the heap %d -> %d", moved, freed, s.SlabFreedBytes(), off, s.OffHeapBytes())
	if moved == 0 || s.CompactedItems() != uint64(moved) {
		t.Fatalf("moved %d items, CompactedItems %d", moved, s.CompactedItems())
	}
	if s.SlabFreedBytes() > freed/3 {
		t.Fatalf("freed items on the slabs: %d bytes before compaction, %d after", freed, s.SlabFreedBytes())
	}
	if s.OffHeapBytes() >= off {
		t.Fatalf("off-heap bytes %d before compaction, %d after: no slab went back", off, s.OffHeapBytes())
	}
	for i := 0; i < n; i += 4 {
		k := keyN(i)
		tx := s.Lock(k)
		e, ok := tx.Peek(0, k)
		switch {
		case !ok:
			t.Fatalf("%s gone", k)
		case i%50 == 0:
			if o, _ := e.Object().(*fakeObj); o == nil || o.n != i {
				t.Fatalf("%s: object %v", k, e.Object())
			}
		case !bytes.Equal(e.Str(), val(i)):
			t.Fatalf("%s: value %q", k, e.Str())
		case i%7 == 0 && e.ExpireAt() != exp, i%7 != 0 && e.ExpireAt() != 0:
			t.Fatalf("%s: expires at %d", k, e.ExpireAt())
		}
		tx.Unlock()
	}
	if got, want := s.DBSize(0), int64(n/4); got != want {
		t.Fatalf("%d keys, want %d", got, want)
	}
}

// TestCompactSlabsLeavesRefilledClass: a class whose holes are few (a
// steady workload of one size, where writes refill them) is not
// compacted.
func TestCompactSlabsLeavesRefilledClass(t *testing.T) {
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1})
	defer s.Close()
	for i := range 20000 {
		s.Set(0, keyN(i), make([]byte, 200), 0, 0, "set")
	}
	for i := 0; i < 20000; i += 20 { // 5 %
		tx := s.Lock(keyN(i))
		tx.Delete(0, keyN(i))
		tx.Unlock()
	}
	if m := s.CompactSlabs(); m != 0 {
		t.Fatalf("moved %d items with 5 %% of the class freed", m)
	}
}

// TestCompactSlabsConcurrent: writers fill their own keys, then delete
// more of them than they set and read them back while compaction runs in
// a loop, in steps of 500 records; every read matches the writer's model, and the store's
// invariants hold at the end.
func TestCompactSlabsConcurrent(t *testing.T) {
	defer func(n uint32) { compactWalk = n }(compactWalk)
	compactWalk = 500 // passes of many steps, with writes between them
	s := mustNew(t, Config{Shards: 2, ActiveExpireHz: -1})
	defer s.Close()
	const writers, keys, ops = 4, 2000, 30000
	stop := make(chan struct{})
	compacted := make(chan int)
	go func() {
		moved := 0
		for {
			select {
			case <-stop:
				compacted <- moved
				return
			default:
				moved += s.CompactSlabs()
			}
		}
	}()
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			r := rand.New(rand.NewPCG(uint64(w), 11))
			model := map[int][]byte{}
			key := func(i int) []byte { return fmt.Appendf(nil, "w%d:%d", w, i) }
			set := func(i, n int) {
				v := bytes.Repeat(fmt.Appendf(nil, "%d.%d,", i, n), 50)[:190+r.IntN(10)]
				s.Set(0, key(i), v, 0, 0, "set")
				model[i] = v
			}
			for i := range keys { // fill, then delete more than set
				set(i, 0)
			}
			for n := range ops {
				i := r.IntN(keys)
				switch r.IntN(5) {
				case 0:
					set(i, n)
				case 1, 2:
					tx := s.Lock(key(i))
					tx.Delete(0, key(i))
					tx.Unlock()
					delete(model, i)
				default:
					got, ok, _ := s.Get(0, key(i), nil)
					if want, in := model[i]; ok != in || !bytes.Equal(got, want) {
						errs <- fmt.Errorf("writer %d, key %d, op %d: got %q (%v), want %q (%v)", w, i, n, got, ok, want, in)
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(stop)
	moved := <-compacted
	t.Logf("compaction moved %d items", moved)
	if moved == 0 {
		t.Error("compaction moved nothing")
	}
	checkInvariants(t, s)
}

// BenchmarkCompactStep times one compaction step on a shard of 200,000
// keys of 200 bytes with 3 of 4 deleted: a walk of compactWalk records
// and the moves it makes, all under the shard's lock.
func BenchmarkCompactStep(b *testing.B) {
	s := mustNew(b, Config{Shards: 1, ActiveExpireHz: -1})
	defer s.Close()
	val := make([]byte, 200)
	for b.Loop() {
		b.StopTimer()
		for i := range 200000 {
			s.Set(0, keyN(i), val, 0, 0, "set")
		}
		for i := range 200000 {
			if i%4 != 0 {
				tx := s.Lock(keyN(i))
				tx.Delete(0, keyN(i))
				tx.Unlock()
			}
		}
		b.StartTimer()
		s.CompactSlabs()
	}
}
