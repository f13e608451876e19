package server

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/protocol"
)

// send writes a command without reading its reply (a blocking command).
func (c *listRaw) send(t *testing.T, args ...string) {
	t.Helper()
	bs := make([][]byte, len(args))
	for i, a := range args {
		bs[i] = []byte(a)
	}
	if _, err := c.nc.Write(protocol.AppendCommand(nil, bs...)); err != nil {
		t.Fatal(err)
	}
}

// read reads one reply.
func (c *listRaw) read(t *testing.T) string {
	t.Helper()
	var out bytes.Buffer
	if err := listReadReply(c.r, &out); err != nil {
		t.Fatalf("read: %v (read so far %q)", err, out.String())
	}
	return out.String()
}

// blockedClients reads INFO's blocked_clients through a raw connection
// (cached or redis-server).
func blockedClients(t *testing.T, c *listRaw) string {
	t.Helper()
	for _, line := range strings.Split(c.do(t, "INFO", "clients"), "\r\n") {
		if v, ok := strings.CutPrefix(line, "blocked_clients:"); ok {
			return v
		}
	}
	t.Fatal("no blocked_clients in INFO")
	return ""
}

// waitBlockedN waits until n clients are blocked on keys.
func waitBlockedN(t *testing.T, s *Server, n int64) {
	t.Helper()
	waitUntil(t, func() bool { return s.blocks.n.Load() == n },
		func() string { return "blocked clients to become " + string(rune('0'+n)) })
}

func TestBlockPushWakes(t *testing.T) {
	s := startServer(t, nil)
	for _, mode := range []struct {
		name string
		opt  func(*redis.Options)
	}{{"resp3", nil}, {"resp2", resp2}} {
		t.Run(mode.name, func(t *testing.T) {
			rc := newClient(t, s, mode.opt)
			other := newClient(t, s, nil)
			ctx := ctxT(t)
			got := make(chan []string, 1)
			errc := make(chan error, 1)
			go func() {
				v, err := rc.BLPop(ctx, 0, "none", "bk").Result()
				errc <- err
				got <- v
			}()
			waitBlockedN(t, s, 1)
			other.RPush(ctx, "bk", "a", "b")
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if v := <-got; len(v) != 2 || v[0] != "bk" || v[1] != "a" {
				t.Fatalf("BLPOP = %q", v)
			}
			waitBlockedN(t, s, 0)
			if n := other.LLen(ctx, "bk").Val(); n != 1 {
				t.Fatalf("LLEN after one pop = %d", n)
			}
			other.Del(ctx, "bk")
		})
	}
}

// TestBlockFIFO: the client blocked first is served first, and one push of
// two elements serves both waiting clients.
func TestBlockFIFO(t *testing.T) {
	s := startServer(t, nil)
	p := listDialRaw(t, "tcp", s.Addr())
	a := listDialRaw(t, "tcp", s.Addr())
	b := listDialRaw(t, "tcp", s.Addr())
	a.send(t, "BLPOP", "q", "0")
	waitBlockedN(t, s, 1)
	b.send(t, "BLPOP", "q", "0")
	waitBlockedN(t, s, 2)
	p.do(t, "RPUSH", "q", "one")
	if got := a.read(t); got != "*2\r\n$1\r\nq\r\n$3\r\none\r\n" {
		t.Fatalf("first blocked client got %q", got)
	}
	waitBlockedN(t, s, 1)
	a.send(t, "BLPOP", "q", "0") // now behind b
	waitBlockedN(t, s, 2)
	p.do(t, "RPUSH", "q", "two", "three")
	if got := b.read(t); got != "*2\r\n$1\r\nq\r\n$3\r\ntwo\r\n" {
		t.Fatalf("second blocked client got %q", got)
	}
	if got := a.read(t); got != "*2\r\n$1\r\nq\r\n$5\r\nthree\r\n" {
		t.Fatalf("first client, blocked again, got %q", got)
	}
	waitBlockedN(t, s, 0)
}

