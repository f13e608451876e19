package store

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func keyN(i int) []byte { return []byte(fmt.Sprintf("key:%04d", i)) }

// lruStep is a step of the clock the LRU clock tells apart (one tick is
// 3.9 ms).
const lruStep = 1000/lruHz + 1

// fillOneShard stores n keys in a one-shard store, key i with TTL now+ttl(i)
// (0 = none), one every lruStep ms of clk, and returns the cost of key 1 (the
// keys with a TTL cost the same, and so do those without).
func fillOneShard(s *Store, clk *fakeClock, n int, ttl func(i int) int64) int64 {
	for i := range n {
		clk.Advance(lruStep)
		var exp int64
		if d := ttl(i); d != 0 {
			exp = s.Now() + d
		}
		s.Set(0, keyN(i), []byte("0123456789"), exp, 0, "set")
	}
	tx := s.Lock(keyN(1))
	defer tx.Unlock()
	e, _ := tx.Peek(0, keyN(1))
	return e.MemoryUsage()
}

func TestEvictionPolicies(t *testing.T) {
	everyOther := func(i int) int64 {
		if i%2 == 1 {
			return int64(100_000 + i) // odd keys volatile; lower i expires sooner
		}
		return 0
	}
	none := func(int) int64 { return 0 }
	tests := []struct {
		policy  Policy
		ttl     func(int) int64
		evict   int // keys over the limit
		wantErr error
		check   func(t *testing.T, gone []string)
	}{
		{NoEviction, none, 3, ErrOOM, func(t *testing.T, gone []string) { wantGone(t, gone) }},
		{AllKeysLRU, none, 3, nil, func(t *testing.T, gone []string) {
			wantGone(t, gone, "key:0002", "key:0003", "key:0004") // 0 and 1 were read
		}},
		{VolatileLRU, everyOther, 3, nil, func(t *testing.T, gone []string) {
			wantGone(t, gone, "key:0003", "key:0005", "key:0007") // key:0001 was read
		}},
		{VolatileLRU, none, 3, ErrOOM, func(t *testing.T, gone []string) { wantGone(t, gone) }},
		{VolatileTTL, everyOther, 2, nil, func(t *testing.T, gone []string) {
			wantGone(t, gone, "key:0001", "key:0003")
		}},
		{VolatileTTL, none, 2, ErrOOM, func(t *testing.T, gone []string) { wantGone(t, gone) }},
		{VolatileRandom, everyOther, 4, nil, func(t *testing.T, gone []string) {
			if len(gone) != 4 {
				t.Fatalf("gone %q", gone)
			}
			for _, k := range gone {
				var i int
				fmt.Sscanf(k, "key:%d", &i)
				if i%2 == 0 {
					t.Fatalf("volatile-random evicted %s without TTL", k)
				}
			}
		}},
		{VolatileRandom, none, 1, ErrOOM, func(t *testing.T, gone []string) { wantGone(t, gone) }},
		{AllKeysRandom, none, 5, nil, func(t *testing.T, gone []string) {
			if len(gone) != 5 {
				t.Fatalf("gone %q", gone)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.policy.String(), func(t *testing.T) {
			var log eventLog
			clk := newFakeClock()
			// As many samples as keys: the sampled policies are exact.
			s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1, Policy: tt.policy, MaxMemorySamples: 20, Clock: clk, Observer: &log})
			defer s.Close()
			cost := fillOneShard(s, clk, 20, tt.ttl) // key:0000 has no TTL
			clk.Advance(lruStep)
			s.Get(0, keyN(0), nil)
			s.Get(0, keyN(1), nil)
			if err := s.FreeMemory(); err != nil {
				t.Fatalf("FreeMemory without a limit: %v", err)
			}
			used := s.UsedMemory()
			s.SetMaxMemory(used - int64(tt.evict-1)*cost - 1)
			err := s.FreeMemory()
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("FreeMemory = %v, want %v", err, tt.wantErr)
			}
			var gone []string
			for _, ev := range log.take() {
				gone = append(gone, ev[len("evicted 0 "):])
			}
			tt.check(t, gone)
			if err == nil && s.UsedMemory() > s.MaxMemory() {
				t.Fatalf("used %d > max %d", s.UsedMemory(), s.MaxMemory())
			}
			if s.Stats().Evicted != uint64(len(gone)) || s.DBSize(0) != int64(20-len(gone)) {
				t.Fatalf("evicted %d dbsize %d gone %d", s.Stats().Evicted, s.DBSize(0), len(gone))
			}
			checkInvariants(t, s)
		})
	}
}

