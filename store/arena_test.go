package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"
)

// offHeapAvailable reports whether this platform maps memory off the Go
// heap (arena_unix.go) or keeps everything in it (arena_other.go).
func offHeapAvailable() bool {
	b := offHeapBytes(1)
	if b == nil {
		return false
	}
	freeOffHeap(b)
	return true
}

// offHeapOf adds up the off-heap bytes the store's structures hold.
func offHeapOf(s *Store) int64 {
	var n int64
	chunk := int64(pageRound(chunkSize * int(unsafe.Sizeof(record{}))))
	for _, sh := range s.shards {
		sh.mu.Lock()
		for _, b := range sh.slabs.slabs {
			if b.buf != nil && b.mapped {
				n += int64(cap(b.buf))
			}
		}
		if sh.slabs.spare != nil && sh.slabs.spareMap {
			n += int64(cap(sh.slabs.spare))
		}
		for _, m := range sh.mapped {
			if m {
				n += chunk
			}
		}
		if sh.idx.mapped {
			n += int64(pageRound(len(sh.idx.slots) * 8))
		}
		sh.mu.Unlock()
	}
	return n
}

// arenaValue is the value of key k at version v: n bytes, each byte(n),
// n chosen from k and v so that rewrites move keys between size classes.
func arenaValue(k, v int) []byte {
	n := 1 + (k*31+v*17)%700
	return bytes.Repeat([]byte{byte(n)}, n)
}

// checkArenaValue fails unless b could be an arenaValue: a read of freed,
// reused or unmapped memory shows up as a mismatch (or a fault).
func checkArenaValue(b []byte) error {
	for _, c := range b {
		if c != byte(len(b)) {
			return fmt.Errorf("value of %d bytes holds %d", len(b), c)
		}
	}
	return nil
}

// TestOffHeapAccounting checks that OffHeapBytes is exactly what the
// shards' mapped slabs, spares, record chunks and indexes hold, through a
// load, deletions, a flush and Close (which gives back everything), and
// that the data is off the heap at all where the platform allows.
func TestOffHeapAccounting(t *testing.T) {
	s := mustNew(t, Config{ActiveExpireHz: -1, Shards: 4})
	check := func(when string) {
		t.Helper()
		if got, want := s.OffHeapBytes(), offHeapOf(s); got != want {
			t.Fatalf("%s: OffHeapBytes %d, structures hold %d", when, got, want)
		}
	}
	check("empty")
	const keys = 60_000
	for k := range keys {
		s.Set(0, fmt.Appendf(nil, "key:%d", k), arenaValue(k, 0), 0, 0, "set")
	}
	check("loaded")
	if offHeapAvailable() {
		// 60,000 keys of ~350 bytes: the slabs alone are > 20 MB.
		if n := s.OffHeapBytes(); n < 20<<20 {
			t.Fatalf("OffHeapBytes %d after the load, want the slabs (> 20 MiB)", n)
		}
		mapped := 0
		for _, sh := range s.shards {
			if sh.idx.mapped {
				mapped++
			}
		}
		if mapped != len(s.shards) {
			t.Fatalf("%d of %d indexes off the heap", mapped, len(s.shards))
		}
	}
	for k := 0; k < keys; k += 2 {
		tx := s.Lock(fmt.Appendf(nil, "key:%d", k))
		tx.Delete(0, fmt.Appendf(nil, "key:%d", k))
		tx.Unlock()
	}
	check("half deleted")
	checkInvariants(t, s)
	s.FlushAll()
	check("flushed")
	s.Set(0, []byte("after"), []byte("flush"), 0, 0, "set")
	check("set after flush")
	s.Close()
	if n := s.OffHeapBytes(); n != 0 {
		t.Fatalf("OffHeapBytes %d after Close", n)
	}
	if v, ok, _ := s.Get(0, []byte("after"), nil); ok {
		t.Fatalf("a key survived Close: %q", v)
	}
	s.Set(0, []byte("k"), []byte("v"), 0, 0, "set") // still usable
	if v, ok, _ := s.Get(0, []byte("k"), nil); !ok || string(v) != "v" {
		t.Fatalf("Get after Close = %q, %v", v, ok)
	}
	s.Close()
}

// TestOffHeapFallback runs a store whose mappings run out early: the
// buffers past the budget come from the Go heap, the two kinds mix in one
// shard, and the accounting still returns to zero.
func TestOffHeapFallback(t *testing.T) {
	old := maxArenaMaps
	maxArenaMaps = arenaMaps.Load() + 6
	defer func() { maxArenaMaps = old }()
	s := mustNew(t, Config{ActiveExpireHz: -1, Shards: 2})
	defer s.Close()
	const keys = 20_000
	for v := range 3 {
		for k := range keys {
			s.Set(0, fmt.Appendf(nil, "key:%d", k), arenaValue(k, v), 0, 0, "set")
		}
	}
	heap := 0
	for _, sh := range s.shards {
		for _, b := range sh.slabs.slabs {
			if b.buf != nil && !b.mapped {
				heap++
			}
		}
	}
	if heap == 0 {
		t.Fatal("no slab fell back to the Go heap")
	}
	for k := range keys {
		v, ok, err := s.Get(0, fmt.Appendf(nil, "key:%d", k), nil)
		if !ok || err != nil || !bytes.Equal(v, arenaValue(k, 2)) {
			t.Fatalf("key %d: %d bytes, %v, %v", k, len(v), ok, err)
		}
	}
	checkInvariants(t, s)
	if got, want := s.OffHeapBytes(), offHeapOf(s); got != want {
		t.Fatalf("OffHeapBytes %d, structures hold %d", got, want)
	}
	s.Close()
	if n := s.OffHeapBytes(); n != 0 {
		t.Fatalf("OffHeapBytes %d after Close", n)
	}
}

