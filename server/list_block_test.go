package server

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Blocking tests run across several connections. They need the real
// blockFor (blocking.go); while it is the stub that answers the timeout
// reply at once, listNeedBlocking skips them.

var listBlockedRe = regexp.MustCompile(`blocked_clients:(\d+)`)

// listBlockedClients reads INFO clients' blocked_clients.
func listBlockedClients(t *testing.T, rc *redis.Client) int {
	t.Helper()
	info, err := rc.Info(context.Background(), "clients").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := listBlockedRe.FindStringSubmatch(info)
	if m == nil {
		t.Fatalf("no blocked_clients in INFO: %q", info)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// listWaitBlocked polls until n clients are blocked.
func listWaitBlocked(t *testing.T, rc *redis.Client, n int) {
	t.Helper()
	waitUntil(t, func() bool { return listBlockedClients(t, rc) == n },
		func() string { return fmt.Sprintf("blocked_clients = %d, want %d", listBlockedClients(t, rc), n) })
}

// listNeedBlocking skips the test while blockFor is the stub: a BLPOP with
// no timeout on a missing key then answers at once.
func listNeedBlocking(t *testing.T, s *Server) {
	t.Helper()
	rc := newClient(t, s, nil)
	probe := newClient(t, s, nil)
	done := make(chan error, 1)
	go func() { done <- probe.BLPop(context.Background(), 0, "__list_probe").Err() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-done:
			if err == redis.Nil {
				t.Fatal("BLPOP 0 on a missing key answered at once instead of blocking")
			}
			t.Fatalf("probe BLPOP: %v", err)
		default:
		}
		if listBlockedClients(t, rc) == 1 {
			rc.RPush(context.Background(), "__list_probe", "x")
			if err := <-done; err != nil {
				t.Fatalf("probe BLPOP after push: %v", err)
			}
			listWaitBlocked(t, rc, 0)
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("probe BLPOP neither answered nor showed in blocked_clients")
		}
		time.Sleep(5 * time.Millisecond) // polling
	}
}

type listResult struct {
	vals []string
	err  error
}

// listBlock runs fn on a new connection in a goroutine and returns the
// channel its result arrives on.
func listBlock(t *testing.T, s *Server, fn func(ctx context.Context, rc *redis.Client) ([]string, error)) (chan listResult, *redis.Client) {
	rc := newClient(t, s, func(o *redis.Options) { o.ReadTimeout = -1; o.PoolSize = 1 })
	ch := make(chan listResult, 1)
	go func() {
		v, err := fn(context.Background(), rc)
		ch <- listResult{v, err}
	}()
	return ch, rc
}

func listRecv(t *testing.T, ch chan listResult) listResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("blocked client never answered")
	}
	return listResult{}
}

func TestListBlockFIFO(t *testing.T) {
	s := startServer(t, nil)
	listNeedBlocking(t, s)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	var chans []chan listResult
	for i := range 3 {
		ch, _ := listBlock(t, s, func(ctx context.Context, c *redis.Client) ([]string, error) {
			return c.BLPop(ctx, 0, "nothing", "q").Result()
		})
		chans = append(chans, ch)
		listWaitBlocked(t, rc, i+1)
	}
	rc.RPush(ctx, "q", "a", "b", "c", "d")
	for i, want := range []string{"a", "b", "c"} {
		r := listRecv(t, chans[i])
		if r.err != nil || !slices.Equal(r.vals, []string{"q", want}) {
			t.Fatalf("client %d got %v %v, want [q %s]", i, r.vals, r.err, want)
		}
	}
	if v, _ := rc.LRange(ctx, "q", 0, -1).Result(); !slices.Equal(v, []string{"d"}) {
		t.Fatalf("left over %v", v)
	}
}

