package server

import (
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cached/cached/server/config"
)

// TestSnapshotPaceConfig: repl-snapshot-pace reads as a share of the time
// (yes = 50, no = 100), changes at run time with CONFIG SET, reaches the
// node's snapshot Pacer and shows in INFO migration; values outside 1-100
// are refused with Redis's CONFIG SET error.
func TestSnapshotPaceConfig(t *testing.T) {
	s := startClusterNode(t, "", func(c *config.Config) { c.Cluster.SnapshotPace = 50 })
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	check := func(get string, share int) {
		t.Helper()
		m, err := rc.ConfigGet(ctx, "repl-snapshot-pace").Result()
		if err != nil || m["repl-snapshot-pace"] != get {
			t.Errorf("CONFIG GET repl-snapshot-pace = %v (%v), want %q", m, err, get)
		}
		if got := s.repl.Load().pacer.Share(); got != share {
			t.Errorf("pacer share %d, want %d", got, share)
		}
		if info := infoSectionText(t, s, "migration"); !strings.Contains(info, "migration_snapshot_pace:"+strconv.Itoa(share)+"\r") {
			t.Errorf("INFO migration has no migration_snapshot_pace:%d:\n%s", share, info)
		}
	}
	check("50", 50)
	for _, c := range []struct {
		set, get string
		share    int
	}{{"25", "25", 25}, {"no", "no", 100}, {"YES", "50", 50}, {"100", "no", 100}, {"1", "1", 1}} {
		if err := rc.ConfigSet(ctx, "repl-snapshot-pace", c.set).Err(); err != nil {
			t.Fatalf("CONFIG SET repl-snapshot-pace %s: %v", c.set, err)
		}
		check(c.get, c.share)
	}
	for _, bad := range []string{"0", "101", "-3", "maybe", "50%"} {
		err := rc.ConfigSet(ctx, "repl-snapshot-pace", bad).Err()
		if err == nil || !strings.HasPrefix(err.Error(), "ERR CONFIG SET failed (possibly related to argument 'repl-snapshot-pace')") {
			t.Errorf("CONFIG SET repl-snapshot-pace %s: %v, want CONFIG SET failed", bad, err)
		}
	}
	check("1", 1)
}

// TestSnapshotPaceDefault: a node started with the defaults paces its
// snapshot work at 25 % (docs/cluster.md "Pace and visibility").
func TestSnapshotPaceDefault(t *testing.T) {
	s := startServer(t, func(c *config.Config) { c.Cluster.Enabled, c.Cluster.Port = true, 0 })
	rc := newClient(t, s, nil)
	m, err := rc.ConfigGet(ctxT(t), "repl-snapshot-pace").Result()
	if err != nil || m["repl-snapshot-pace"] != "25" {
		t.Errorf("CONFIG GET repl-snapshot-pace = %v (%v), want 25", m, err)
	}
	if got := s.repl.Load().pacer.Share(); got != 25 {
		t.Errorf("pacer share %d, want 25", got)
	}
}

// TestSnapshotUnpacedWithoutClients: a node's snapshot work rests at the
// pace only while it serves clients. A joining node (no client yet) and
// the primary that sends it slots, idle since its keys were written, run
// the move unpaced (migration_snapshot_unpaced_idle_ms, Pacer.IdleWorked);
// the replication links' handshakes are not client commands; a command
// ends the idle state within the counter's poll (10 ms).
func TestSnapshotUnpacedWithoutClients(t *testing.T) {
	paced := func(c *config.Config) { c.Cluster.SnapshotPace = 25 }
	a := startClusterNode(t, "", paced)
	rc := newClient(t, a, nil)
	ctx := ctxT(t)
	pipe := rc.Pipeline()
	for i := range 20000 {
		pipe.Set(ctx, "k"+strconv.Itoa(i), strings.Repeat("v", 100), 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	pa := a.repl.Load().pacer
	if pa.Idle() {
		t.Fatal("idle right after 20,000 SETs")
	}
	pollFor(t, "the first node idle", pa.Idle)
	b := startClusterNode(t, a.cl.node.Load().GossipAddr(), paced)
	waitMembers(t, []*Server{a, b}, 2)
	if !pa.Idle() {
		t.Error("the first node is not idle after the join: its replication links' handshakes (REPLSYNC) counted as data commands")
	}
	pb := b.repl.Load().pacer
	if pa.IdleWorked() == 0 || pb.IdleWorked() == 0 {
		t.Errorf("unpaced snapshot work: sender %v, loader %v; want both > 0", pa.IdleWorked(), pb.IdleWorked())
	}
	// A data command is seen at the next read of the counter, within
	// activityPoll (10 ms): each check sends one first.
	rb := newClient(t, b, nil)
	pollFor(t, "the joined node active after a command", func() bool {
		if err := rb.Get(ctx, "k1").Err(); err != nil && err != redis.Nil {
			t.Fatal(err)
		}
		return !pb.Idle()
	})
	info := infoSectionText(t, a, "migration")
	for _, f := range []string{"migration_snapshot_unpaced_idle_ms:", "migration_drop_pending_slots:"} {
		if !strings.Contains(info, f) {
			t.Errorf("INFO migration has no %s\n%s", f, info)
		}
	}
}

// TestDataActivityIgnoresHousekeeping: the counter that tells the snapshot
// Pacer that clients wait on the node (Server.dataActivity) does not move
// for a monitor's commands (PING, INFO, CLIENT, CONFIG, COMMAND, CLUSTER)
// and moves for each data command: a read, a write, a PUBLISH, a script,
// a command inside MULTI.
func TestDataActivityIgnoresHousekeeping(t *testing.T) {
	s := startClusterNode(t, "", nil)
	rc := newClient(t, s, nil)
	ctx := ctxT(t)
	activity := s.dataActivity()
	before := activity()
	for _, args := range [][]any{{"PING"}, {"INFO"}, {"CLIENT", "LIST"}, {"CONFIG", "GET", "maxmemory"},
		{"COMMAND", "COUNT"}, {"CLUSTER", "INFO"}, {"ECHO", "x"}, {"TIME"}} {
		if err := rc.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if got := activity(); got != before {
			t.Fatalf("%v moved the activity counter: %d -> %d", args, before, got)
		}
	}
	for _, args := range [][]any{{"SET", "k", "v"}, {"GET", "k"}, {"PUBLISH", "ch", "m"}, {"EVAL", "return 1", "0"}} {
		if err := rc.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if got := activity(); got <= before {
			t.Fatalf("%v did not move the activity counter (%d)", args, got)
		} else {
			before = got
		}
	}
	if _, err := rc.TxPipelined(ctx, func(p redis.Pipeliner) error { return p.Incr(ctx, "n").Err() }); err != nil {
		t.Fatal(err)
	}
	if got := activity(); got <= before {
		t.Fatalf("INCR in MULTI did not move the activity counter (%d)", got)
	}
}