func TestBlockTimeoutAndPipeline(t *testing.T) {
	s := startServer(t, nil)
	c := listDialRaw(t, "tcp", s.Addr())
	start := time.Now()
	if got := c.do(t, "BLPOP", "none", "0.05"); got != "*-1\r\n" {
		t.Fatalf("timed out BLPOP = %q", got)
	}
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("BLPOP returned before its timeout")
	}
	// Commands pipelined behind a blocked one run after it, in order.
	if _, err := c.nc.Write([]byte("*3\r\n$5\r\nBLPOP\r\n$2\r\npl\r\n$1\r\n0\r\n*1\r\n$4\r\nPING\r\n")); err != nil {
		t.Fatal(err)
	}
	waitBlockedN(t, s, 1)
	listDialRaw(t, "tcp", s.Addr()).do(t, "LPUSH", "pl", "x")
	if got := c.read(t) + c.read(t); got != "*2\r\n$2\r\npl\r\n$1\r\nx\r\n+PONG\r\n" {
		t.Fatalf("pipelined replies %q", got)
	}
	// A detached client still works as before, and blocks again.
	if got := c.do(t, "BRPOPLPUSH", "none", "dst", "0.01"); got != "*-1\r\n" {
		t.Fatalf("BRPOPLPUSH timeout = %q", got)
	}
	c.do(t, "HELLO", "3")
	if got := c.do(t, "BLPOP", "none", "0.01"); got != "_\r\n" {
		t.Fatalf("RESP3 BLPOP timeout = %q", got)
	}
}

func TestBlockDisconnectAndKill(t *testing.T) {
	s := startServer(t, nil)
	p := listDialRaw(t, "tcp", s.Addr())
	gone := listDialRaw(t, "tcp", s.Addr())
	gone.send(t, "BLPOP", "dk", "0")
	waitBlockedN(t, s, 1)
	_ = gone.nc.Close()
	waitBlockedN(t, s, 0)
	p.do(t, "RPUSH", "dk", "kept")
	if got := p.do(t, "LLEN", "dk"); got != ":1\r\n" {
		t.Fatalf("a gone client took the element: LLEN %q", got)
	}
	p.do(t, "DEL", "dk")

	killed := listDialRaw(t, "tcp", s.Addr())
	id := strings.TrimSuffix(strings.TrimPrefix(killed.do(t, "CLIENT", "ID"), ":"), "\r\n")
	killed.send(t, "BLPOP", "dk", "0")
	waitBlockedN(t, s, 1)
	if got := p.do(t, "CLIENT", "KILL", "ID", id); got != ":1\r\n" {
		t.Fatalf("CLIENT KILL = %q", got)
	}
	waitBlockedN(t, s, 0)
	if _, err := killed.r.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("killed blocked client read: %v, want EOF", err)
	}
}

func TestBlockClientUnblock(t *testing.T) {
	s := startServer(t, nil)
	p := listDialRaw(t, "tcp", s.Addr())
	c := listDialRaw(t, "tcp", s.Addr())
	id := strings.TrimSuffix(strings.TrimPrefix(c.do(t, "CLIENT", "ID"), ":"), "\r\n")
	for _, tc := range []struct{ mode, reply string }{
		{"", "*-1\r\n"},
		{"TIMEOUT", "*-1\r\n"},
		{"error", "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"},
	} {
		c.send(t, "BLPOP", "ub", "0")
		waitBlockedN(t, s, 1)
		if got := blockedClients(t, p); got != "1" {
			t.Fatalf("INFO blocked_clients = %s", got)
		}
		if !strings.Contains(p.do(t, "CLIENT", "LIST", "ID", id), " flags=b ") {
			t.Fatalf("CLIENT LIST of a blocked client: %q", p.do(t, "CLIENT", "LIST", "ID", id))
		}
		args := []string{"CLIENT", "UNBLOCK", id}
		if tc.mode != "" {
			args = append(args, tc.mode)
		}
		if got := p.do(t, args...); got != ":1\r\n" {
			t.Fatalf("CLIENT UNBLOCK %s = %q", tc.mode, got)
		}
		if got := c.read(t); got != tc.reply {
			t.Fatalf("unblocked (%s) client got %q, want %q", tc.mode, got, tc.reply)
		}
		waitBlockedN(t, s, 0)
	}
	for _, tc := range []struct {
		args  []string
		reply string
	}{
		{[]string{"CLIENT", "UNBLOCK", id}, ":0\r\n"},
		{[]string{"CLIENT", "UNBLOCK", "999999"}, ":0\r\n"},
		{[]string{"CLIENT", "UNBLOCK", "abc"}, "-ERR value is not an integer or out of range\r\n"},
		{[]string{"CLIENT", "UNBLOCK", id, "foo"}, "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n"},
		{[]string{"CLIENT", "UNBLOCK", id, "timeout", "x"},
			"-ERR unknown subcommand or wrong number of arguments for 'UNBLOCK'. Try CLIENT HELP.\r\n"},
	} {
		if got := p.do(t, tc.args...); got != tc.reply {
			t.Errorf("%q = %q, want %q", tc.args, got, tc.reply)
		}
	}
}

