package store

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
)

func scanAll(s *Store, db, count int) map[string]int {
	seen := map[string]int{}
	cur := uint64(0)
	for {
		cur = s.Scan(db, cur, count, func(k []byte, _ Type) bool {
			seen[string(k)]++
			return true
		})
		if cur == 0 {
			return seen
		}
	}
}

func TestScan(t *testing.T) {
	tests := []struct {
		name   string
		shards int
		keys   int
		count  int
	}{
		{"empty", 4, 0, 10},
		{"one key", 4, 1, 10},
		{"count 1", 8, 100, 1},
		{"count 0 means 10", 2, 50, 0},
		{"many", 16, 5000, 100},
		{"huge count", 4, 300, math.MaxInt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustNew(t, Config{Shards: tt.shards, ActiveExpireHz: -1})
			defer s.Close()
			for i := range tt.keys {
				s.Set(3, keyN(i), nil, 0, 0, "set")
				s.Set(4, keyN(i+tt.keys), nil, 0, 0, "set") // another db, not seen
			}
			seen := scanAll(s, 3, tt.count)
			if len(seen) != tt.keys {
				t.Fatalf("saw %d keys, want %d", len(seen), tt.keys)
			}
			for k, n := range seen {
				if n != 1 {
					t.Fatalf("%s seen %d times without concurrent writes", k, n)
				}
			}
		})
	}
}

func TestScanStopsEarlyAndSkipsExpired(t *testing.T) {
	clk := newFakeClock()
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1, Clock: clk})
	defer s.Close()
	for i := range 10 {
		exp := int64(0)
		if i%2 == 0 {
			exp = clk.NowMs() + 1
		}
		s.Set(0, keyN(i), nil, exp, 0, "set")
	}
	clk.Advance(1)
	var got []string
	cur := s.Scan(0, 0, 100, func(k []byte, ty Type) bool {
		got = append(got, string(k))
		return len(got) < 2
	})
	if cur == 0 || len(got) != 2 {
		t.Fatalf("early stop: cursor %d, %q", cur, got)
	}
	s.Scan(0, cur, 100, func(k []byte, ty Type) bool {
		got = append(got, string(k))
		return true
	})
	sort.Strings(got)
	if fmt.Sprint(got) != "[key:0001 key:0003 key:0005 key:0007 key:0009]" {
		t.Fatalf("scan = %q", got)
	}
	if s.DBSize(0) != 5 {
		t.Fatalf("expired keys not reaped by scan: dbsize %d", s.DBSize(0))
	}
}

// TestScanGuaranteeConcurrent checks Redis's SCAN guarantee while other
// goroutines insert and delete keys: every key present throughout is seen.
func TestScanGuaranteeConcurrent(t *testing.T) {
	s := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1})
	defer s.Close()
	const stable = 3000
	for i := range stable {
		s.Set(0, []byte(fmt.Sprint("stable:", i)), []byte("v"), 0, 0, "set")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				k := []byte(fmt.Sprint("churn:", w, ":", r.IntN(5000)))
				if n%3 == 0 {
					tx := s.Lock(k)
					tx.Delete(0, k)
					tx.Unlock()
				} else {
					s.Set(0, k, make([]byte, r.IntN(64)), 0, 0, "set")
				}
			}
		}()
	}
	for round := range 5 {
		seen := scanAll(s, 0, 7+round*20)
		for i := range stable {
			if seen[fmt.Sprint("stable:", i)] == 0 {
				close(stop)
				wg.Wait()
				t.Fatalf("round %d: stable:%d not seen", round, i)
			}
		}
	}
	close(stop)
	wg.Wait()
	checkInvariants(t, s)
}

func TestRandomKey(t *testing.T) {
	clk := newFakeClock()
	s := mustNew(t, Config{Shards: 8, ActiveExpireHz: -1, Clock: clk})
	defer s.Close()
	if _, ok := s.RandomKey(0); ok {
		t.Fatal("RandomKey of an empty db")
	}
	// A sparse db among many keys of another db: the fallback walk finds it.
	for i := range 2000 {
		s.Set(1, keyN(i), nil, 0, 0, "set")
	}
	s.Set(0, []byte("only"), nil, 0, 0, "set")
	s.Set(0, []byte("gone"), nil, clk.NowMs()+1, 0, "set")
	clk.Advance(1)
	for range 20 {
		k, ok := s.RandomKey(0)
		if !ok || string(k) != "only" {
			t.Fatalf("RandomKey = %q, %v", k, ok)
		}
	}
	seen := map[string]bool{}
	for range 2000 {
		k, ok := s.RandomKey(1)
		if !ok {
			t.Fatal("RandomKey(1) found nothing")
		}
		seen[string(k)] = true
	}
	if len(seen) < 100 {
		t.Fatalf("RandomKey not random: %d distinct of 2000 draws", len(seen))
	}
}

