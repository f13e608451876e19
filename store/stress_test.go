package store

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestConcurrentStress runs mixed operations from several goroutines (under
// -race in CI) with eviction, expiry, scans and swaps, then checks the
// shards' invariants.
func TestConcurrentStress(t *testing.T) {
	const workers, ops = 4, 20000
	clk := newFakeClock()
	s := mustNew(t, Config{Shards: 8, Databases: 4, ActiveExpireHz: 1000, Clock: clk, Policy: AllKeysLRU, Observer: observerFunc(func(*Record) {})})
	defer s.Close()
	s.SetMaxMemory(200_000)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for n := range ops {
				if err := stressOp(s, clk, r, n); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s.Close() // stop the expirer so the counts below hold still
	checkInvariants(t, s)
	var slotSum int64
	for slot := range Slots {
		slotSum += s.CountKeysInSlot(slot)
	}
	if slotSum != s.DBSize(0) {
		t.Fatalf("slot counts sum %d, db 0 has %d keys", slotSum, s.DBSize(0))
	}
}

// stressOp runs one random operation for TestConcurrentStress.
func stressOp(s *Store, clk *fakeClock, r *rand.Rand, n int) error {
	db := r.IntN(4)
	k := []byte(fmt.Sprint("k", r.IntN(2000)))
	switch r.IntN(16) {
	case 0, 1, 2, 3:
		if err := s.FreeMemoryFor(k); err != nil {
			return err
		}
		s.Set(db, k, make([]byte, r.IntN(200)), clk.NowMs()+int64(r.IntN(100)), 0, "set")
	case 4, 5, 6, 7:
		s.Get(db, k, nil)
	case 8:
		k2 := []byte(fmt.Sprint("k", r.IntN(2000)))
		tx := s.Lock(k, k2)
		tx.Rename(db, k, r.IntN(4), k2)
		tx.Unlock()
	case 9:
		tx := s.Lock(k)
		tx.SetObject(db, k, TypeList, &fakeObj{n: n}, int64(r.IntN(500)), 0)
		if e, ok := tx.LookupWrite(db, k); ok {
			e.Resize(int64(r.IntN(500)))
		}
		tx.Unlock()
	case 10:
		tx := s.Lock(k)
		tx.SetExpire(db, k, clk.NowMs()+int64(r.IntN(50)))
		tx.Persist(db, k)
		tx.Delete(db, k)
		tx.Unlock()
	case 11:
		s.Scan(db, uint64(r.IntN(8))<<32, 20, func([]byte, Type) bool { return true })
	case 12:
		s.RandomKey(db)
		if n%50 == 0 {
			s.CompactSlabs()
		}
	case 13:
		clk.Advance(1)
	case 14:
		if n%500 == 0 {
			s.SwapDB(db, r.IntN(4))
		}
	case 15:
		s.CountKeysInSlot(KeySlot(k))
		if n%1000 == 0 {
			s.FlushDB(db)
		}
	}
	return nil
}

// TestIndexModel checks the open-addressing index against a map model
// through random inserts and deletes, including tag collisions.
func TestIndexModel(t *testing.T) {
	x := newIndex()
	model := map[uint32]uint32{} // rec -> tag
	r := rand.New(rand.NewPCG(3, 4))
	next := uint32(1)
	var recs []uint32
	for range 40_000 {
		if r.IntN(3) > 0 || len(model) == 0 {
			tag := r.Uint32()
			if r.IntN(16) == 0 {
				tag = r.Uint32()&15 | 0xfff0 // equal tags and long probe runs
			}
			x.insert(tag, next)
			model[next] = tag
			recs = append(recs, next)
			next++
		} else {
			j := r.IntN(len(recs))
			rec := recs[j]
			recs[j] = recs[len(recs)-1]
			recs = recs[:len(recs)-1]
			p := x.position(model[rec], rec)
			if p < 0 {
				t.Fatalf("rec %d tag %d missing", rec, model[rec])
			}
			x.removeAt(p)
			delete(model, rec)
		}
	}
	if x.n != len(model) {
		t.Fatalf("n = %d, model %d", x.n, len(model))
	}
	for rec, tag := range model {
		if x.position(tag, rec) < 0 {
			t.Fatalf("rec %d tag %d lost", rec, tag)
		}
	}
	for rec, tag := range model {
		x.removeAt(x.position(tag, rec))
	}
	if x.n != 0 || len(x.slots) > 1024 {
		t.Fatalf("after removing all: n %d, %d slots", x.n, len(x.slots))
	}
}
