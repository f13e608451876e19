package server

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/config"
)

func proxyMode(c *config.Config) { c.Cluster.Route = "proxy" }

func TestClusterProxyPlainClients(t *testing.T) {
	nodes := startCluster(t, 3, proxyMode)
	waitReplSynced(t, nodes) // replica slots marked: their copies are expected below
	keys := make([]string, 60)
	for i := range keys {
		keys[i] = fmt.Sprintf("p%d", i)
	}
	for ni, s := range nodes {
		for _, proto := range []func(*redis.Options){nil, resp2} {
			rc := newClient(t, s, proto)
			ctx := ctxT(t)
			for i, k := range keys {
				if err := rc.Set(ctx, k, fmt.Sprint(ni, i), 0).Err(); err != nil {
					t.Fatalf("node %d SET %s: %v", ni, k, err)
				}
				if v, err := rc.Get(ctx, k).Result(); err != nil || v != fmt.Sprint(ni, i) {
					t.Fatalf("node %d GET %s = %q, %v", ni, k, v, err)
				}
			}
			// Replies of every type come back as the owner wrote them.
			if err := rc.HSet(ctx, "h", "f", "v").Err(); err != nil && !strings.Contains(err.Error(), "unknown command") {
				t.Fatalf("HSET: %v", err)
			}
			if _, err := rc.Get(ctx, "nokey").Result(); err != redis.Nil {
				t.Fatalf("GET missing: %v", err)
			}
			wantErr(t, rc, "ERR value is not an integer or out of range", "INCR", keys[0])
			checkSplit(t, rc, keys)
			// Other multi-key commands across slots stay CROSSSLOT.
			wantErr(t, rc, protocol.ErrCrossSlot, "RENAME", "a", "b")
			wantErr(t, rc, protocol.WrongArity("mset"), "MSET", "a", "1", "b")
		}
	}
	// Each key lives on its owner only.
	for _, s := range nodes {
		v := s.cl.view.Load()
		for _, k := range allKeys(s, 0) {
			if v.t.OwnerIndex(keySlot(k)) != v.self && !s.store.ReplicaSlot(keySlot(k)) { // a replica's copy is fine
				t.Fatalf("%s holds %q it does not own", s.Addr(), k)
			}
		}
	}
}

