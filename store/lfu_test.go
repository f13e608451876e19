package store

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestLFUIncr checks Redis's LFULogIncr: increment with probability
// 1/((counter-5)*factor+1), always below 6, never past 255.
func TestLFUIncr(t *testing.T) {
	tests := []struct {
		counter uint8
		factor  int32
		r       float64
		want    uint8
	}{
		{0, 10, 0.999, 1},     // below LFU_INIT_VAL: p = 1
		{5, 10, 0.999, 6},     // base 0: p = 1
		{6, 10, 0.0909, 7},    // p = 1/11 = 0.090909...
		{6, 10, 0.0910, 6},    // just above p
		{7, 10, 0.0475, 8},    // p = 1/21 = 0.047619...
		{7, 10, 0.0477, 7},    // just above
		{105, 1, 0.0098, 106}, // p = 1/101
		{105, 1, 0.0100, 105},
		{200, 0, 0.999, 201}, // factor 0: p = 1
		{255, 0, 0, 255},     // saturated
		{254, 10, 0, 255},
	}
	for _, tt := range tests {
		if got := lfuIncr(tt.counter, tt.factor, tt.r); got != tt.want {
			t.Errorf("lfuIncr(%d, %d, %v) = %d, want %d", tt.counter, tt.factor, tt.r, got, tt.want)
		}
	}
}

// TestLFUDecay checks Redis's LFUDecrAndReturn and LFUTimeElapsed: one step
// per decay-time minutes on a 16-bit minutes clock that wraps once.
func TestLFUDecay(t *testing.T) {
	tests := []struct {
		ldt     uint32
		counter uint8
		now     uint32
		decay   int32
		want    uint8
	}{
		{100, 20, 100, 1, 20},
		{100, 20, 103, 1, 17},
		{100, 20, 107, 2, 17},  // 7 minutes / 2 = 3 periods
		{100, 20, 107, 8, 20},  // not a whole period yet
		{100, 20, 200, 1, 0},   // more periods than counter
		{100, 20, 120, 1, 0},   // exactly counter periods
		{100, 20, 5000, 0, 20}, // decay 0: never
		{65530, 20, 3, 1, 12},  // wrapped: 65535-65530+3 = 8 minutes
		{65535, 20, 0, 1, 20},  // Redis counts 65535->0 as 0 minutes
		{5, 255, 4, 1, 0},      // clock behind by one: 65534 minutes
	}
	for _, tt := range tests {
		f := lfuField(tt.ldt, tt.counter)
		if got := lfuDecayed(f, tt.now, tt.decay); got != tt.want {
			t.Errorf("decay(ldt %d, c %d, now %d, decay %d) = %d, want %d", tt.ldt, tt.counter, tt.now, tt.decay, got, tt.want)
		}
	}
	if m := lfuMinutes(uint32(1_700_000_000)); m != (1_700_000_000/60)&65535 {
		t.Fatalf("lfuMinutes = %d", m)
	}
}

// TestLFUGrowthAsRedisTable replays the table in redis.conf ("factor | 100
// hits | 1000 hits | 100K hits | 1M hits") from a new key's counter of 5,
// averaging 20 runs with seeded coins. Redis's figures are single runs, so
// the mean must come within 5% (at least 2) of them.
func TestLFUGrowthAsRedisTable(t *testing.T) {
	hits := []int{100, 1000, 100_000, 1_000_000}
	table := []struct {
		factor int32
		want   []float64
	}{
		{0, []float64{104, 255, 255, 255}},
		{1, []float64{18, 49, 255, 255}},
		{10, []float64{10, 18, 142, 255}},
		{100, []float64{8, 11, 49, 143}},
	}
	const runs = 20
	for _, row := range table {
		sum := make([]float64, len(hits))
		for run := range runs {
			rng := rand.New(rand.NewPCG(uint64(run), uint64(row.factor)))
			c, done := uint8(lfuInitVal), 0
			for j, n := range hits {
				for ; done < n && c < 255; done++ {
					c = lfuIncr(c, row.factor, rng.Float64())
				}
				sum[j] += float64(c)
			}
		}
		for j, want := range row.want {
			mean := sum[j] / runs
			if d := mean - want; d > max(2, want/20) || -d > max(2, want/20) {
				t.Errorf("factor %d, %d hits: mean counter %.2f, Redis's table says %v", row.factor, hits[j], mean, want)
			}
		}
	}
}

