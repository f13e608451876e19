package server

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/server/config"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/store"
)

// lockedBuffer is a bytes.Buffer safe for the server's logger and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// panicServer starts a server whose own command table holds two commands
// that panic with their key's shard locked: X-PANIC key (at once) and
// X-BPANIC key timeout (a blocking command that panics when it is served),
// and X-PANICALL, which panics with every shard locked.
// Its log goes to the returned buffer.
func panicServer(t *testing.T) (*Server, *lockedBuffer) {
	t.Helper()
	cfg := config.DefaultConfig()
	cfg.Port = 0
	cfg.Bind = []string{"127.0.0.1"}
	cfg.MetricsAddr = ""
	s, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	logs := &lockedBuffer{}
	s.log = slog.New(slog.NewTextHandler(logs, nil))
	panicking := func(c *kernel.Ctx, key []byte) {
		tx := c.Lock(key)
		tx.SetString(int(c.Selected.Load()), key, []byte("half-written"), 0)
		panic("test: handler failed")
	}
	for _, sp := range []spec{
		{name: "x-panic", arity: 2, flags: "write", first: 1, last: 1, step: 1, group: "generic",
			fn: func(c *client, args [][]byte) { panicking(&c.Ctx, args[1]) }},
		{name: "x-panicall", arity: 1, flags: "write", group: "generic",
			fn: func(c *client, _ [][]byte) { c.LockAll(); panic("test: handler failed with every shard locked") }},
		{name: "x-bpanic", arity: 3, flags: "write blocking", first: 1, last: 1, step: 1, group: "list",
			fn: func(c *client, args [][]byte) { c.BlockFor(args) },
			block: &kernel.BlockSpec{Keys: kernel.KeyAt(1), Timeout: -1, Want: store.TypeList,
				Serve:    func(c *kernel.Ctx, _ [][]byte, key []byte) bool { panicking(c, key); return true },
				TimedOut: (*kernel.Ctx).NullArray, NoWait: (*kernel.Ctx).NullArray}},
	} {
		s.cmds.m[sp.name] = build(sp, nil)
	}
	if err := s.listen(); err != nil {
		t.Fatal(err)
	}
	return s, logs
}

const errPanicked = "ERR internal error running '%s'; the connection is closed"

func panicErr(name string) string { return strings.Replace(errPanicked, "%s", name, 1) }

// TestPanicRecovered: a command that panics holding a shard lock answers
// an error, is disconnected, is logged with its stack and counted, and the
// node keeps serving, the key included — for a command run directly,
// inside EXEC, and a blocked command served on its session.
func TestPanicRecovered(t *testing.T) {
	s, logs := panicServer(t)
	reg := prometheus.NewRegistry()
	if err := s.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	other := newClient(t, s, nil)

	// Directly, over a raw connection: the error, then the connection closes.
	raw := listDialRaw(t, "tcp", s.Addr())
	if got, want := raw.do(t, "X-PANIC", "k"), "-"+panicErr("x-panic")+"\r\n"; got != want {
		t.Fatalf("X-PANIC = %q, want %q", got, want)
	}
	if _, err := raw.r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the panic the connection reads %v, want EOF", err)
	}
	mustDo(t, other, "SET", "k", "v") // the shard lock was released
	if got := mustDo(t, other, "GET", "k"); got != "v" {
		t.Fatalf("GET k = %v", got)
	}

	// With go-redis.
	rc := newClient(t, s, func(o *redis.Options) { o.PoolSize = 1 })
	wantErr(t, rc, panicErr("x-panic"), "X-PANIC", "k2")
	mustDo(t, other, "DEL", "k2")
	// A new client: rc's pooled connection was closed by the server.
	wantErr(t, newClient(t, s, nil), panicErr("x-panicall"), "X-PANICALL")
	mustDo(t, other, "FLUSHALL") // locks every shard

	// Inside EXEC: the commands before it ran, those after it did not.
	tx := listDialRaw(t, "tcp", s.Addr())
	for _, cmd := range [][]string{{"MULTI"}, {"SET", "a", "1"}, {"X-PANIC", "k3"}, {"SET", "b", "2"}} {
		tx.do(t, cmd...)
	}
	want := "*3\r\n+OK\r\n-" + panicErr("x-panic") + "\r\n-" + errExecPanicked + "\r\n"
	if got := tx.do(t, "EXEC"); got != want {
		t.Fatalf("EXEC = %q, want %q", got, want)
	}
	if _, err := tx.r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the EXEC the connection reads %v, want EOF", err)
	}
	if got := mustDo(t, other, "MGET", "a", "b"); len(got.([]any)) != 2 || got.([]any)[0] != "1" || got.([]any)[1] != nil {
		t.Fatalf("MGET a b = %v, want [1 <nil>]", got)
	}
	mustDo(t, other, "SET", "k3", "free")

	// A blocked command that panics when served, on its session's executor.
	blocked := listDialRaw(t, "tcp", s.Addr())
	blkSend(t, blocked, []string{"X-BPANIC", "q", "0"})
	listBlockedIn(t, listDialRaw(t, "tcp", s.Addr()), 1)
	mustDo(t, other, "RPUSH", "q", "x")
	if got, want := blkRead(t, blocked), "-"+panicErr("x-bpanic")+"\r\n"; got != want {
		t.Fatalf("served X-BPANIC = %q, want %q", got, want)
	}
	if _, err := blocked.r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the panic the blocked connection reads %v, want EOF", err)
	}
	mustDo(t, other, "DEL", "q")
	mustDo(t, other, "RPUSH", "q", "y")
	if got := mustDo(t, other, "LRANGE", "q", "0", "-1"); len(got.([]any)) != 1 {
		t.Fatalf("LRANGE q = %v", got)
	}

	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := sampleValue(fams, "cached_command_panics_total", nil); !ok || v != 5 {
		t.Fatalf("cached_command_panics_total = %v (found %v), want 5", v, ok)
	}
	log := logs.String()
	if n := strings.Count(log, "panic in a command"); n != 5 {
		t.Fatalf("%d panics logged, want 5:\n%s", n, log)
	}
	for _, want := range []string{"test: handler failed", "recover_test.go", "locks_released=1"} {
		if !strings.Contains(log, want) {
			t.Fatalf("log lacks %q:\n%s", want, log)
		}
	}
	if got := mustDo(t, other, "PING"); got != "PONG" {
		t.Fatalf("PING = %v", got)
	}
}