// TestBlockTypeChangeVsRedis: a key a BLPOP waits on that becomes a string
// or a hash keeps the client blocked, as in redis-server 7.0.15; deleting it
// and pushing then serves it. SWAPDB bringing a list in serves it too.
func TestBlockTypeChangeVsRedis(t *testing.T) {
	sock := listRealRedis(t)
	s := startServer(t, nil)
	run := func(dial func() *listRaw) []string {
		p, c, d := dial(), dial(), dial()
		p.do(t, "FLUSHALL")
		var out []string
		c.send(t, "BLPOP", "tk", "0")
		waitUntil(t, func() bool { return blockedClients(t, p) == "1" }, func() string { return "1 blocked" })
		d.send(t, "BLPOP", "tk", "0")
		waitUntil(t, func() bool { return blockedClients(t, p) == "2" }, func() string { return "2 blocked" })
		out = append(out, p.do(t, "SET", "tk", "str"), p.do(t, "APPEND", "tk", "more"))
		out = append(out, p.do(t, "DEL", "tk"), p.do(t, "HSET", "tk", "f", "v"), blockedClients(t, p))
		out = append(out, p.do(t, "DEL", "tk"), p.do(t, "RPUSH", "tk", "e1"), c.read(t))
		out = append(out, p.do(t, "SELECT", "1"), p.do(t, "RPUSH", "tk", "db1"), p.do(t, "SWAPDB", "0", "1"), d.read(t))
		out = append(out, blockedClients(t, p))
		return out
	}
	want := run(func() *listRaw { return listDialRaw(t, "unix", sock) })
	got := run(func() *listRaw { return listDialRaw(t, "tcp", s.Addr()) })
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("cached %q\nredis  %q", got, want)
	}
}

func TestBlockMultiKeyAndMove(t *testing.T) {
	s := startServer(t, nil)
	p := listDialRaw(t, "tcp", s.Addr())
	c := listDialRaw(t, "tcp", s.Addr())
	c.send(t, "BRPOP", "m1", "m2", "0")
	waitBlockedN(t, s, 1)
	p.do(t, "LPUSH", "m2", "x")
	if got := c.read(t); got != "*2\r\n$2\r\nm2\r\n$1\r\nx\r\n" {
		t.Fatalf("BRPOP on the second key = %q", got)
	}
	c.send(t, "BLMOVE", "src", "dst", "LEFT", "RIGHT", "0")
	waitBlockedN(t, s, 1)
	p.do(t, "RPUSH", "src", "moved")
	if got := c.read(t); got != "$5\r\nmoved\r\n" {
		t.Fatalf("BLMOVE = %q", got)
	}
	if got := p.do(t, "LRANGE", "dst", "0", "-1"); got != "*1\r\n$5\r\nmoved\r\n" {
		t.Fatalf("dst after BLMOVE = %q", got)
	}
}

func TestBlockServerClose(t *testing.T) {
	s := startServer(t, nil)
	c := listDialRaw(t, "tcp", s.Addr())
	c.send(t, "BLPOP", "sc", "0")
	c2 := listDialRaw(t, "tcp", s.Addr())
	c2.send(t, "BLPOP", "sc", "100")
	waitBlockedN(t, s, 2)
	done := make(chan struct{})
	go func() { _ = s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return with blocked clients")
	}
	if n := s.blocks.n.Load(); n != 0 {
		t.Fatalf("%d clients still registered as blocked", n)
	}
}

// TestBlockRenameWakes: RENAME onto a key a client waits on serves it.
func TestBlockRenameWakes(t *testing.T) {
	s := startServer(t, nil)
	p := listDialRaw(t, "tcp", s.Addr())
	c := listDialRaw(t, "tcp", s.Addr())
	c.send(t, "BLPOP", "rn", "0")
	waitBlockedN(t, s, 1)
	p.do(t, "RPUSH", "rsrc", "r")
	p.do(t, "RENAME", "rsrc", "rn")
	if got := c.read(t); got != "*2\r\n$2\r\nrn\r\n$1\r\nr\r\n" {
		t.Fatalf("BLPOP after RENAME = %q", got)
	}
}