func TestSwapDBAndFlush(t *testing.T) {
	var log eventLog
	clk := newFakeClock()
	s := mustNew(t, Config{Shards: 4, Databases: 4, ActiveExpireHz: -1, Clock: clk, Observer: &log})
	defer s.Close()
	for i := range 100 {
		s.Set(0, keyN(i), []byte("db0"), 0, 0, "set")
	}
	s.Set(1, []byte("x"), []byte("db1"), clk.NowMs()+10, 0, "set")
	s.Set(2, []byte("y"), []byte("db2"), 0, 0, "set")
	s.SwapDB(0, 1)
	steps := []struct {
		db      int
		size    int64
		expires int64
	}{{0, 1, 1}, {1, 100, 0}, {2, 1, 0}, {3, 0, 0}}
	for _, st := range steps {
		if s.DBSize(st.db) != st.size || s.DBExpires(st.db) != st.expires {
			t.Fatalf("db %d: size %d expires %d", st.db, s.DBSize(st.db), s.DBExpires(st.db))
		}
	}
	if v, ok, _ := s.Get(0, []byte("x"), nil); !ok || string(v) != "db1" {
		t.Fatalf("after swap db0 x = %q", v)
	}
	if s.CountKeysInSlot(KeySlot(keyN(5))) != 0 {
		t.Fatal("slot counts did not follow SWAPDB")
	}
	clk.Advance(10)
	s.Get(0, []byte("x"), nil)
	if ev := log.take(); len(ev) != 1 || ev[0] != "expired 0 x" {
		t.Fatalf("events after swap: %q (want logical db 0)", ev)
	}
	s.FlushDB(1)
	if s.DBSize(1) != 0 || s.DBSize(2) != 1 {
		t.Fatalf("FlushDB(1): %d %d", s.DBSize(1), s.DBSize(2))
	}
	for i := range 10 {
		s.Set(0, keyN(i), nil, 0, 0, "set")
	}
	s.FlushDB(0) // shares shards with db 2: removed key by key
	if s.DBSize(0) != 0 || s.DBSize(2) != 1 {
		t.Fatalf("FlushDB(0): %d %d", s.DBSize(0), s.DBSize(2))
	}
	checkInvariants(t, s)
	s.FlushAll()
	if s.DBSize(2) != 0 || s.UsedMemory() != 0 {
		t.Fatalf("FlushAll left %d keys, %d bytes", s.DBSize(2), s.UsedMemory())
	}
	checkInvariants(t, s)
}

func TestSlots(t *testing.T) {
	s := mustNew(t, Config{Shards: 4, ActiveExpireHz: -1})
	defer s.Close()
	tagged := []string{"x{user1}", "{user1}.a", "{user1}.b", "{user1}.c"} // sorted
	for _, k := range tagged {
		s.Set(0, []byte(k), nil, 0, 0, "set")
	}
	s.Set(1, []byte("{user1}.d"), nil, 0, 0, "set") // db 1 not counted
	s.Set(0, []byte("somekey"), nil, 0, 0, "set")
	slot := KeySlot([]byte("user1"))
	tests := []struct {
		slot  int
		count int64
	}{{slot, 4}, {11058, 1}, {0, 0}, {-1, 0}, {Slots, 0}}
	for _, tt := range tests {
		if got := s.CountKeysInSlot(tt.slot); got != tt.count {
			t.Errorf("CountKeysInSlot(%d) = %d, want %d", tt.slot, got, tt.count)
		}
	}
	keys := s.View().KeysInSlot(slot, 10)
	var got []string
	for _, k := range keys {
		got = append(got, string(k))
	}
	sort.Strings(got)
	if fmt.Sprint(got) != fmt.Sprint(tagged) {
		t.Fatalf("KeysInSlot = %q", got)
	}
	if len(s.View().KeysInSlot(slot, 2)) != 2 || s.View().KeysInSlot(slot, 0) != nil {
		t.Fatal("KeysInSlot count not honoured")
	}
	tx := s.Lock([]byte("{user1}.a"))
	tx.Delete(0, []byte("{user1}.a"))
	tx.Unlock()
	if s.CountKeysInSlot(slot) != 3 {
		t.Fatalf("after delete: %d", s.CountKeysInSlot(slot))
	}
	s.FlushDB(0)
	if s.CountKeysInSlot(slot) != 0 || s.CountKeysInSlot(11058) != 0 {
		t.Fatal("FlushDB kept slot counts")
	}
}

func TestForEachInSlots(t *testing.T) {
	s := mustNew(t, Config{Shards: 2, ActiveExpireHz: -1})
	defer s.Close()
	want := map[int]int{}
	for i := range 5000 {
		k := keyN(i)
		s.Set(0, k, k, 0, 0, "set")
		if sl := KeySlot(k); sl%3 == 0 {
			want[sl]++
		}
	}
	got := map[int]int{}
	s.View().ForEachInSlots(func(sl int) bool { return sl%3 == 0 }, func(sl int, k []byte, e Entry) bool {
		if KeySlot(k) != sl || string(e.Str()) != string(k) {
			t.Errorf("key %s: slot %d, value %q", k, sl, e.Str())
		}
		got[sl]++
		return true
	})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("visited %d slots, want %d", len(got), len(want))
	}
	n := 0
	s.View().ForEachInSlots(func(int) bool { return true }, func(int, []byte, Entry) bool { n++; return n < 10 })
	if n != 10 {
		t.Fatalf("early stop after %d", n)
	}
}
