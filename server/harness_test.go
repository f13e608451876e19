package server

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/server/config"
	"github.com/cached/cached/store"
)

// startServer starts a node on a free 127.0.0.1 port with cfg's defaults
// changed by mutate (may be nil); it is closed when the test ends.
func startServer(t testing.TB, mutate func(c *config.Config)) *Server {
	t.Helper()
	cfg := config.DefaultConfig()
	cfg.Port = 0
	cfg.Bind = []string{"127.0.0.1"}
	cfg.LogLevel = "warning"
	if lv := os.Getenv("CACHED_TEST_LOGLEVEL"); lv != "" { // e.g. "verbose" to follow a cluster test's tables
		cfg.LogLevel = lv
	}
	cfg.MetricsAddr = ""                         // tests that want metrics set their own free port
	switch os.Getenv("CACHED_TEST_EVENT_LOOP") { // the suite with io-event-loop on or off, whatever its default
	case "yes":
		cfg.IOEventLoop = true
	case "no":
		cfg.IOEventLoop = false
	}
	if os.Getenv("CACHED_TEST_PREFETCH") == "all" { // the suite with the loops warming every wake-up's keys, whatever the store's size
		prefetchFromBytes = 0
	}
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := Start(cfg)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// newClient returns a go-redis client (RESP3, as go-redis v9 negotiates by
// default) connected to s, closed when the test ends.
func newClient(t testing.TB, s *Server, mutate func(o *redis.Options)) *redis.Client {
	t.Helper()
	o := &redis.Options{Addr: s.Addr(), DialTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		MaxRetries: -1, PoolSize: 4}
	if mutate != nil {
		mutate(o)
	}
	rc := redis.NewClient(o)
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

// resp2 makes a go-redis client speak RESP2.
func resp2(o *redis.Options) { o.Protocol = 2 }

// ctxT is a test's context: a bound for a hang, not a speed limit (a
// loaded 2-core -race run forwards a few hundred commands a second).
func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// do sends a raw command and returns its result and error.
func do(t testing.TB, rc *redis.Client, args ...any) (any, error) {
	t.Helper()
	return rc.Do(ctxT(t), args...).Result()
}

// mustDo is do that fails the test on an error reply.
func mustDo(t testing.TB, rc *redis.Client, args ...any) any {
	t.Helper()
	v, err := do(t, rc, args...)
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return v
}

// wantErr asserts that a command fails with exactly msg.
func wantErr(t testing.TB, rc *redis.Client, msg string, args ...any) {
	t.Helper()
	_, err := do(t, rc, args...)
	if err == nil || err.Error() != msg {
		t.Fatalf("%v: got error %v, want %q", args, err, msg)
	}
}

// waitUntil polls cond (pollPause apart) until it holds, failing the test with
// what (and its current state) after 30 s (cluster tables settle in steps).
func waitUntil(t testing.TB, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	polls := 0
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what())
		}
		pollPause(&polls)
	}
}

// allKeys returns every live key of db, read from the store with Scan.
func allKeys(s *Server, db int) []string {
	var keys []string
	var cur uint64
	for {
		cur = s.Store().Scan(db, cur, 100, func(k []byte, _ store.Type) bool {
			keys = append(keys, string(k))
			return true
		})
		if cur == 0 {
			return keys
		}
	}
}

// dumpStacks writes every goroutine's stack to a file named in the test log
// when CACHED_TEST_STACKS names a directory: what a stuck cluster test was
// waiting on.
func dumpStacks(t testing.TB) {
	dir := os.Getenv("CACHED_TEST_STACKS")
	if dir == "" {
		return
	}
	buf := make([]byte, 64<<20)
	buf = buf[:runtime.Stack(buf, true)]
	name := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".stacks")
	if err := os.WriteFile(name, buf, 0o644); err == nil {
		t.Logf("goroutine stacks in %s", name)
	}
}

// pollPause sleeps between two polls of a wait: 2 ms at first, doubling to
// 25 ms, so short waits stay short and long ones (cluster tables settling
// for seconds) do not burn the CPU the cluster needs (under -race a poll
// over 16,384 slots is costly).
func pollPause(n *int) {
	time.Sleep(min(2*time.Millisecond<<*n, 25*time.Millisecond))
	*n = min(*n+1, 8)
}
