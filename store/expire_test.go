package store

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// eventLog is an Observer that records expiries and evictions.
type eventLog struct {
	mu  sync.Mutex
	evs []string
}

func (l *eventLog) Commit(r *Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range r.Changes() {
		kind := map[ChangeKind]string{ChangeExpired: "expired", ChangeEvicted: "evicted"}[ch.Kind]
		if kind != "" {
			l.evs = append(l.evs, fmt.Sprintf("%s %d %s", kind, ch.DB, ch.Key))
		}
	}
}

func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.evs
	l.evs = nil
	return e
}

func TestActiveExpireCycle(t *testing.T) {
	tests := []struct {
		name       string
		keys       int
		ttlKeys    int
		advance    int64
		wantGone   int
		wantEvents bool
	}{
		{"nothing due", 100, 50, 500, 0, false},
		{"all due", 1000, 1000, 2000, 1000, true},
		{"half due", 1000, 500, 2000, 500, true},
		{"few due among many", 3000, 30, 2000, 30, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newFakeClock()
			var log eventLog
			s := mustNew(t, Config{Clock: clk, ActiveExpireHz: -1, Shards: 4, Observer: &log})
			defer s.Close()
			for i := range tt.keys {
				exp := int64(0)
				if i < tt.ttlKeys {
					exp = clk.NowMs() + 1000
				}
				s.Set(2, []byte(fmt.Sprint("k", i)), []byte("v"), exp, 0, "set")
			}
			clk.Advance(tt.advance)
			// Sampling may need more than one cycle when few keys are due,
			// as in Redis; a bounded number always reaches them all.
			gone := 0
			for range 200 {
				gone += s.RunExpireCycle()
				if int64(tt.keys-tt.wantGone) == s.DBSize(2) {
					break
				}
			}
			if gone != tt.wantGone || s.DBSize(2) != int64(tt.keys-tt.wantGone) {
				t.Fatalf("expired %d, dbsize %d", gone, s.DBSize(2))
			}
			if s.Stats().Expired != uint64(tt.wantGone) {
				t.Fatalf("Stats.Expired = %d", s.Stats().Expired)
			}
			evs := log.take()
			if len(evs) != tt.wantGone || (tt.wantEvents && evs[0][:10] != "expired 2 ") {
				t.Fatalf("events %d: %.3q", len(evs), evs)
			}
			if s.DBExpires(2) != int64(tt.ttlKeys-tt.wantGone) {
				t.Fatalf("DBExpires = %d", s.DBExpires(2))
			}
			checkInvariants(t, s)
		})
	}
}

func TestAllDueExpiresInOneCycle(t *testing.T) {
	clk := newFakeClock()
	s := mustNew(t, Config{Clock: clk, ActiveExpireHz: -1, Shards: 2})
	defer s.Close()
	for i := range 500 {
		s.Set(0, []byte(fmt.Sprint(i)), nil, clk.NowMs()+int64(i%10)+1, 0, "set")
	}
	clk.Advance(100)
	if n := s.RunExpireCycle(); n != 500 {
		t.Fatalf("one cycle expired %d of 500 due keys", n)
	}
}

func TestLazyExpiryEvent(t *testing.T) {
	clk := newFakeClock()
	var log eventLog
	s := mustNew(t, Config{Clock: clk, ActiveExpireHz: -1, Observer: &log})
	defer s.Close()
	s.Set(5, []byte("x"), []byte("1"), clk.NowMs()+10, 0, "set")
	clk.Advance(10)
	if _, ok, _ := s.Get(5, []byte("x"), nil); ok {
		t.Fatal("expired key returned")
	}
	if got := log.take(); len(got) != 1 || got[0] != "expired 5 x" {
		t.Fatalf("events %q", got)
	}
	if s.UsedMemory() != 0 {
		t.Fatalf("UsedMemory %d after the only key expired", s.UsedMemory())
	}
}

func TestAvgTTL(t *testing.T) {
	clk := newFakeClock()
	s := mustNew(t, Config{Clock: clk, ActiveExpireHz: -1, Shards: 1})
	defer s.Close()
	if s.AvgTTL(0) != 0 {
		t.Fatal("AvgTTL of an empty db")
	}
	s.Set(0, []byte("a"), nil, clk.NowMs()+1000, 0, "set")
	s.Set(0, []byte("b"), nil, clk.NowMs()+3000, 0, "set")
	s.Set(0, []byte("c"), nil, 0, 0, "set")
	if got := s.AvgTTL(0); got != 2000 {
		t.Fatalf("AvgTTL = %d", got)
	}
}

