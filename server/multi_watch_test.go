package server

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// WATCH: optimistic transactions, expiry at WATCH and after it, the
// registry's cost on the write path.

// txIncr increments key optimistically with WATCH/MULTI/EXEC and reports
// whether the EXEC ran (false: a concurrent write made it fail).
func txIncr(ctx context.Context, rc *redis.Client, key string) (bool, error) {
	err := rc.Watch(ctx, func(tx *redis.Tx) error {
		n, err := tx.Get(ctx, key).Int()
		if err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, key, n+1, 0)
			return nil
		})
		return err
	}, key)
	if errors.Is(err, redis.TxFailedErr) {
		return false, nil
	}
	return err == nil, err
}

func TestWatchOptimisticIncrRace(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, func(o *redis.Options) { o.PoolSize = 16 })
	ctx := ctxT(t)
	const workers, tries = 8, 60
	var ok, failed atomic.Int64
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range tries {
				done, err := txIncr(ctx, rc, "counter")
				if err != nil {
					errs <- err
					return
				}
				if done {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, _ := rc.Get(ctx, "counter").Int64()
	if got != ok.Load() || got == 0 {
		t.Fatalf("counter = %d, successful EXECs = %d (failed %d)", got, ok.Load(), failed.Load())
	}
	t.Logf("%d successful, %d failed EXECs", ok.Load(), failed.Load())
}

func TestWatchGoRedisTxFailed(t *testing.T) {
	s := startServer(t, nil)
	rc := newClient(t, s, nil)
	other := newClient(t, s, resp2)
	ctx := ctxT(t)
	rc.HSet(ctx, "k", "f", "1")
	err := rc.Watch(ctx, func(tx *redis.Tx) error {
		other.HSet(ctx, "k", "f", "2") // another client's write between WATCH and EXEC
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, "k", "f", "3")
			return nil
		})
		return err
	}, "k")
	if !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("Watch error = %v, want TxFailedErr", err)
	}
	if v := rc.HGet(ctx, "k", "f").Val(); v != "2" {
		t.Fatalf("k = %q, want 2", v)
	}
}

// expireOf is key's expiry in db (absolute Unix ms), 0 if none or missing.
func (s *Server) expireOf(db int, key []byte) int64 {
	tx := s.store.Lock(key)
	defer tx.Unlock()
	at, _ := tx.ExpiryOf(db, key)
	return at
}

func TestWatchExpiry(t *testing.T) {
	for _, active := range []bool{true, false} {
		t.Run("active-expire="+strconv.FormatBool(active), func(t *testing.T) {
			s := startServer(t, nil)
			rc := newClient(t, s, nil)
			ctx := ctxT(t)
			if !active {
				mustDo(t, rc, "debug", "set-active-expire", "0")
			}
			conn := rc.Conn()
			defer conn.Close()
			conn.Set(ctx, "t", "v", 0)
			conn.PExpire(ctx, "t", 30*time.Millisecond)
			exp := s.expireOf(0, []byte("t"))
			if exp == 0 {
				t.Fatal("no TTL")
			}
			conn.Do(ctx, "watch", "t")
			conn.Do(ctx, "watch", "plain") // a watched key without TTL does not matter
			waitUntil(t, func() bool { return s.store.Now() > exp }, func() string { return "the TTL to pass" })
			_, err := conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Get(ctx, "t")
				return nil
			})
			if !errors.Is(err, redis.TxFailedErr) {
				t.Fatalf("EXEC after a watched key expired: %v, want TxFailedErr", err)
			}
			// A key already expired (not yet deleted) at WATCH does not fail
			// it, as in redis-server 7.0.15.
			conn.Set(ctx, "t", "v", 0)
			conn.PExpire(ctx, "t", 20*time.Millisecond)
			exp = s.expireOf(0, []byte("t"))
			waitUntil(t, func() bool { return s.store.Now() > exp }, func() string { return "the TTL to pass" })
			conn.Do(ctx, "watch", "t")
			if _, err := conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Exists(ctx, "t")
				return nil
			}); err != nil {
				t.Fatalf("EXEC with a key expired before WATCH: %v", err)
			}
			// A key with a TTL that has not passed does not fail it.
			conn.Set(ctx, "t", "v", time.Hour)
			conn.Do(ctx, "watch", "t")
			if _, err := conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Get(ctx, "t")
				return nil
			}); err != nil {
				t.Fatalf("EXEC with a live TTL: %v", err)
			}
		})
	}
}

