package store

import "testing"

// TestEvictionCountsSlabFreed: the items and records freed by deleting
// half of a size's keys stay in their slabs and chunks (SlabFreedBytes,
// RecordFreedBytes); with SetCountSlabFreed the items count in Overhead,
// so a limit that UsedMemory alone meets makes allkeys-lru evict until the
// keys and the freed items fit. Without it, nothing is evicted.
func TestEvictionCountsSlabFreed(t *testing.T) {
	for _, count := range []bool{false, true} {
		s := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1, Policy: AllKeysLRU})
		s.SetCountSlabFreed(count)
		setKeys(s, 4000, 200)
		for i := 0; i < 4000; i += 2 {
			delKey(s, keyN(i))
		}
		freed := s.SlabFreedBytes()
		if freed < 2000*200 {
			t.Fatalf("%d bytes freed on the slabs after deleting 2,000 keys of 200 bytes", freed)
		}
		if got := s.RecordFreedBytes(); got != 2000*recordCost {
			t.Fatalf("RecordFreedBytes %d after deleting 2,000 keys, want %d", got, 2000*recordCost)
		}
		if want := map[bool]int64{false: 0, true: freed}[count]; s.Overhead() != want {
			t.Fatalf("count %v: Overhead %d, want %d", count, s.Overhead(), want)
		}
		s.SetMaxMemory(s.UsedMemory() + freed/2)
		if err := s.FreeMemory(); err != nil {
			t.Fatal(err)
		}
		evicted := 2000 - s.DBSize(0)
		switch {
		case !count && evicted != 0:
			t.Fatalf("freed items not counted: %d keys evicted", evicted)
		case count && s.UsedMemory()+s.Overhead() > s.MaxMemory():
			t.Fatalf("counted: used %d + freed %d over the limit %d", s.UsedMemory(), s.SlabFreedBytes(), s.MaxMemory())
		case count && evicted == 0:
			t.Fatal("counted: nothing evicted")
		}
		checkInvariants(t, s)
		s.Close()
	}
}

// TestRecordFreedBytesFollowsReuse: keys written after deletes take the
// freed records back, and RecordFreedBytes falls with them; a flush
// forgets what the flushed shards kept.
func TestRecordFreedBytesFollowsReuse(t *testing.T) {
	s := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1})
	defer s.Close()
	for i := range 4000 {
		s.Set(0, keyN(i), []byte("v"), 0, 0, "set")
	}
	for i := 0; i < 4000; i += 2 {
		delKey(s, keyN(i))
	}
	if got := s.RecordFreedBytes(); got != 2000*recordCost {
		t.Fatalf("RecordFreedBytes %d after deleting 2,000 keys, want %d", got, 2000*recordCost)
	}
	for i := range 1000 {
		s.Set(0, keyN(10000+i), []byte("v"), 0, 0, "set")
	}
	// A shard takes its own freed records first, so the 1,000 new keys
	// take 1,000 of them unless a shard ran out of freed records.
	if got := s.RecordFreedBytes(); got > 1000*recordCost+200*recordCost || got < 1000*recordCost {
		t.Fatalf("RecordFreedBytes %d after 1,000 new keys, want about %d", got, 1000*recordCost)
	}
	checkInvariants(t, s)
	s.FlushAll()
	if got := s.RecordFreedBytes(); got != 0 {
		t.Fatalf("RecordFreedBytes %d after FLUSHALL", got)
	}
	checkInvariants(t, s)
}
