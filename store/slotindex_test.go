package store

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// slotKeys returns the keys SnapshotSlot visits for slot, sorted.
func slotKeys(t *testing.T, s *Store, slot int) []string {
	t.Helper()
	var out []string
	if _, err := s.SnapshotSlot(slot, func(key []byte, _ Entry) error {
		out = append(out, string(key))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestSlotIndexFollowsWrites(t *testing.T) {
	s := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1})
	defer s.Close()
	want := map[int][]string{}
	live := map[string]bool{}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 5000 {
		k := fmt.Sprintf("k%d{%d}", rng.IntN(2000), rng.IntN(40))
		tx := s.Lock([]byte(k))
		switch {
		case n%7 == 0:
			tx.Delete(0, []byte(k))
			delete(live, k)
		case n%11 == 0:
			dst := k + "x"
			if tx.Covers([]byte(dst)) && tx.Rename(0, []byte(k), 0, []byte(dst)) {
				delete(live, k)
				live[dst] = true
			}
		default:
			tx.SetString(0, []byte(k), []byte("v"), 0)
			live[k] = true
		}
		tx.Unlock()
	}
	tx := s.Lock([]byte("other-db"))
	tx.SetString(1, []byte("other-db"), []byte("v"), 0) // db 1: not in a snapshot of db 0
	tx.Unlock()
	for k := range live {
		sl := KeySlot([]byte(k))
		want[sl] = append(want[sl], k)
	}
	for sl, keys := range want {
		slices.Sort(keys)
		if got := slotKeys(t, s, sl); !slices.Equal(got, keys) {
			t.Fatalf("slot %d: snapshot has %v, want %v", sl, got, keys)
		}
	}
	if got := slotKeys(t, s, KeySlot([]byte("other-db"))); len(got) != 0 && !slices.Contains(want[KeySlot([]byte("other-db"))], got[0]) {
		t.Fatalf("db 1 key in snapshot: %v", got)
	}
	checkInvariants(t, s)
	sl := KeySlot([]byte("k1{3}"))
	if n := s.FlushSlot(sl); n != len(want[sl]) {
		t.Fatalf("FlushSlot removed %d, want %d", n, len(want[sl]))
	}
	if got := slotKeys(t, s, sl); len(got) != 0 {
		t.Fatalf("slot %d after FlushSlot: %v", sl, got)
	}
	checkInvariants(t, s)
}

func TestSnapshotSlotSeq(t *testing.T) {
	s := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1})
	defer s.Close()
	s.SetRecordEffects(true)
	k := []byte("a")
	for range 3 {
		s.Set(0, k, []byte("v"), 0, 0, "set", []byte("SET"), k, []byte("v"))
	}
	seq, err := s.SnapshotSlot(KeySlot(k), func([]byte, Entry) error { return nil })
	if err != nil || seq != 3 {
		t.Fatalf("seq %d err %v, want 3", seq, err)
	}
	stop := fmt.Errorf("stop")
	if _, err := s.SnapshotSlot(KeySlot(k), func([]byte, Entry) error { return stop }); err != stop {
		t.Fatalf("error from fn not returned: %v", err)
	}
}

func TestReplicaSlotKeepsExpiredKeys(t *testing.T) {
	clk := newFakeClock()
	s := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1, Clock: clk})
	defer s.Close()
	k, own := []byte("rep"), []byte("own")
	s.SetReplicaSlot(KeySlot(k), true)
	if !s.ReplicaSlot(KeySlot(k)) || s.ReplicaSlot(KeySlot(own)) {
		t.Fatal("marks wrong")
	}
	for _, key := range [][]byte{k, own} {
		tx := s.Lock(key)
		tx.SetString(0, key, []byte("v"), clk.NowMs()+10)
		tx.Unlock()
	}
	clk.Advance(20)
	if n := s.RunExpireCycle(); n != 1 {
		t.Fatalf("expire cycle expired %d, want 1 (the own key)", n)
	}
	if _, ok, _ := s.Get(0, k, nil); ok {
		t.Fatal("expired replica key visible to a read")
	}
	if s.DBSize(0) != 1 {
		t.Fatalf("dbsize %d: the replica key was deleted", s.DBSize(0))
	}
	tx := s.LockApply(k)
	if _, ok := tx.LookupWrite(0, k); !ok {
		t.Fatal("applier does not see the replica key")
	}
	if !tx.Delete(0, k) {
		t.Fatal("applier DEL failed")
	}
	tx.Unlock()
	if s.DBSize(0) != 0 {
		t.Fatalf("dbsize %d after the applier's DEL", s.DBSize(0))
	}
	tx = s.Lock(k) // an ordinary Tx after LockApply: hidden again
	tx.SetString(0, k, []byte("v"), clk.NowMs()+1)
	tx.Unlock()
	clk.Advance(5)
	tx = s.Lock(k)
	if _, ok := tx.LookupRead(0, k); ok {
		t.Fatal("expired replica key visible after an applier Tx")
	}
	tx.Unlock()
	checkInvariants(t, s)
}

func TestReplicaSlotNotEvicted(t *testing.T) {
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1, Policy: AllKeysLRU})
	defer s.Close()
	for i := range 200 {
		k := []byte(fmt.Sprintf("r%d", i))
		s.SetReplicaSlot(KeySlot(k), true)
		tx := s.Lock(k)
		tx.SetString(0, k, make([]byte, 100), 0)
		tx.Unlock()
	}
	s.SetMaxMemory(1)
	if err := s.FreeMemory(); err != ErrOOM {
		t.Fatalf("FreeMemory with only replica keys: %v, want ErrOOM", err)
	}
	if s.DBSize(0) != 200 {
		t.Fatalf("replica keys evicted: %d left", s.DBSize(0))
	}
}

func BenchmarkSetDeleteSlotIndex(b *testing.B) {
	s := mustNew(b, Config{ActiveExpireHz: -1})
	defer s.Close()
	keys := make([][]byte, 1024)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key:%d", i))
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		k := keys[i&1023]
		tx := s.Lock(k)
		tx.SetString(0, k, k, 0)
		tx.Delete(0, k)
		tx.Unlock()
	}
}