// TestWatchDisconnectForgets: a client that disconnects while watching
// leaves nothing in the registry once it is collected.
func TestWatchDisconnectForgets(t *testing.T) {
	s := startServer(t, nil)
	for i := range 5 {
		rc := newClient(t, s, func(o *redis.Options) { o.PoolSize = 1 })
		mustDo(t, rc, "watch", "k"+strconv.Itoa(i), "x")
		if i%2 == 0 {
			mustDo(t, rc, "multi")
		}
		_ = rc.Close()
	}
	waitUntil(t, func() bool {
		runtime.GC()
		s.txs.mu.Lock()
		defer s.txs.mu.Unlock()
		return len(s.txs.states) == 0 && !s.watch.Active()
	}, func() string { return "the registry to empty" })
}

// BenchmarkNotifyIdle measures what every write pays for WATCH and blocking
// when nobody watches or waits: watch.Touch and signalReady.
func BenchmarkNotifyIdle(b *testing.B) {
	s := startServer(b, nil)
	key := []byte("some:key")
	b.ReportAllocs()
	for b.Loop() {
		s.watch.Touch(0, key, false)
		s.signalReady(0, key)
	}
}

// BenchmarkTouchWatchedBusy measures watch.Touch while other keys are
// watched (the registry's lock and map lookup).
func BenchmarkTouchWatchedBusy(b *testing.B) {
	s := startServer(b, nil)
	rc := newClient(b, s, nil)
	mustDo(b, rc, "watch", "a", "b", "c")
	key := []byte("some:key")
	b.ReportAllocs()
	for b.Loop() {
		s.watch.Touch(0, key, false)
	}
}

// TestWatchExpiryVsRedis: a watched key that expires after WATCH fails the
// EXEC, in cached as in redis-server 7.0.15.
func TestWatchExpiryVsRedis(t *testing.T) {
	got := sameAsRedis(t, func(dial func() *listRaw, step func(c *listRaw, args ...string), _ func(string)) {
		c, o := dial(), dial()
		step(c, "SET", "wx", "v", "PX", "40")
		step(c, "WATCH", "wx")
		waitUntil(t, func() bool { return o.do(t, "EXISTS", "wx") == ":0\r\n" }, func() string { return "wx to expire" })
		step(c, "MULTI")
		step(c, "PING")
		step(c, "EXEC")
	})
	if want := "EXEC -> *-1\r\n"; !slices.Contains(got, want) {
		t.Fatalf("EXEC after a watched key expired: %q, want %q", got, want)
	}
}

// TestWatchExpiredKeyVsRedis: a key whose TTL has passed but that is not
// deleted yet stays in place when WATCHed (DBSIZE counts it); its removal
// by another client's read does not fail the EXEC, a write after that
// does, and so does a write straight onto it; in cached as in
// redis-server 7.0.15 (watchedKey.expired). Active expiry is off, so only
// the steps below remove keys.
func TestWatchExpiredKeyVsRedis(t *testing.T) {
	got := sameAsRedis(t, func(dial func() *listRaw, step func(c *listRaw, args ...string), _ func(string)) {
		c, o := dial(), dial()
		o.do(t, "DEBUG", "SET-ACTIVE-EXPIRE", "0")
		setExpired(t, o, "a")
		step(c, "WATCH", "a")
		step(o, "DBSIZE")
		step(o, "GET", "a") // deletes it: no change for the watch
		step(o, "DBSIZE")
		step(c, "MULTI")
		step(c, "PING")
		step(c, "EXEC")

		setExpired(t, o, "b")
		step(c, "WATCH", "b")
		step(o, "GET", "b")
		step(o, "SET", "b", "new") // written after its removal
		step(c, "MULTI")
		step(c, "PING")
		step(c, "EXEC")

		setExpired(t, o, "c")
		step(c, "WATCH", "c")
		step(o, "SET", "c", "new") // written over the expired value
		step(c, "MULTI")
		step(c, "PING")
		step(c, "EXEC")
	})
	for _, want := range []string{"DBSIZE -> :1\r\n", "EXEC -> *1\r\n+PONG\r\n", "EXEC -> *-1\r\n"} {
		if !slices.Contains(got, want) {
			t.Errorf("no step answered %q: %q", want, got)
		}
	}
}
