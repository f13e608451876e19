package store

import (
	"strconv"
	"testing"
)

// keyOfShard returns a key whose shard is id.
func keyOfShard(t *testing.T, s *Store, id int) []byte {
	t.Helper()
	for i := 0; i < 100000; i++ {
		k := []byte("k" + strconv.Itoa(i))
		if s.shardIndex(k) == id {
			return k
		}
	}
	t.Fatalf("no key for shard %d", id)
	return nil
}

// TestTxExtend: Extend locks a shard above the held ones, only tries one
// below (refusing while another Tx holds it), and can take every shard.
func TestTxExtend(t *testing.T) {
	s := mustNew(t, Config{ActiveExpireHz: -1, Shards: 4})
	k := make([][]byte, 4)
	for i := range k {
		k[i] = keyOfShard(t, s, i)
	}
	tx := s.Lock(k[1])
	other := s.Lock(k[0])
	if tx.Extend(false, k[0]) {
		t.Fatal("Extend took shard 0 while another Tx holds it")
	}
	if !tx.Extend(false, k[2]) || !tx.Covers(k[1], k[2]) || tx.Covers(k[0]) {
		t.Fatal("Extend to a higher free shard failed")
	}
	tx.SetString(0, k[2], []byte("v"), 0)
	other.Unlock()
	if !tx.Extend(false, k[0]) || !tx.Covers(k[0], k[1], k[2]) {
		t.Fatal("Extend to a lower free shard failed")
	}
	if !tx.Extend(true) || !tx.All() {
		t.Fatal("Extend to every shard failed")
	}
	tx.Unlock()
	// Every shard is free again and the write is there.
	all := s.LockAll()
	if e, ok := all.Peek(0, k[2]); !ok || string(e.Str()) != "v" {
		t.Fatal("the write made under the extended Tx is missing")
	}
	all.Unlock()
}