func TestListBlockServesEachForm(t *testing.T) {
	s := startServer(t, nil)
	listNeedBlocking(t, s)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	forms := []struct {
		name string
		fn   func(ctx context.Context, c *redis.Client) ([]string, error)
		want []string
	}{
		{"BRPOP", func(ctx context.Context, c *redis.Client) ([]string, error) { return c.BRPop(ctx, 0, "k").Result() }, []string{"k", "3"}},
		{"BLMOVE", func(ctx context.Context, c *redis.Client) ([]string, error) {
			v, err := c.BLMove(ctx, "k", "d", "LEFT", "RIGHT", 0).Result()
			return []string{v}, err
		}, []string{"1"}},
		{"BRPOPLPUSH", func(ctx context.Context, c *redis.Client) ([]string, error) {
			//lint:ignore SA1019 the deprecated command is what is under test
			v, err := c.BRPopLPush(ctx, "k", "d", 0).Result()
			return []string{v}, err
		}, []string{"3"}},
		{"BLMPOP", func(ctx context.Context, c *redis.Client) ([]string, error) {
			k, v, err := c.BLMPop(ctx, 0, "left", 2, "x", "k").Result()
			return append([]string{k}, v...), err
		}, []string{"k", "1", "2"}},
	}
	for _, f := range forms {
		ch, _ := listBlock(t, s, f.fn)
		listWaitBlocked(t, rc, 1)
		rc.RPush(ctx, "k", "1", "2", "3")
		if r := listRecv(t, ch); r.err != nil || !slices.Equal(r.vals, f.want) {
			t.Fatalf("%s got %v %v, want %v", f.name, r.vals, r.err, f.want)
		}
		rc.Del(ctx, "k")
	}
}

func TestListBlockTimeouts(t *testing.T) {
	s := startServer(t, nil)
	listNeedBlocking(t, s)
	for name, rc := range listClients(t, s) {
		for _, args := range [][]any{ // raw: go-redis rounds typed timeouts up to 1 s
			{"BLPOP", "none", "0.02"}, {"BRPOP", "none", "x", "0.02"}, {"BLMOVE", "none", "d", "LEFT", "LEFT", "0.02"},
			{"BLMPOP", "0.02", "1", "none", "LEFT"}, {"BRPOPLPUSH", "none", "d", "0.02"},
		} {
			if _, err := do(t, rc, args...); err != redis.Nil {
				t.Fatalf("%s %v: %v, want the null reply", name, args, err)
			}
		}
	}
}

// A key renamed onto the waited key serves the client; a destination that
// turned into a string while BLMOVE waited makes it fail with WRONGTYPE.
func TestListBlockKeyChanges(t *testing.T) {
	s := startServer(t, nil)
	listNeedBlocking(t, s)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	ch, _ := listBlock(t, s, func(ctx context.Context, c *redis.Client) ([]string, error) {
		return c.BLPop(ctx, 0, "q").Result()
	})
	listWaitBlocked(t, rc, 1)
	rc.RPush(ctx, "tmp", "v")
	rc.Rename(ctx, "tmp", "q")
	if r := listRecv(t, ch); r.err != nil || !slices.Equal(r.vals, []string{"q", "v"}) {
		t.Fatalf("after RENAME got %v %v", r.vals, r.err)
	}
	ch, _ = listBlock(t, s, func(ctx context.Context, c *redis.Client) ([]string, error) {
		v, err := c.BLMove(ctx, "src", "dst", "LEFT", "LEFT", 0).Result()
		return []string{v}, err
	})
	listWaitBlocked(t, rc, 1)
	rc.Set(ctx, "dst", "string", 0)
	rc.RPush(ctx, "src", "x")
	if r := listRecv(t, ch); r.err == nil || r.err.Error() != "WRONGTYPE Operation against a key holding the wrong kind of value" {
		t.Fatalf("BLMOVE onto a string got %v %v", r.vals, r.err)
	}
	if n := rc.LLen(ctx, "src").Val(); n != 1 {
		t.Fatalf("src lost its element: LLEN %d", n)
	}
}

// A client that disconnects while blocked takes nothing with it.
func TestListBlockDisconnect(t *testing.T) {
	s := startServer(t, nil)
	listNeedBlocking(t, s)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	ch, bc := listBlock(t, s, func(ctx context.Context, c *redis.Client) ([]string, error) {
		return c.BLPop(ctx, 0, "q").Result()
	})
	listWaitBlocked(t, rc, 1)
	_ = bc.Close()
	listWaitBlocked(t, rc, 0)
	<-ch
	rc.RPush(ctx, "q", "kept")
	if v, _ := rc.LRange(ctx, "q", 0, -1).Result(); !slices.Equal(v, []string{"kept"}) {
		t.Fatalf("q = %v", v)
	}
}