// lfuStore is a one-shard store under policy p with a fake clock.
func lfuStore(t *testing.T, p Policy, lfu LFUConfig, log *eventLog) (*Store, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	cfg := Config{Shards: 1, ActiveExpireHz: -1, Policy: p, Clock: clk, LFU: &lfu, MaxMemorySamples: 5}
	if log != nil {
		cfg.Observer = log
	}
	s := mustNew(t, cfg)
	t.Cleanup(s.Close)
	return s, clk
}

func freqOf(t *testing.T, s *Store, key string) int {
	t.Helper()
	return peekOf(t, s, key, Entry.Freq)
}

// idleOf is key's (db 0) idle time in ms (OBJECT IDLETIME's reading).
func idleOf(t *testing.T, s *Store, key string) int64 {
	t.Helper()
	return peekOf(t, s, key, Entry.IdleMs)
}

// peekOf returns what of reads from key's (db 0) entry, under its lock.
func peekOf[V any](t *testing.T, s *Store, key string, of func(Entry) V) V {
	t.Helper()
	tx := s.Lock([]byte(key))
	defer tx.Unlock()
	e, ok := tx.Peek(0, []byte(key))
	if !ok {
		t.Fatalf("%s missing", key)
	}
	return of(e)
}

func TestLFUCounterOnAccess(t *testing.T) {
	s, clk := lfuStore(t, AllKeysLFU, LFUConfig{LogFactor: 0, DecayTime: 1}, nil)
	s.Set(0, []byte("k"), []byte("v"), 0, 0, "set")
	if f := freqOf(t, s, "k"); f != 5 {
		t.Fatalf("new key freq %d, want 5", f)
	}
	for range 4 {
		s.Get(0, []byte("k"), nil) // factor 0: every access counts
	}
	tx := s.Lock([]byte("k"))
	tx.LookupReadNoTouch(0, []byte("k")) // not an access
	tx.Peek(0, []byte("k"))
	tx.Unlock()
	if f := freqOf(t, s, "k"); f != 9 {
		t.Fatalf("after 4 reads freq %d, want 9", f)
	}
	s.Set(0, []byte("k"), []byte("w"), 0, 0, "set") // overwrite: an access, counter kept
	if f := freqOf(t, s, "k"); f != 10 {
		t.Fatalf("after overwrite freq %d, want 10", f)
	}
	tx = s.Lock([]byte("k")) // a write's lookup then replace: one access (as INCR)
	tx.LookupWrite(0, []byte("k"))
	tx.SetString(0, []byte("k"), []byte("x"), KeepTTL)
	tx.Unlock()
	tx = s.Lock([]byte("k")) // a replace without lookup: one access
	tx.SetString(0, []byte("k"), []byte("y"), KeepTTL)
	tx.Unlock()
	if f := freqOf(t, s, "k"); f != 12 {
		t.Fatalf("after lookup+replace and replace freq %d, want 12", f)
	}
	clk.Advance(3 * 60_000) // the clock starts 20 s into a minute
	if f := freqOf(t, s, "k"); f != 9 {
		t.Fatalf("3 idle minutes: freq %d, want 9", f)
	}
	s.SetLFU(LFUConfig{LogFactor: 0, DecayTime: 2})
	if f := freqOf(t, s, "k"); f != 11 {
		t.Fatalf("3 idle minutes at decay 2: freq %d, want 11", f)
	}
	s.Get(0, []byte("k"), nil) // decays (stamping the minutes), then +1
	clk.Advance(60_000)
	if f := freqOf(t, s, "k"); f != 12 {
		t.Fatalf("after the read freq %d, want 12", f)
	}
}

