package server

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/server/config"
	"github.com/cached/cached/store"
)

// TestReplicationFlushAll: FLUSHALL and FLUSHDB on a primary reach its
// replicas slot by slot, in order with the slots' other effects (also inside
// EXEC), and leave the node's own replica copies alone.
func TestReplicationFlushAll(t *testing.T) {
	nodes := replNodes(t, 3, nil)
	conns := connsTo(t, nodes)
	ctx := ctxT(t)
	writeMix(t, nodes, conns, "f", 1500)
	for _, s := range nodes {
		if n, err := conns[s].Wait(ctx, 1, 5000).Result(); err != nil || n != 1 {
			t.Fatalf("WAIT: %d %v", n, err)
		}
	}
	replicaKeys := func(s *Server) (own, copies int) {
		for slot := range store.Slots {
			n := int(s.store.CountKeysInSlot(slot))
			if s.store.ReplicaSlot(slot) {
				copies += n
			} else {
				own += n
			}
		}
		return own, copies
	}
	_, copies0 := replicaKeys(nodes[0])
	if err := conns[nodes[0]].FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if own, copies := replicaKeys(nodes[0]); own != 0 || copies != copies0 || copies == 0 {
		t.Fatalf("after FLUSHALL node 0 holds %d own keys and %d replica copies (had %d copies)", own, copies, copies0)
	}
	// WAIT after FLUSHALL covers the flush: once it answers 1, the copies
	// of node 0's slots are empty on their replicas (no polling).
	if n, err := conns[nodes[0]].Wait(ctx, 1, 5000).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT after FLUSHALL: %d %v", n, err)
	}
	v := nodes[0].cl.view.Load()
	for slot := range store.Slots {
		if p := v.t.Preference(slot); p[0].ID == nodes[0].cl.node.Load().ID() {
			if n := nodeByID(nodes, p[1].ID).store.CountKeysInSlot(slot); n != 0 {
				t.Fatalf("slot %d: %d keys left on the replica after FLUSHALL and WAIT 1", slot, n)
			}
		}
	}
	// In one EXEC: a write, FLUSHDB, a write to the same slot: the replica
	// must end with the second key only.
	mine, _ := keysFor(t, nodes[1], "x")
	tag := "{" + mine + "}"
	c := conns[nodes[1]]
	if _, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, tag+"a", "1", 0)
		p.FlushDB(ctx)
		p.Set(ctx, tag+"b", "2", 0)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := conns[nodes[2]].FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	for _, s := range nodes {
		if n, err := conns[s].Wait(ctx, 1, 5000).Result(); err != nil || n != 1 {
			t.Fatalf("WAIT after flush: %d %v", n, err)
		}
	}
	checkReplicasIdentical(t, nodes)
	total := int64(0)
	for _, s := range nodes {
		total += s.store.DBSize(0)
	}
	if total != 2 { // tag+"b" on its primary and its replica
		t.Fatalf("keys left over all nodes: %d, want 2", total)
	}
	rep := nodeByID(nodes, nodes[0].cl.view.Load().t.Preference(keySlot(mine))[1].ID)
	if _, ok, _ := rep.store.Get(0, []byte(tag+"b"), nil); !ok {
		t.Fatal("the write after FLUSHDB in EXEC did not reach the replica")
	}
}

// TestClusterSelectSwapDBRefused: in cluster mode only database 0 exists,
// as Redis answers.
func TestClusterSelectSwapDBRefused(t *testing.T) {
	nodes := replNodes(t, 1, nil)
	rc := newClient(t, nodes[0], nil)
	ctx := ctxT(t)
	for _, tc := range []struct {
		args []any
		want string
	}{
		{[]any{"SELECT", "1"}, "ERR SELECT is not allowed in cluster mode"},
		{[]any{"SWAPDB", "0", "1"}, "ERR SWAPDB is not allowed in cluster mode"},
	} {
		if err := rc.Do(ctx, tc.args...).Err(); err == nil || err.Error() != tc.want {
			t.Fatalf("%v: %v, want %q", tc.args, err, tc.want)
		}
	}
	if err := rc.Do(ctx, "SELECT", "0").Err(); err != nil {
		t.Fatal(err)
	}
}