func wantGone(t *testing.T, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("evicted %q, want %q", got, want)
	}
}

func TestEvictionAcrossShards(t *testing.T) {
	s := mustNew(t, Config{Shards: 8, ActiveExpireHz: -1, Policy: AllKeysLRU})
	defer s.Close()
	for i := range 2000 {
		s.Set(0, keyN(i), make([]byte, 100), 0, 0, "set")
	}
	s.SetMaxMemory(s.UsedMemory() / 2)
	if err := s.FreeMemoryFor(keyN(7)); err != nil {
		t.Fatal(err)
	}
	if s.UsedMemory() > s.MaxMemory() {
		t.Fatalf("used %d > %d", s.UsedMemory(), s.MaxMemory())
	}
	// Eviction was spread: no shard emptied.
	for _, sh := range s.shards {
		if sh.idx.n == 0 {
			t.Fatalf("shard %d emptied", sh.id)
		}
	}
	s.SetPolicy(NoEviction)
	s.SetMaxMemory(1)
	if err := s.FreeMemory(); !errors.Is(err, ErrOOM) || s.Policy() != NoEviction {
		t.Fatalf("noeviction: %v", err)
	}
	s.SetPolicy(AllKeysRandom)
	s.SetMaxMemorySamples(3)
	if err := s.FreeMemory(); err != nil || s.DBSize(0) != 0 || s.UsedMemory() != 0 {
		t.Fatalf("evict all: %v, %d keys, %d bytes", err, s.DBSize(0), s.UsedMemory())
	}
	checkInvariants(t, s)
}

// TestLRUOrderExact: with at least as many samples as keys, allkeys-lru
// evicts in exact LRU order, telling apart accesses one tick apart.
func TestLRUOrderExact(t *testing.T) {
	var log eventLog
	clk := newFakeClock()
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1, Policy: AllKeysLRU, MaxMemorySamples: 10, Clock: clk, Observer: &log})
	defer s.Close()
	for i := range 10 {
		clk.Advance(lruStep)
		s.Set(0, keyN(i), []byte("v"), 0, 0, "set")
	}
	// Touch in an order; overwrite and LookupRead also count as use, Peek does not.
	clk.Advance(lruStep)
	s.Get(0, keyN(3), nil)
	clk.Advance(lruStep)
	s.Set(0, keyN(0), []byte("w"), 0, 0, "set")
	clk.Advance(lruStep)
	tx := s.Lock(keyN(5), keyN(1))
	tx.LookupRead(0, keyN(5))
	tx.Peek(0, keyN(1))
	tx.Unlock()
	order := []string{"key:0001", "key:0002", "key:0004", "key:0006", "key:0007", "key:0008", "key:0009", "key:0003", "key:0000", "key:0005"}
	for i, want := range order {
		s.SetMaxMemory(s.UsedMemory() - 1)
		if err := s.FreeMemory(); err != nil {
			t.Fatal(err)
		}
		got := log.take()
		if len(got) != 1 || got[0] != "evicted 0 "+want {
			t.Fatalf("eviction %d: %q, want %s", i, got, want)
		}
	}
}

// TestVolatileSampling covers volatile-lru's sampling fallback (TTL keys far
// from the LRU tail) and volatile-ttl's sampling (more TTL keys than samples).
func TestVolatileSampling(t *testing.T) {
	for _, p := range []Policy{VolatileLRU, VolatileTTL} {
		var log eventLog
		s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1, Policy: p, MaxMemorySamples: 2, Observer: &log})
		for i := range 200 {
			s.Set(0, keyN(i), nil, 0, 0, "set") // oldest, no TTL
		}
		for i := 200; i < 250; i++ {
			s.Set(0, keyN(i), nil, s.Now()+int64(i), 0, "set")
		}
		s.SetMaxMemory(s.UsedMemory() - 1)
		if err := s.FreeMemory(); err != nil {
			t.Fatalf("%v: %v", p, err)
		}
		got := log.take()
		var i int
		if len(got) != 1 {
			t.Fatalf("%v: evicted %q", p, got)
		}
		fmt.Sscanf(got[0], "evicted 0 key:%d", &i)
		if i < 200 {
			t.Fatalf("%v evicted %s, which has no TTL", p, got[0])
		}
		s.Close()
	}
}