// TestLFUPolicySwitch: the access field is reinterpreted, as Redis's lru
// field is, and rewritten in the new meaning on the next access.
func TestLFUPolicySwitch(t *testing.T) {
	s, clk := lfuStore(t, AllKeysLRU, LFUConfig{LogFactor: 0, DecayTime: 1}, nil)
	s.Set(0, []byte("old"), nil, 0, 0, "set")
	a := lruClock(clk.NowMs())
	s.SetPolicy(AllKeysLFU)
	now := lfuMinutes(uint32(clk.NowMs() / 1000))
	if f, want := freqOf(t, s, "old"), int(lfuDecayed(a, now, 1)); f != want {
		t.Fatalf("reinterpreted freq %d, want %d", f, want)
	}
	s.Get(0, []byte("old"), nil)
	if f, want := freqOf(t, s, "old"), int(lfuDecayed(a, now, 1))+1; f != want {
		t.Fatalf("freq after access %d, want %d", f, want)
	}
	s.Set(0, []byte("new"), nil, 0, 0, "set")
	if f := freqOf(t, s, "new"); f != lfuInitVal {
		t.Fatalf("new key freq %d", f)
	}
	s.SetPolicy(VolatileLRU)
	clk.Advance(5000)
	s.Get(0, []byte("new"), nil)
	tx := s.Lock([]byte("new"))
	e, _ := tx.Peek(0, []byte("new"))
	idle := e.IdleMs()
	tx.Unlock()
	if idle != 0 {
		t.Fatalf("idle after an LRU access %d", idle)
	}
}

// fillLFU stores n keys (TTL on those ttl says), reads the hot ones reads
// times each.
func fillLFU(s *Store, n int, ttl, hot func(int) bool, reads int) {
	for i := range n {
		var exp int64
		if ttl(i) {
			exp = s.Now() + 3_600_000
		}
		s.Set(0, keyN(i), []byte("0123456789"), exp, 0, "set")
	}
	for range reads {
		for i := range n {
			if hot(i) {
				s.Get(0, keyN(i), nil)
			}
		}
	}
}

func TestLFUEvictionKeepsFrequentKeys(t *testing.T) {
	all := func(int) bool { return true }
	none := func(int) bool { return false }
	odd := func(i int) bool { return i%2 == 1 }
	hot := func(i int) bool { return i%10 == 3 } // odd, so volatile too
	tests := []struct {
		policy Policy
		ttl    func(int) bool
	}{
		{AllKeysLFU, none},
		{AllKeysLFU, all},
		{VolatileLFU, odd},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v/ttl-%v", tt.policy, tt.ttl(0)), func(t *testing.T) {
			var log eventLog
			s, _ := lfuStore(t, tt.policy, LFUConfig{LogFactor: DefaultLFULogFactor, DecayTime: 1}, &log)
			fillLFU(s, 400, tt.ttl, hot, 30)
			s.SetMaxMemory(s.UsedMemory() * 3 / 4)
			if err := s.FreeMemory(); err != nil {
				t.Fatal(err)
			}
			gone := log.take()
			if len(gone) < 80 {
				t.Fatalf("evicted only %d keys", len(gone))
			}
			for _, ev := range gone {
				var i int
				fmt.Sscanf(ev, "evicted 0 key:%d", &i)
				if hot(i) {
					t.Fatalf("%v evicted hot key %d", tt.policy, i)
				}
				if !tt.ttl(i) && tt.policy == VolatileLFU {
					t.Fatalf("volatile-lfu evicted key %d without TTL", i)
				}
			}
			checkInvariants(t, s)
		})
	}
	t.Run("volatile-lfu/no-ttl", func(t *testing.T) {
		s, _ := lfuStore(t, VolatileLFU, LFUConfig{LogFactor: 10, DecayTime: 1}, nil)
		fillLFU(s, 50, none, hot, 0)
		s.SetMaxMemory(s.UsedMemory() - 1)
		if err := s.FreeMemory(); !errors.Is(err, ErrOOM) {
			t.Fatalf("FreeMemory = %v, want ErrOOM", err)
		}
	})
}

