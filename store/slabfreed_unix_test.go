//go:build unix

package store

import (
	"testing"
	"unsafe"
)

// The tests of the idle and unwritten slab bytes, which only mapped slabs
// have (arena_unix.go; without mmap, arena_other.go, every slab is on the
// Go heap and both counts stay 0).

// TestUnwrittenBytesFollowsWrites: OffHeapBytes less UnwrittenBytes grows
// by what each new key writes into the mapped slabs and chunks (its item,
// and its record once records come from mapped chunks), not by a whole
// slab or chunk when one is mapped; a slab made from the spare (an
// emptied slab, its pages written before) is not unwritten.
func TestUnwrittenBytesFollowsWrites(t *testing.T) {
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1})
	defer s.Close()
	if got := s.UnwrittenBytes(); got != 0 {
		t.Fatalf("UnwrittenBytes %d in an empty store", got)
	}
	val := make([]byte, 200)
	s.Set(0, keyN(0), val, 0, 0, "set")
	sh := s.shards[0]
	item := int64(slabClasses[sh.slabs.slabs[0].class])
	if !sh.slabs.slabs[0].mapped {
		t.Fatal("the first slab is on the Go heap: mmap failed")
	}
	written := func() int64 { return s.OffHeapBytes() - s.UnwrittenBytes() }
	prev, mappedSlabs, mappedChunks := written(), 0, 0
	const keys = 3000 // several slabs of the class, and records past the first (heap) chunk
	for i := 1; i < keys; i++ {
		slabs, chunks := len(sh.slabs.slabs), len(sh.chunks)
		s.Set(0, keyN(i), val, 0, 0, "set")
		mappedSlabs += len(sh.slabs.slabs) - slabs
		mappedChunks += len(sh.chunks) - chunks
		want := item
		if len(sh.chunks) > 1 { // the first chunk is on the Go heap; its records are not off-heap
			want += int64(unsafe.Sizeof(record{}))
		}
		if got := written(); got-prev != want {
			t.Fatalf("key %d: off-heap bytes less unwritten grew by %d, want %d (its item and record)", i, got-prev, want)
		}
		prev = written()
	}
	if mappedSlabs < 2 || mappedChunks < 2 {
		t.Fatalf("%d slabs and %d chunks mapped while writing: the test wants some of each", mappedSlabs, mappedChunks)
	}
	checkInvariants(t, s)

	// Emptying the class's slabs leaves the last one as the spare, which
	// the next class to need a slab takes: its pages were written.
	for i := range keys {
		delKey(s, keyN(i))
	}
	if sh.slabs.spare == nil {
		t.Fatal("no spare slab after deleting every key")
	}
	spare := int64(cap(sh.slabs.spare))
	if got := s.SlabIdleBytes(); got != spare {
		t.Fatalf("SlabIdleBytes %d with every key deleted, want the spare's %d", got, spare)
	}
	before := s.UnwrittenBytes()
	s.Set(0, keyN(0), make([]byte, 20), 0, 0, "set")
	if sh.slabs.spare != nil {
		t.Fatal("the new class's slab did not come from the spare")
	}
	if got := s.UnwrittenBytes(); got != before {
		t.Fatalf("UnwrittenBytes %d after a slab made from the spare, want %d (unchanged)", got, before)
	}
	var small int64 // the new slab's item size
	for i := range sh.slabs.slabs {
		if b := &sh.slabs.slabs[i]; b.buf != nil {
			small = int64(slabClasses[b.class])
		}
	}
	if got := s.SlabIdleBytes(); got != spare-small {
		t.Fatalf("SlabIdleBytes %d after one item in the slab made from the spare, want %d", got, spare-small)
	}
	checkInvariants(t, s)
}

// TestFreeMemoryDropsSpares: with the idle slab bytes counted, a store
// over its limit gives back its spare slabs before it evicts a key, and
// under noeviction before it answers OOM.
func TestFreeMemoryDropsSpares(t *testing.T) {
	for _, p := range []Policy{AllKeysLRU, NoEviction} {
		s := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1, Policy: p})
		s.SetCountSlabFreed(true)
		setKeys(s, 4000, 200)
		for i := range 2000 { // every key of some slabs: they empty, and the last of each shard stays as its spare
			delKey(s, keyN(i))
		}
		idle := s.SlabIdleBytes()
		if idle == 0 || s.slabSpares.Load() == 0 {
			t.Fatalf("%v: no spare slab after deleting 2,000 of 4,000 keys (idle %d)", p, idle)
		}
		keys := s.DBSize(0)
		s.SetMaxMemory(s.UsedMemory() + s.Overhead() - idle/2)
		if err := s.FreeMemory(); err != nil {
			t.Fatalf("%v: FreeMemory: %v", p, err)
		}
		if got := s.DBSize(0); got != keys {
			t.Fatalf("%v: %d keys evicted, the spares alone were over the limit", p, keys-got)
		}
		if s.slabSpares.Load() != 0 || s.SlabIdleBytes() >= idle {
			t.Fatalf("%v: %d spares and %d idle bytes left (before: %d)", p, s.slabSpares.Load(), s.SlabIdleBytes(), idle)
		}
		checkInvariants(t, s)
		s.Close()
	}
}
