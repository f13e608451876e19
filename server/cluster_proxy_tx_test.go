package server

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestProxyForwardsTransactions: with cluster-route proxy, a plain client's
// MULTI on a slot another node owns runs there as one transaction; what
// cannot be forwarded answers as without proxying.
func TestProxyForwardsTransactions(t *testing.T) {
	nodes := startCluster(t, 3, proxyMode)
	s := nodes[0]
	mine, other := keysFor(t, s, "tx")
	a, b := "{"+other+"}a", "{"+other+"}b"
	owner := ownerOf(nodes, a)
	if owner == s {
		t.Fatal("the other key's owner is this node")
	}
	for _, proto := range []func(*redis.Options){nil, resp2} {
		rc := newClient(t, s, proto)
		ctx := ctxT(t)
		mustDo(t, rc, "DEL", a, b)
		cmds, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, a, "1", 0)
			p.Incr(ctx, a)
			p.LPush(ctx, a, "x") // a runtime error inside EXEC: the others still run
			p.RPush(ctx, b, "y", "z")
			p.LRange(ctx, b, 0, -1)
			p.Ping(ctx)
			return nil
		})
		if err == nil || !strings.HasPrefix(err.Error(), "WRONGTYPE") {
			t.Fatalf("EXEC error = %v, want the LPUSH's WRONGTYPE", err)
		}
		if got := fmt.Sprint(cmds[1].(*redis.IntCmd).Val(), cmds[3].(*redis.IntCmd).Val(),
			cmds[4].(*redis.StringSliceCmd).Val(), " ", cmds[5].(*redis.StatusCmd).Val()); got != "2 2 [y z] PONG" {
			t.Fatalf("forwarded EXEC replies: %s", got)
		}
		if got := mustDo(t, newClient(t, owner, nil), "GET", a); got != "2" {
			t.Fatalf("GET on the owner = %v", got)
		}
	}

	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	conn := rc.Conn()
	t.Cleanup(func() { _ = conn.Close() })
	raw := func(args ...any) (any, error) { return conn.Do(ctx, args...).Result() }
	// Two slots in one transaction: CROSSSLOT, then EXECABORT.
	mustConnDo(t, raw, "MULTI")
	mustConnDo(t, raw, "SET", a, "v")
	if _, err := raw("SET", mine, "v"); err == nil || !strings.HasPrefix(err.Error(), "CROSSSLOT") {
		t.Fatalf("second slot in MULTI: %v, want CROSSSLOT", err)
	}
	if _, err := raw("EXEC"); err == nil || !strings.HasPrefix(err.Error(), "EXECABORT") {
		t.Fatalf("EXEC: %v, want EXECABORT", err)
	}
	// WATCH keeps a transaction here: MOVED, then EXECABORT.
	mustConnDo(t, raw, "WATCH", mine)
	mustConnDo(t, raw, "MULTI")
	if _, err := raw("SET", a, "w"); err == nil || !strings.HasPrefix(err.Error(), "MOVED") {
		t.Fatalf("a remote key in MULTI after WATCH: %v, want MOVED", err)
	}
	if _, err := raw("EXEC"); err == nil || !strings.HasPrefix(err.Error(), "EXECABORT") {
		t.Fatalf("EXEC: %v, want EXECABORT", err)
	}
	// A connection command in the queue would change the peer connection:
	// EXEC answers MOVED and nothing runs.
	mustConnDo(t, raw, "MULTI")
	mustConnDo(t, raw, "CLIENT", "SETNAME", "x")
	mustConnDo(t, raw, "SET", a, "never")
	if _, err := raw("EXEC"); err == nil || !strings.HasPrefix(err.Error(), "MOVED") {
		t.Fatalf("EXEC with CLIENT SETNAME queued: %v, want MOVED", err)
	}
	if got := mustDo(t, rc, "GET", a); got != "2" {
		t.Fatalf("after the refused EXEC: %v", got)
	}
	if got, err := raw("CLIENT", "GETNAME"); err != redis.Nil {
		t.Fatalf("CLIENT GETNAME after the refused EXEC: %v, %v", got, err)
	}

	// Transactions forwarded at once from many clients stay whole: each
	// EXEC's two INCRs are consecutive.
	const clients, rounds = 8, 40
	ctr := "{" + other + "}ctr"
	var wg sync.WaitGroup
	for range clients {
		c := newClient(t, s, resp2) // s does not own ctr's slot
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				cmds, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
					p.Incr(ctx, ctr)
					p.Incr(ctx, ctr)
					return nil
				})
				if err != nil {
					t.Errorf("EXEC: %v", err)
					return
				}
				if x, y := cmds[0].(*redis.IntCmd).Val(), cmds[1].(*redis.IntCmd).Val(); y != x+1 {
					t.Errorf("INCRs of one EXEC: %d then %d", x, y)
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := mustDo(t, newClient(t, owner, nil), "GET", ctr); got != fmt.Sprint(2*clients*rounds) {
		t.Fatalf("counter = %v, want %d", got, 2*clients*rounds)
	}
}

// mustConnDo runs one command through raw and fails the test on an error.
func mustConnDo(t *testing.T, raw func(args ...any) (any, error), args ...any) {
	t.Helper()
	if _, err := raw(args...); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
}