func TestExpirerGoroutineStops(t *testing.T) {
	before := runtime.NumGoroutine()
	clk := newFakeClock()
	s := mustNew(t, Config{Clock: clk, ActiveExpireHz: 1000})
	s.Set(0, []byte("a"), nil, clk.NowMs()+1, 0, "set")
	clk.Advance(5)
	// The running expirer reaps the key without any read.
	deadline := time.Now().Add(10 * time.Second)
	for s.DBSize(0) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("active expirer never reaped the key")
		}
		runtime.Gosched()
	}
	s.Close()
	s.Close() // idempotent
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before, %d after Close", before, runtime.NumGoroutine())
		}
		runtime.Gosched()
	}
}

// TestHoldActiveExpiry checks that the expirer goroutine skips its cycles
// while Config.Paused answers true (the server's CLIENT PAUSE)
// and reaps the due keys once it answers false. The hook's own calls show
// that cycles came due meanwhile, so no timing is assumed.
func TestHoldActiveExpiry(t *testing.T) {
	clk := newFakeClock()
	var asked atomic.Int32
	var held atomic.Bool
	held.Store(true)
	s := mustNew(t, Config{Clock: clk, ActiveExpireHz: 1000, Paused: func() bool {
		asked.Add(1)
		return held.Load()
	}})
	defer s.Close()
	for i := range 10 {
		s.Set(0, fmt.Appendf(nil, "k%d", i), nil, clk.NowMs()+1, 0, "set")
	}
	clk.Advance(5)
	deadline := time.Now().Add(10 * time.Second)
	for asked.Load() < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("the expirer asked the hook %d times in 10 s", asked.Load())
		}
		time.Sleep(time.Millisecond)
	}
	if n := s.DBSize(0); n != 10 || s.Stats().Expired != 0 {
		t.Fatalf("held: dbsize %d, expired %d; want 10 keys, none expired", n, s.Stats().Expired)
	}
	held.Store(false)
	for s.DBSize(0) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("released: %d keys left", s.DBSize(0))
		}
		time.Sleep(time.Millisecond)
	}
	if s.Stats().Expired != 10 {
		t.Fatalf("Stats.Expired = %d, want 10", s.Stats().Expired)
	}
}

// TestPausedReadsKeepExpiredKeys: while Config.Paused answers true, a
// read of a key whose TTL has passed (GET's fast path, a read lookup,
// SCAN) misses without deleting it, as Redis 7 expires nothing during a
// CLIENT PAUSE; a write's lookup still deletes it, and so does a read once
// the pause is over.
func TestPausedReadsKeepExpiredKeys(t *testing.T) {
	clk := newFakeClock()
	var paused atomic.Bool
	log := &eventLog{}
	s := mustNew(t, Config{Clock: clk, ActiveExpireHz: -1, Observer: log, Paused: paused.Load})
	defer s.Close()
	for _, k := range []string{"a", "b"} {
		s.Set(0, []byte(k), []byte("v"), clk.NowMs()+10, 0, "set")
	}
	clk.Advance(20)
	paused.Store(true)
	now := clk.NowMs()
	if _, ok, err := s.GetAt(now, 0, []byte("a"), nil); ok || err != nil {
		t.Fatalf("paused GET of an expired key: found %v, err %v", ok, err)
	}
	tx := s.Lock([]byte("a"))
	_, found := tx.LookupRead(0, []byte("a"))
	tx.Unlock()
	seen := 0
	s.View().Scan(0, 0, 100, func([]byte, Type) bool { seen++; return true })
	if found || seen != 0 {
		t.Fatalf("paused: a read lookup found the expired key %v, SCAN saw %d keys", found, seen)
	}
	if n := s.DBSize(0); n != 2 || s.Stats().Expired != 0 || len(log.take()) != 0 {
		t.Fatalf("paused reads: dbsize %d, expired %d; want both keys kept, none expired or noted", n, s.Stats().Expired)
	}
	tx = s.Lock([]byte("b"))
	_, found = tx.LookupWrite(0, []byte("b"))
	tx.Unlock()
	if found || s.DBSize(0) != 1 {
		t.Fatalf("paused write lookup: found %v, dbsize %d; want the key deleted", found, s.DBSize(0))
	}
	if got := log.take(); len(got) != 1 || got[0] != "expired 0 b" {
		t.Fatalf("events %q, want b's expiry", got)
	}
	paused.Store(false)
	if _, ok, _ := s.GetAt(clk.NowMs(), 0, []byte("a"), nil); ok || s.DBSize(0) != 0 || s.Stats().Expired != 2 {
		t.Fatalf("after the pause: found %v, dbsize %d, expired %d; want a deleted", ok, s.DBSize(0), s.Stats().Expired)
	}
}