// TestReplicaAppliesUnitsAtomically: a READONLY reader on the replica
// never sees half of a MULTI, or of a script (every other unit is an
// EVAL), that sets two keys of one slot.
func TestReplicaAppliesUnitsAtomically(t *testing.T) {
	nodes := replNodes(t, 3, nil)
	ctx := ctxT(t)
	mine, _ := keysFor(t, nodes[0], "u")
	a, b := "{"+mine+"}a", "{"+mine+"}b"
	rep := nodeByID(nodes, nodes[0].cl.view.Load().t.Preference(keySlot(mine))[1].ID)
	w := newClient(t, nodes[0], nil).Conn()
	defer w.Close()
	r := newClient(t, rep, nil).Conn()
	defer r.Close()
	if err := r.ReadOnly(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	const units = 1500
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	errc := make(chan error, 1)
	seen := make(chan int, 1)
	go func() {
		distinct, last := 0, ""
		for rctx.Err() == nil {
			v, err := r.MGet(rctx, a, b).Result()
			if err != nil {
				if rctx.Err() == nil {
					errc <- err
					return
				}
				break
			}
			if fmt.Sprint(v[0]) != fmt.Sprint(v[1]) {
				errc <- fmt.Errorf("replica showed half a unit: %s=%v %s=%v", a, v[0], b, v[1])
				return
			}
			if s := fmt.Sprint(v[0]); s != last {
				distinct, last = distinct+1, s
			}
		}
		seen <- distinct
		errc <- nil
	}()
	const script = "redis.call('SET', KEYS[1], ARGV[1]) redis.call('SET', KEYS[2], ARGV[1])"
	for i := range units {
		val := strconv.Itoa(i)
		var err error
		if i%2 == 1 {
			err = w.Eval(ctx, script, []string{a, b}, val).Err()
			if errors.Is(err, redis.Nil) {
				err = nil // the script returns nothing
			}
		} else {
			_, err = w.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, a, val, 0)
				p.Set(ctx, b, val, 0)
				return nil
			})
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n, err := w.Wait(ctx, 1, 5000).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT: %d %v", n, err)
	}
	waitUntil(t, func() bool { v, _, _ := rep.store.Get(0, []byte(a), nil); return string(v) == strconv.Itoa(units-1) },
		func() string { return "last unit not applied" })
	stop()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if d := <-seen; d < 2 {
		t.Fatalf("the reader saw %d distinct values: it did not read while units were applied", d)
	}
}

// TestReadonlyNotServedWhileLoading: while a slot's snapshot is being
// loaded (between SNAP and SNAPEND) its partial copy is not served to
// READONLY readers: they get MOVED to the primary.
func TestReadonlyNotServedWhileLoading(t *testing.T) {
	nodes := replNodes(t, 3, nil)
	ctx := ctxT(t)
	mine, _ := keysFor(t, nodes[0], "l")
	if err := newClient(t, nodes[0], nil).Set(ctx, mine, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	rep := nodeByID(nodes, nodes[0].cl.view.Load().t.Preference(keySlot(mine))[1].ID)
	r := newClient(t, rep, nil).Conn()
	defer r.Close()
	if err := r.ReadOnly(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { v, err := r.Get(ctx, mine).Result(); return err == nil && v == "v" },
		func() string { return "replica never served the key" })
	a := newApplier(rep)
	if err := a.FlushSlot(keySlot(mine)); err != nil { // as a SNAP does
		t.Fatal(err)
	}
	if err := r.Get(ctx, mine).Err(); err == nil || !strings.HasPrefix(err.Error(), "MOVED ") {
		t.Fatalf("READONLY GET of a loading slot: %v, want MOVED", err)
	}
	if err := a.SnapshotLoaded(keySlot(mine), 0); err != nil {
		t.Fatal(err)
	}
	if err := r.Get(ctx, mine).Err(); err != redis.Nil { // flushed above: a miss, served here
		t.Fatalf("READONLY GET after the load: %v, want nil", err)
	}
}

// TestReplicaReadsAny: with cluster-replica-reads any a node's replica copy
// serves reads of any connection (no READONLY), as ioredis scaleReads
// needs; writes still get MOVED. The default (readonly) is
// TestReadonlyReadsFromReplica's.
func TestReplicaReadsAny(t *testing.T) {
	nodes := replNodes(t, 3, func(c *config.Config) { c.Cluster.ReplicaReads = "any" })
	ctx := ctxT(t)
	mine, _ := keysFor(t, nodes[0], "a")
	w := newClient(t, nodes[0], nil).Conn()
	defer w.Close()
	if err := w.Set(ctx, mine, "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := w.Wait(ctx, 1, 5000).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT %d %v", n, err)
	}
	rep := nodeByID(nodes, nodes[0].cl.view.Load().t.Preference(keySlot(mine))[1].ID)
	rc := newClient(t, rep, nil)
	if got, err := rc.Get(ctx, mine).Result(); err != nil || got != "v" {
		t.Fatalf("GET on the replica without READONLY = %q %v, want v", got, err)
	}
	if err := rc.Set(ctx, mine, "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "MOVED ") {
		t.Fatalf("SET on the replica: %v, want MOVED", err)
	}
	var third *Server
	for _, s := range nodes {
		if s != nodes[0] && s != rep {
			third = s
		}
	}
	if err := newClient(t, third, nil).Get(ctx, mine).Err(); err == nil || !strings.HasPrefix(err.Error(), "MOVED ") {
		t.Fatalf("GET on a node holding no copy: %v, want MOVED", err)
	}
}