// TestClusterProxyConcurrent: 8 clients write and read back 300 keys each
// through proxy nodes, about 2/3 of them forwarded. Each request has its
// own deadline: under -race on a loaded machine the 4,800 forwarded
// requests took over two minutes in all (a p50 of 100-200 ms, with the
// loops on or off alike), which a deadline for the whole run turned into
// a failure (issue 14).
func TestClusterProxyConcurrent(t *testing.T) {
	nodes := startCluster(t, 3, proxyMode)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rc := redis.NewClient(&redis.Options{Addr: nodes[w%3].Addr(), PoolSize: 2})
			defer rc.Close()
			for i := range 300 {
				k := fmt.Sprintf("c%d:%d", w, i)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := rc.Set(ctx, k, i, 0).Err()
				var v int
				if err == nil {
					v, err = rc.Get(ctx, k).Int()
					if err == nil && v != i {
						err = fmt.Errorf("GET %s = %d, want %d", k, v, i)
					}
				}
				cancel()
				if err != nil {
					errs <- fmt.Errorf("%s: %w", k, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestClusterProxyMovedCases(t *testing.T) {
	nodes := startCluster(t, 3, proxyMode)
	_, other := keysFor(t, nodes[0], "b")
	owner := ownerOf(nodes, other)
	rc := newClient(t, nodes[0], nil)
	// A node-to-node connection never forwards: it answers MOVED.
	mustDo(t, rc, "CLUSTER", "X-PEER")
	wantErr(t, rc, protocol.Moved(keySlot(other), owner.Addr()), "GET", other)
}

func TestClusterProxyOwnerDown(t *testing.T) {
	nodes := startCluster(t, 3, proxyMode)
	_, other := keysFor(t, nodes[0], "d")
	owner := ownerOf(nodes, other)
	rc := newClient(t, nodes[0], nil)
	mustDo(t, rc, "SET", other, "1")
	// The table still names the owner until gossip notices it is gone; the
	// proxy answers an error, then the key's new owner.
	_ = owner.Close()
	waitUntil(t, func() bool {
		_, err := do(t, rc, "SET", other, "2")
		return err == nil
	}, func() string { _, err := do(t, rc, "SET", other, "2"); return fmt.Sprint(err) })
	if got := mustDo(t, rc, "GET", other); got != "2" {
		t.Fatalf("GET after failover = %v", got)
	}
}

func TestClusterPublishReachesPeers(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	xpub := func(s *Server) uint64 {
		return s.cmds.lookup([]byte("cluster")).lookupSub([]byte("x-publish")).calls.Load()
	}
	nodes[0].cl.broadcastPublish([]byte("ch"), []byte("hello"))
	waitUntil(t, func() bool { return xpub(nodes[1]) == 1 && xpub(nodes[2]) == 1 },
		func() string { return fmt.Sprint(xpub(nodes[1]), xpub(nodes[2])) })
	if xpub(nodes[0]) != 0 {
		t.Fatal("the publishing node delivered to itself through the peer path")
	}
	// The internal command delivers locally and answers the local count.
	rc := newClient(t, nodes[1], nil)
	if n, err := do(t, rc, "CLUSTER", "X-PUBLISH", "ch", "m"); err != nil || n != int64(0) {
		t.Fatalf("X-PUBLISH = %v, %v", n, err)
	}
}

func TestClusterProxyWithPassword(t *testing.T) {
	nodes := startCluster(t, 3, func(c *config.Config) { proxyMode(c); c.RequirePass = "s3cret" })
	rc := newClient(t, nodes[0], func(o *redis.Options) { o.Password = "s3cret" })
	ctx := ctxT(t)
	for i := range 30 {
		k := fmt.Sprintf("a%d", i)
		if err := rc.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	if vs, err := rc.MGet(ctx, "a0", "a1", "a2", "a3").Result(); err != nil || len(vs) != 4 || vs[3] != "v" {
		t.Fatalf("MGET: %v %v", vs, err)
	}
	noauth := newClient(t, nodes[0], nil)
	wantErr(t, noauth, protocol.ErrNoAuth, "GET", "a1")
}

func TestClusterPublishEveryNode(t *testing.T) {
	nodes := startCluster(t, 3, nil)
	ctx := ctxT(t)
	var subs []*redis.PubSub
	for _, s := range nodes {
		ps := newClient(t, s, nil).Subscribe(ctx, "news")
		if _, err := ps.Receive(ctx); err != nil { // the subscribe confirmation
			t.Fatal(err)
		}
		defer ps.Close()
		subs = append(subs, ps)
	}
	// The reply counts this node's receivers only, as Redis Cluster.
	if n, err := newClient(t, nodes[0], nil).Publish(ctx, "news", "hello").Result(); err != nil || n != 1 {
		t.Fatalf("PUBLISH = %d, %v", n, err)
	}
	for i, ps := range subs {
		m, err := ps.ReceiveMessage(ctx)
		if err != nil || m.Channel != "news" || m.Payload != "hello" {
			t.Fatalf("node %d subscriber got %+v, %v", i, m, err)
		}
	}
	// A PUBLISH queued in MULTI reaches every node when EXEC runs it.
	if _, err := newClient(t, nodes[1], nil).TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Publish(ctx, "news", "in-exec")
		return nil
	}); err != nil {
		t.Fatalf("MULTI PUBLISH EXEC: %v", err)
	}
	for i, ps := range subs {
		m, err := ps.ReceiveMessage(ctx)
		if err != nil || m.Payload != "in-exec" {
			t.Fatalf("node %d subscriber got %+v, %v after EXEC", i, m, err)
		}
	}
	// SPUBLISH follows the slot owner of the channel.
	owner := ownerOf(nodes, "shard")
	for _, s := range nodes {
		_, err := newClient(t, s, nil).SPublish(ctx, "shard", "x").Result()
		if s == owner && err != nil || s != owner && (err == nil || !strings.HasPrefix(err.Error(), "MOVED ")) {
			t.Fatalf("SPUBLISH on %s (owner %s): %v", s.Addr(), owner.Addr(), err)
		}
	}
}

// checkSplit runs cross-slot MSET, MGET, EXISTS, TOUCH, DEL and UNLINK of
// keys through one proxy node; "missing" must not exist.
func checkSplit(t *testing.T, rc *redis.Client, keys []string) {
	t.Helper()
	ctx := ctxT(t)
	// Cross-slot MSET / MGET / EXISTS / DEL are split and merged.
	pairs := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		pairs = append(pairs, k, "m"+k)
	}
	if err := rc.MSet(ctx, pairs...).Err(); err != nil {
		t.Fatalf("MSET: %v", err)
	}
	mget := append([]string{"missing"}, keys...)
	vs, err := rc.MGet(ctx, mget...).Result()
	if err != nil || len(vs) != len(mget) || vs[0] != nil {
		t.Fatalf("MGET: %v %v", vs, err)
	}
	for i, k := range keys {
		if vs[i+1] != "m"+k {
			t.Fatalf("MGET[%d] = %v, want m%s", i+1, vs[i+1], k)
		}
	}
	if n, err := rc.Exists(ctx, append(keys, keys[0], "missing")...).Result(); err != nil || n != int64(len(keys)+1) {
		t.Fatalf("EXISTS = %d, %v", n, err)
	}
	if n, err := rc.Touch(ctx, keys...).Result(); err != nil || n != int64(len(keys)) {
		t.Fatalf("TOUCH = %d, %v", n, err)
	}
	if n, err := rc.Del(ctx, append(keys, "missing")...).Result(); err != nil || n != int64(len(keys)) {
		t.Fatalf("DEL = %d, %v", n, err)
	}
	if n, err := rc.Unlink(ctx, keys...).Result(); err != nil || n != 0 {
		t.Fatalf("UNLINK = %d, %v", n, err)
	}
}