// TestOffHeapUnmapUnderReaders frees and unmaps slabs, record chunks and
// indexes (rewrites across size classes, deletions that empty slabs,
// FLUSHALL) while other goroutines read through every path that hands out
// slab bytes: Get, Tx lookups (MGET's Entry.Str), Scan, ForEachInSlots,
// SnapshotSlot, RandomKey and KeysInSlot. Every value read must be whole;
// a slice kept past the shard lock into an unmapped slab would fault.
func TestOffHeapUnmapUnderReaders(t *testing.T) {
	s := mustNew(t, Config{ActiveExpireHz: -1, Shards: 4})
	defer s.Close()
	const keys = 4000
	key := func(k int) []byte { return fmt.Appendf(nil, "k:%d", k) }
	var stop atomic.Bool
	var failed atomic.Value
	fail := func(err error) { failed.CompareAndSwap(nil, err) }
	var wg sync.WaitGroup
	writers := 2
	var writersLeft atomic.Int32
	writersLeft.Store(int32(writers))
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if writersLeft.Add(-1) == 0 {
					stop.Store(true)
				}
			}()
			rng := rand.New(rand.NewPCG(uint64(w), 9))
			for round := range 12 {
				for k := w; k < keys; k += writers {
					s.Set(0, key(k), arenaValue(k, round), 0, 0, "set")
				}
				// Delete most keys: their slabs empty and are unmapped.
				for k := w; k < keys; k += writers {
					if rng.IntN(8) != 0 {
						tx := s.Lock(key(k))
						tx.Delete(0, key(k))
						tx.Unlock()
					}
				}
				if w == 0 && round%4 == 3 {
					s.FlushAll()
				}
			}
		}()
	}
	readers := []func(rng *rand.Rand){
		func(rng *rand.Rand) { // Get
			v, ok, _ := s.Get(0, key(rng.IntN(keys)), nil)
			if ok {
				if err := checkArenaValue(v); err != nil {
					fail(err)
				}
			}
		},
		func(rng *rand.Rand) { // MGET: Entry.Str under the lock, copied before Unlock
			ks := [][]byte{key(rng.IntN(keys)), key(rng.IntN(keys)), key(rng.IntN(keys))}
			tx := s.Lock(ks...)
			var out [][]byte
			for _, k := range ks {
				if e, ok := tx.LookupRead(0, k); ok {
					out = append(out, append([]byte(nil), e.Str()...))
				}
			}
			tx.Unlock()
			for _, v := range out {
				if err := checkArenaValue(v); err != nil {
					fail(err)
				}
			}
		},
		func(*rand.Rand) { // SCAN
			var cur uint64
			for range 4 {
				cur = s.View().Scan(0, cur, 100, func(k []byte, _ Type) bool {
					if !bytes.HasPrefix(k, []byte("k:")) {
						fail(fmt.Errorf("scan saw key %q", k))
					}
					return true
				})
				if cur == 0 {
					break
				}
			}
		},
		func(rng *rand.Rand) { // snapshot and hand-off walks
			slot := KeySlot(key(rng.IntN(keys)))
			_, _ = s.SnapshotSlot(slot, func(k []byte, e Entry) error {
				if err := checkArenaValue(e.Str()); err != nil {
					fail(err)
				}
				return nil
			})
			s.View().ForEachInSlots(func(sl int) bool { return sl == slot }, func(_ int, k []byte, e Entry) bool {
				if err := checkArenaValue(e.Str()); err != nil {
					fail(err)
				}
				return true
			})
			for _, k := range s.View().KeysInSlot(slot, 10) {
				if !bytes.HasPrefix(k, []byte("k:")) {
					fail(fmt.Errorf("KeysInSlot gave %q", k))
				}
			}
			if k, ok := s.View().RandomKey(0); ok && !bytes.HasPrefix(k, []byte("k:")) {
				fail(fmt.Errorf("RandomKey gave %q", k))
			}
		},
	}
	var reads atomic.Int64
	for r, read := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			for !stop.Load() {
				read(rng)
				reads.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	if reads.Load() == 0 {
		t.Fatal("no reads ran")
	}
	checkInvariants(t, s)
	if got, want := s.OffHeapBytes(), offHeapOf(s); got != want {
		t.Fatalf("OffHeapBytes %d, structures hold %d", got, want)
	}
}
