package store

import (
	"bytes"
	"fmt"
	"testing"
)

// TestWarmChangesNothing: Warm over keys that exist, are missing, have
// expired, hold large values or collections, repeat, or live in another
// database leaves every value, the key counts and used memory as they were,
// and the lookups after it answer as without it.
func TestWarmChangesNothing(t *testing.T) {
	s := mustNew(t, Config{ActiveExpireHz: -1})
	defer s.Close()
	var keys [][]byte
	for i := range 40 {
		keys = append(keys, fmt.Appendf(nil, "k%d", i))
	}
	big := bytes.Repeat([]byte("b"), largeMin*2)
	for i, k := range keys[:30] {
		switch {
		case i%7 == 0:
			s.Set(0, k, big, 0, 0, "set")
		case i%5 == 0:
			s.Set(0, k, []byte("old"), 0, 1, "set") // expired long ago
		default:
			s.Set(0, k, fmt.Appendf(nil, "v%d", i), 0, 0, "set")
		}
	}
	tx := s.Lock([]byte("h"))
	tx.SetObject(0, []byte("h"), TypeHash, struct{}{}, 10, 0)
	tx.Unlock()
	keys = append(keys, []byte("h"), keys[3], keys[3], []byte(""))
	used, n := s.UsedMemory(), s.DBSize(0)
	look := func(warm bool, db int) []string {
		tx := s.Lock(keys...)
		defer tx.Unlock()
		if warm {
			tx.Warm(db, keys)
		}
		var out []string
		for _, k := range keys {
			e, ok := tx.LookupRead(db, k)
			if !ok {
				out = append(out, "-")
			} else if e.Type() == TypeString {
				out = append(out, fmt.Sprintf("%d:%x", len(e.Str()), e.Str()[:min(4, len(e.Str()))]))
			} else {
				out = append(out, e.Type().String())
			}
		}
		return out
	}
	for _, db := range []int{0, 1} {
		plain, warmed := look(false, db), look(true, db)
		if fmt.Sprint(plain) != fmt.Sprint(warmed) {
			t.Fatalf("db %d: lookups after Warm %v, without %v", db, warmed, plain)
		}
	}
	if got := s.DBSize(0); got != n {
		t.Fatalf("keys %d, were %d", got, n)
	}
	if got := s.UsedMemory(); got != used {
		t.Fatalf("used memory %d, was %d", got, used)
	}
}

// TestStoreWarm: Store.Warm touches every key whose shard is free, skips
// (without waiting) the keys of a shard another Tx holds, and changes
// nothing: values, key count, used memory and the hit and miss counters
// are as they were.
func TestStoreWarm(t *testing.T) {
	s := mustNew(t, Config{ActiveExpireHz: -1, Shards: 16})
	defer s.Close()
	var keys []WarmKey
	for i := range 40 {
		k := fmt.Appendf(nil, "k%d", i)
		if i < 30 {
			s.Set(0, k, fmt.Appendf(nil, "v%d", i), 0, 0, "set")
		}
		keys = append(keys, WarmKey{DB: i % 2, Key: k})
	}
	used, n, st := s.UsedMemory(), s.DBSize(0), s.Stats()
	if got := s.Warm(keys); got != len(keys) {
		t.Fatalf("Warm touched %d keys, want %d", got, len(keys))
	}
	tx := s.Lock(keys[0].Key) // another goroutine's Tx holds k0's shard
	inShard := 0
	for _, k := range keys {
		if KeySlot(k.Key)&15 == KeySlot(keys[0].Key)&15 {
			inShard++
		}
	}
	if got := s.Warm(keys); got != len(keys)-inShard {
		t.Fatalf("Warm with one shard held touched %d keys, want %d", got, len(keys)-inShard)
	}
	tx.Unlock()
	if got := s.DBSize(0); got != n {
		t.Fatalf("keys %d, were %d", got, n)
	}
	if got := s.UsedMemory(); got != used {
		t.Fatalf("used memory %d, was %d", got, used)
	}
	if got := s.Stats(); got.Hits != st.Hits || got.Misses != st.Misses {
		t.Fatalf("hits/misses %d/%d, were %d/%d", got.Hits, got.Misses, st.Hits, st.Misses)
	}
	for i, k := range keys[:30] {
		if v, ok, _ := s.Get(0, k.Key, nil); !ok || string(v) != fmt.Sprintf("v%d", i) {
			t.Fatalf("%s = %q %v after Warm", k.Key, v, ok)
		}
	}
}