// TestLRUClock: the LRU clock's idle times survive its wrap, and SetIdle's
// idle times read back (capped at what the clock tells apart).
func TestLRUClock(t *testing.T) {
	wrap := int64(1<<accessBits) * 1000 / lruHz // ms at which the clock wraps to 0
	for _, tc := range []struct{ at, now, want int64 }{
		{1_700_000_000_000, 1_700_000_000_000, 0},
		{1_700_000_000_000, 1_700_000_030_000, 30_000},
		{wrap - 1000, wrap + 2000, 3000}, // across the wrap
		{1_700_000_000_000, 1_700_000_000_000 + 1000/lruHz - 1, 0},
		{1_700_000_000_000, 1_700_000_000_000 + 1000/lruHz + 1, 1000 / lruHz}, // one tick: 62.5 ms
		{wrap + 2*(1000/lruHz+1), wrap + 1, (accessMask - 1) * 1000 / lruHz},  // an access two ticks after now: a long idle time
	} {
		if got := lruIdleMs(lruClock(tc.at), tc.now); got != tc.want {
			t.Errorf("idle from %d to %d: %d ms, want %d", tc.at, tc.now, got, tc.want)
		}
	}
	now := int64(1_700_000_000_000)
	for _, tc := range []struct{ idle, want int64 }{
		{0, 0}, {1000, 1000}, {86_400_000, 86_400_000}, {-1, lruMaxIdleMs}, {1 << 62, lruMaxIdleMs},
	} {
		// within two ticks below (each conversion rounds down)
		if got := lruIdleMs(lruAccessIdle(tc.idle, now), now); got > tc.want || got < tc.want-2*1000/lruHz {
			t.Errorf("SetIdle %d: idle %d, want %d", tc.idle, got, tc.want)
		}
	}
}

// TestLRUSetIdleFirstVictim: a key RESTOREd with an idle time is the LRU
// victim before keys used since.
func TestLRUSetIdleFirstVictim(t *testing.T) {
	var log eventLog
	clk := newFakeClock()
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1, Policy: AllKeysLRU, MaxMemorySamples: 10, Clock: clk, Observer: &log})
	defer s.Close()
	for i := range 5 {
		s.Set(0, keyN(i), []byte("v"), 0, 0, "set")
	}
	clk.Advance(60_000)
	s.Set(0, keyN(5), []byte("v"), 0, 0, "set")
	tx := s.Lock(keyN(5))
	tx.SetIdle(0, keyN(5), 3_600_000)
	tx.Unlock()
	s.SetMaxMemory(s.UsedMemory() - 1)
	if err := s.FreeMemory(); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); len(got) != 1 || got[0] != "evicted 0 key:0005" {
		t.Fatalf("evicted %q, want key:0005", got)
	}
}

// TestLRUSkipsReplicaKeys: the LRU pool never takes a replica slot's key,
// however idle: the older replica keys stay, the own keys go.
func TestLRUSkipsReplicaKeys(t *testing.T) {
	var log eventLog
	clk := newFakeClock()
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1, Policy: AllKeysLRU, MaxMemorySamples: 5, Clock: clk, Observer: &log})
	defer s.Close()
	for i := range 50 {
		k := []byte(fmt.Sprintf("r%d", i))
		s.SetReplicaSlot(KeySlot(k), true)
		s.Set(0, k, []byte("v"), 0, 0, "set")
	}
	clk.Advance(60_000)
	own := 0
	for i := 0; own < 50; i++ {
		if k := keyN(i); !s.ReplicaSlot(KeySlot(k)) {
			s.Set(0, k, []byte("v"), 0, 0, "set")
			own++
		}
	}
	cost := s.UsedMemory() / 100
	s.SetMaxMemory(s.UsedMemory() - 20*cost)
	if err := s.FreeMemory(); err != nil {
		t.Fatal(err)
	}
	got := log.take()
	if len(got) != 20 {
		t.Fatalf("evicted %d keys, want 20: %q", len(got), got)
	}
	for _, ev := range got {
		if !strings.HasPrefix(ev, "evicted 0 key:") {
			t.Fatalf("evicted a replica key: %s", ev)
		}
	}
	checkInvariants(t, s)
}

