package store

import (
	"testing"
	"time"
)

// TestHeldReleaseAll: Txs locked through a Held and abandoned (as by a
// panicking command) are unlocked by ReleaseAll, after which other
// goroutines can lock the same keys; Unlock unregisters a Tx.
func TestHeldReleaseAll(t *testing.T) {
	s := mustNew(t, Config{ActiveExpireHz: -1, Shards: 16})
	defer s.Close()
	var h Held
	tx := s.LockHeld(&h, []byte("a"))
	tx.Unlock()
	if h.Len() != 0 {
		t.Fatalf("after Unlock the Held still holds %d", h.Len())
	}
	func() {
		defer func() { _ = recover() }()
		tx := s.LockHeld(&h, []byte("a"), []byte("b"))
		tx.SetString(0, []byte("a"), []byte("1"), 0)
		panic("abandoned")
	}()
	if h.Len() != 1 {
		t.Fatalf("held %d, want 1", h.Len())
	}
	done := make(chan struct{})
	go func() { // blocks until ReleaseAll
		tx := s.Lock([]byte("a"))
		tx.Unlock()
		close(done)
	}()
	if n := h.ReleaseAll(); n != 1 || h.Len() != 0 {
		t.Fatalf("ReleaseAll released %d, holds %d; want 1 and 0", n, h.Len())
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("key still locked after ReleaseAll")
	}
	if n := h.ReleaseAll(); n != 0 {
		t.Fatalf("second ReleaseAll released %d", n)
	}
}

// TestHeldManyAndLockAll: more Txs than the inline storage, released in any
// order, and LockAllHeld.
func TestHeldManyAndLockAll(t *testing.T) {
	s := mustNew(t, Config{ActiveExpireHz: -1, Shards: 64})
	defer s.Close()
	var h Held
	s.LockAllHeld(&h)
	if h.Len() != 1 {
		t.Fatalf("held %d, want 1", h.Len())
	}
	if h.ReleaseAll() != 1 {
		t.Fatal("LockAllHeld Tx not released")
	}
	all := s.LockAll() // every shard free again
	all.Unlock()
	// Several Txs at once over distinct shards, more than inline storage.
	var txs []*Tx
	keys := distinctShardKeys(s, 6)
	for _, k := range keys {
		txs = append(txs, s.LockHeld(&h, k))
	}
	txs[2].Unlock()
	txs[0].Unlock()
	if h.Len() != 4 {
		t.Fatalf("held %d, want 4", h.Len())
	}
	if h.ReleaseAll() != 4 || h.Len() != 0 {
		t.Fatal("ReleaseAll did not release the rest")
	}
	all = s.LockAll()
	all.Unlock()
}

func distinctShardKeys(s *Store, n int) [][]byte {
	seen := map[uint64]bool{}
	var out [][]byte
	for i := 0; len(out) < n; i++ {
		k := []byte{'d', byte(i), byte(i >> 8)}
		id := hashKey(k) & s.mask
		if !seen[id] {
			seen[id] = true
			out = append(out, k)
		}
	}
	return out
}

// TestHeldNoAlloc: the hot path (lock one Tx, unlock it) allocates nothing.
func TestHeldNoAlloc(t *testing.T) {
	s := mustNew(t, Config{ActiveExpireHz: -1, Shards: 16})
	defer s.Close()
	var h Held
	k := []byte("key")
	if n := testing.AllocsPerRun(200, func() { s.LockHeld(&h, k).Unlock() }); n != 0 && !raceEnabled {
		t.Fatalf("LockHeld+Unlock allocates %v times", n)
	}
}

func BenchmarkLockHeld(b *testing.B) {
	s := mustNew(b, Config{ActiveExpireHz: -1, Shards: 16})
	defer s.Close()
	var h Held
	k := []byte("key")
	b.ReportAllocs()
	for b.Loop() {
		s.LockHeld(&h, k).Unlock()
	}
}