// TestLFUEvictionDecay: a key that was hot but has been idle for longer
// than its counter's worth of decay periods goes before a recently used one.
func TestLFUEvictionDecay(t *testing.T) {
	var log eventLog
	s, clk := lfuStore(t, AllKeysLFU, LFUConfig{LogFactor: 0, DecayTime: 1}, &log)
	s.Set(0, []byte("was-hot"), nil, 0, 0, "set")
	for range 20 {
		s.Get(0, []byte("was-hot"), nil) // counter 25
	}
	clk.Advance(30 * 60_000)  // decays to 0
	s.SetMaxMemorySamples(64) // more than the keys: every key is sampled
	for i := range 20 {
		s.Set(0, keyN(i), nil, 0, 0, "set")
		s.Get(0, keyN(i), nil) // counter 6
	}
	s.SetMaxMemory(s.UsedMemory() - 1)
	if err := s.FreeMemory(); err != nil {
		t.Fatal(err)
	}
	got := log.take()
	if len(got) != 1 || got[0] != "evicted 0 was-hot" {
		t.Fatalf("evicted %q, want was-hot", got)
	}
}

// TestLFUPoolStaleEntries: pool candidates deleted, reused by other keys or
// flushed since they were sampled are never evicted by a stale score.
func TestLFUPoolStaleEntries(t *testing.T) {
	var log eventLog
	s, _ := lfuStore(t, AllKeysLFU, LFUConfig{LogFactor: 0, DecayTime: 1}, &log)
	never := func(int) bool { return false }
	fillLFU(s, 40, never, never, 0)
	s.SetMaxMemory(s.UsedMemory() - 1)
	if err := s.FreeMemory(); err != nil {
		t.Fatal(err)
	}
	s.FlushAll()
	if s.shards[0].pool.n != 0 {
		t.Fatalf("pool kept %d entries over FLUSHALL", s.shards[0].pool.n)
	}
	s.SetMaxMemory(0)
	fillLFU(s, 40, never, never, 0) // counter 5
	for range 3 {
		s.SetMaxMemory(s.UsedMemory() - 1)
		if err := s.FreeMemory(); err != nil {
			t.Fatal(err)
		}
	}
	log.take()
	sh := s.shards[0]
	inPool := map[string]bool{}
	for _, c := range sh.pool.e[:sh.pool.n] {
		inPool[string(sh.key(sh.rec(c.rec)))] = true
	}
	if len(inPool) < 4 { // 5 sampled, 1 evicted, at least

		t.Fatalf("pool holds %d candidates", len(inPool))
	}
	for i := range 40 { // the pool's keys go, the others get counter 6
		tx := s.Lock(keyN(i))
		if inPool[string(keyN(i))] {
			tx.Delete(0, keyN(i))
		} else {
			tx.LookupRead(0, keyN(i))
		}
		tx.Unlock()
	}
	for i := range 40 { // reuse the freed records (counter 10)
		k := []byte(fmt.Sprintf("new:%d", i))
		s.Set(0, k, nil, 0, 0, "set")
		for range 5 {
			s.Get(0, k, nil)
		}
	}
	s.SetMaxMemory(0)
	s.SetMaxMemorySamples(64)
	s.SetMaxMemory(s.UsedMemory() - 1)
	if err := s.FreeMemory(); err != nil {
		t.Fatal(err)
	}
	got := log.take()
	if len(got) != 1 || !strings.HasPrefix(got[0], "evicted 0 key:") {
		t.Fatalf("evicted %q, want a key with counter 6 (not a reused record's counter-10 key)", got)
	}
	checkInvariants(t, s)
}