// TestLRUSamplesSparseRecords: with most records free (keys deleted), the
// sampler's runs of neighbouring records may meet no key; eviction still
// finds every remaining one (through the index), never reporting ErrOOM
// while keys are left.
func TestLRUSamplesSparseRecords(t *testing.T) {
	clk := newFakeClock()
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1, Clock: clk, Policy: AllKeysLRU, MaxMemorySamples: 5})
	defer s.Close()
	fillOneShard(s, clk, 5000, func(int) int64 { return 0 })
	for i := range 5000 {
		if i%250 != 0 {
			tx := s.Lock(keyN(i))
			tx.Delete(0, keyN(i))
			tx.Unlock()
		}
	}
	for left := 20; left > 0; left-- {
		if n := s.shards[0].idx.n; n != left {
			t.Fatalf("%d keys, want %d", n, left)
		}
		s.SetMaxMemory(s.UsedMemory() - 1)
		if err := s.FreeMemory(); err != nil {
			t.Fatalf("FreeMemory with %d keys left: %v", left, err)
		}
	}
	if n := s.shards[0].idx.n; n != 0 {
		t.Fatalf("%d keys left", n)
	}
	checkInvariants(t, s)
}

// TestLRUAgeSweep: the expiry cycle's sweep keeps idle times from wrapping
// on the 194-day LRU clock: a key idle for longer than lruMaxIdleMs (97
// days) reads as idle lruMaxIdleMs (not its idle time modulo the wrap,
// which would look recent) and is evicted before a key used a day ago.
func TestLRUAgeSweep(t *testing.T) {
	var log eventLog
	clk := newFakeClock()
	s := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1, Policy: AllKeysLRU, MaxMemorySamples: 10, Clock: clk, Observer: &log})
	defer s.Close()
	const day = 86_400_000
	days := int(lruMaxIdleMs/day) + 3
	s.Set(0, []byte("old"), []byte("v"), 0, 0, "set")
	for d := 1; d <= days; d++ {
		clk.Advance(day)
		if d == days-1 {
			s.Set(0, []byte("new"), []byte("v"), 0, 0, "set")
		}
		s.RunExpireCycle()
		want := min(int64(d)*day, lruMaxIdleMs)
		if got := idleOf(t, s, "old"); got > want || got < want-1000 {
			t.Fatalf("day %d: old idle %d ms, want %d", d, got, want)
		}
	}
	if got := idleOf(t, s, "new"); got < day-1000 || got > day {
		t.Fatalf("new idle %d ms, want a day", got)
	}
	s.SetMaxMemory(s.UsedMemory() - 1)
	if err := s.FreeMemory(); err != nil {
		t.Fatal(err)
	}
	if got := log.take(); len(got) != 1 || got[0] != "evicted 0 old" {
		t.Fatalf("evicted %q, want old", got)
	}
	// Without the sweep the idle time wraps: 6 days past the wrap read as 6.
	clk2 := newFakeClock()
	s2 := mustNew(t, Config{Shards: 1, ActiveExpireHz: -1, Policy: AllKeysLRU, Clock: clk2})
	defer s2.Close()
	s2.Set(0, []byte("k"), []byte("v"), 0, 0, "set")
	wrapMs := int64(accessMask+1) * 1000 / lruHz
	clk2.Advance(wrapMs + 6*day)
	wrapped := idleOf(t, s2, "k")
	if wrapped >= 6*day+1000 || wrapped < 6*day-1000 {
		t.Fatalf("unswept idle %d ms", wrapped)
	}
}