// TestBlockNoLostWakeups: consumers looping on BLPOP and producers pushing
// concurrently deliver every element exactly once, and nobody stays blocked
// while the list holds elements.
func TestBlockNoLostWakeups(t *testing.T) {
	s := startServer(t, nil)
	const consumers, producers, perProducer = 6, 3, 150
	total := producers * perProducer
	got := make(chan string, total)
	errc := make(chan error, consumers+producers)
	ctx := ctxT(t)
	var consumersWG sync.WaitGroup
	for range consumers {
		rc := newClient(t, s, func(o *redis.Options) { o.PoolSize = 1 })
		consumersWG.Add(1)
		go func() {
			defer consumersWG.Done()
			for {
				v, err := rc.BLPop(ctx, 0, "nl:a", "nl:b").Result()
				if err != nil {
					errc <- err
					return
				}
				if v[1] == "stop" {
					return
				}
				got <- v[1]
			}
		}()
	}
	var producersWG sync.WaitGroup
	for p := range producers {
		rc := newClient(t, s, func(o *redis.Options) { o.PoolSize = 1 })
		producersWG.Add(1)
		go func() {
			defer producersWG.Done()
			for i := range perProducer {
				key := "nl:a"
				if i%3 == 0 {
					key = "nl:b"
				}
				if err := rc.RPush(ctx, key, strconv.Itoa(p*perProducer+i)).Err(); err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	producersWG.Wait()
	seen := map[string]bool{}
	for range total {
		select {
		case v := <-got:
			if seen[v] {
				t.Fatalf("element %s delivered twice", v)
			}
			seen[v] = true
		case err := <-errc:
			t.Fatal(err)
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d of %d elements delivered", len(seen), total)
		}
	}
	rc := newClient(t, s, nil)
	for range consumers {
		rc.RPush(ctx, "nl:a", "stop")
	}
	consumersWG.Wait()
	if n := rc.Exists(ctx, "nl:a", "nl:b").Val(); n != 0 {
		t.Fatalf("%d lists left with elements", n)
	}
}

// TestBlockEffectsAndDB: a served blocked command publishes its effect (in
// its database) once; a push to the same key in another database does not
// serve it.
func TestBlockEffectsAndDB(t *testing.T) {
	s := startServer(t, nil)
	var mu sync.Mutex
	var fx []string
	s.SetEffectHook(func(db int, cmd [][]byte) {
		mu.Lock()
		defer mu.Unlock()
		fx = append(fx, strconv.Itoa(db)+" "+string(bytes.Join(cmd, []byte(" "))))
	})
	p := listDialRaw(t, "tcp", s.Addr())
	c := listDialRaw(t, "tcp", s.Addr())
	c.do(t, "SELECT", "3")
	c.send(t, "BLPOP", "ek", "0")
	waitBlockedN(t, s, 1)
	p.do(t, "RPUSH", "ek", "db0") // database 0: not for the blocked client
	p.do(t, "SELECT", "3")
	p.do(t, "RPUSH", "ek", "db3")
	if got := c.read(t); got != "*2\r\n$2\r\nek\r\n$3\r\ndb3\r\n" {
		t.Fatalf("BLPOP in db 3 = %q", got)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"0 RPUSH ek db0", "3 RPUSH ek db3", "3 LPOP ek"}
	if !strings.EqualFold(strings.Join(fx, "|"), strings.Join(want, "|")) {
		t.Fatalf("effects %q, want %q", fx, want)
	}
}

// TestBlockMixedTypesVsRedis: a BLPOP and a BZPOPMIN wait on one key; a
// sorted set arriving there serves the BZPOPMIN although the BLPOP blocked
// first, and a list then serves the BLPOP, as in redis-server 7.0.15.
func TestBlockMixedTypesVsRedis(t *testing.T) {
	sock := listRealRedis(t)
	s := startServer(t, nil)
	run := func(dial func() *listRaw) []string {
		p, l, z := dial(), dial(), dial()
		p.do(t, "FLUSHALL")
		l.send(t, "BLPOP", "mx", "0")
		waitUntil(t, func() bool { return blockedClients(t, p) == "1" }, func() string { return "1 blocked" })
		z.send(t, "BZPOPMIN", "mx", "0")
		waitUntil(t, func() bool { return blockedClients(t, p) == "2" }, func() string { return "2 blocked" })
		out := []string{p.do(t, "ZADD", "mx", "1", "a", "2", "b"), z.read(t), blockedClients(t, p)}
		out = append(out, p.do(t, "DEL", "mx"), p.do(t, "RPUSH", "mx", "e"), l.read(t), blockedClients(t, p))
		return out
	}
	want := run(func() *listRaw { return listDialRaw(t, "unix", sock) })
	got := run(func() *listRaw { return listDialRaw(t, "tcp", s.Addr()) })
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("cached %q\nredis  %q", got, want)
	}
}