// Inside MULTI the blocking forms answer at once, as if timed out.
func TestListBlockInMulti(t *testing.T) {
	s := startServer(t, nil)
	listNeedBlocking(t, s)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	cmds, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.BLPop(ctx, 0, "none")
		p.BLMove(ctx, "none", "d", "LEFT", "LEFT", 0)
		p.BLMPop(ctx, 0, "left", 1, "none")
		return nil
	})
	if err != redis.Nil || len(cmds) != 3 {
		t.Fatalf("MULTI with blocking forms: %v (%d replies)", err, len(cmds))
	}
	for _, c := range cmds {
		if c.Err() != redis.Nil {
			t.Fatalf("%v in MULTI: %v", c.Args(), c.Err())
		}
	}
}

// TestListProducerConsumer: many producers LPUSH, consumers BRPOP; every
// message arrives exactly once.
func TestListProducerConsumer(t *testing.T) {
	s := startServer(t, nil)
	listNeedBlocking(t, s)
	const producers, consumers, perProducer = 4, 3, 300
	total := producers * perProducer
	ctx := ctxT(t)
	var mu sync.Mutex // protects seen
	seen := map[string]int{}
	got := make(chan struct{}, total)
	errs := make(chan error, producers+consumers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range consumers {
		rc := newClient(t, s, func(o *redis.Options) { o.ReadTimeout = -1 })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				v, err := rc.BRPop(ctx, 100*time.Millisecond, "queue").Result()
				if err == redis.Nil {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				seen[v[1]]++
				mu.Unlock()
				got <- struct{}{}
			}
		}()
	}
	for p := range producers {
		rc := newClient(t, s, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perProducer {
				if err := rc.LPush(ctx, "queue", fmt.Sprintf("p%d-%d", p, i)).Err(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range total {
		select {
		case <-got:
		case err := <-errs:
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatalf("only part of the %d messages arrived", total)
		}
	}
	close(stop)
	wg.Wait()
	if len(seen) != total {
		t.Fatalf("%d distinct messages, want %d", len(seen), total)
	}
	for m, n := range seen {
		if n != 1 {
			t.Fatalf("%s delivered %d times", m, n)
		}
	}
}

// A served blocked client records the non-blocking pop that happened.
func TestListBlockEffects(t *testing.T) {
	s := startServer(t, nil)
	listNeedBlocking(t, s)
	var fx listFx
	s.SetEffectHook(fx.hook)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	for _, tc := range []struct {
		fn   func(ctx context.Context, c *redis.Client) ([]string, error)
		want []string
	}{
		{func(ctx context.Context, c *redis.Client) ([]string, error) {
			return c.BLPop(ctx, 0, "a", "q").Result()
		},
			[]string{"RPUSH q 1 2", "LPOP q"}},
		{func(ctx context.Context, c *redis.Client) ([]string, error) {
			v, err := c.BLMove(ctx, "q", "d", "RIGHT", "LEFT", 0).Result()
			return []string{v}, err
		}, []string{"RPUSH q 1 2", "LMOVE q d RIGHT LEFT"}},
		{func(ctx context.Context, c *redis.Client) ([]string, error) {
			k, v, err := c.BLMPop(ctx, 0, "right", 5, "q").Result()
			return append([]string{k}, v...), err
		}, []string{"RPUSH q 1 2", "RPOP q 2"}},
	} {
		rc.Del(ctx, "q", "d")
		fx.take()
		ch, _ := listBlock(t, s, tc.fn)
		listWaitBlocked(t, rc, 1)
		rc.RPush(ctx, "q", "1", "2")
		if r := listRecv(t, ch); r.err != nil {
			t.Fatal(r.err)
		}
		if got := fx.take(); !slices.Equal(got, tc.want) {
			t.Fatalf("effects %q, want %q", got, tc.want)
		}
	}
}
