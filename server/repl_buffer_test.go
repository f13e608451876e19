package server

import (
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// TestReplicaBufferLimit: a replica that stops reading while its primary
// writes far more than repl-backlog-size keeps its link, as a Redis
// replica keeps its connection until client-output-buffer-limit's replica
// limits: the records it was not sent are kept for it (INFO memory's
// mem_clients_slaves, counted in used_memory), and once it reads again it goes on from them with
// no snapshot. After CONFIG SET client-output-buffer-limit lowers the
// replica hard limit, the same stall cuts the link (repl_behind_cuts) and
// the replica comes back through a sync. Before stop 39 a replica 1 MiB
// behind was cut at once, and a steady write load cut and snapshotted the
// links over and over (3 nodes, 1 replica, redis-benchmark --cluster -P 16
// SET: 1-20 cuts per node over two runs of 2,000,000 SETs, 72-190k SET/s
// against 346-398k since).
func TestReplicaBufferLimit(t *testing.T) {
	nodes := replNodes(t, 2, nil)
	a, b := nodes[0], nodes[1]
	gate := &readGate{}
	var wrapped atomic.Int32
	wrap := func(c net.Conn) net.Conn {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(64 << 10) // no autotuning to tens of megabytes: the stall must reach the primary
		}
		wrapped.Add(1)
		return gate.wrap(c)
	}
	b.repl.Load().dialWrap.Store(&wrap)
	dropReplicaLinks(b)
	pollFor(t, "b's link to a redialed through the gate", func() bool { return wrapped.Load() > 0 })
	waitReplSynced(t, nodes)
	ca := newClient(t, a, nil)
	val := strings.Repeat("v", 10<<10)
	var keys []string
	for i := 0; len(keys) < 2000; i++ { // 20 MB: more than the socket buffers and the 1 MiB backlog
		if k := fmt.Sprint("rbl:", i); ownerOf(nodes, k) == a {
			keys = append(keys, k)
		}
	}
	// stall writes keys while b reads nothing and returns a's numbers then.
	stall := func(round string) (kept, cuts int64) {
		t.Helper()
		gate.hold()
		defer gate.release()
		pipe := ca.Pipeline()
		for i, k := range keys {
			pipe.Set(ctxT(t), k, round+val, 0)
			if i%100 == 99 {
				if _, err := pipe.Exec(ctxT(t)); err != nil {
					t.Fatal(err)
				}
			}
		}
		mem, repl := infoFields(infoSectionText(t, a, "memory")), infoFields(infoSectionText(t, a, "replication"))
		kept = atoi(t, mem["mem_clients_slaves"])
		if backlog, total := atoi(t, mem["mem_replication_backlog"]), atoi(t, mem["mem_total_replication_buffers"]); kept > 0 && (backlog != 1<<20 || total != backlog+kept) {
			t.Errorf("INFO memory: mem_replication_backlog %d (want repl-backlog-size, 1048576), mem_total_replication_buffers %d, mem_clients_slaves %d (want the two summed)", backlog, total, kept)
		}
		// As in Redis, used_memory counts what is kept for the replica
		// (its overhead part); only eviction leaves it out.
		if over := atoi(t, mem["used_memory_overhead"]); over < kept || atoi(t, mem["mem_not_counted_for_evict"]) != kept {
			t.Errorf("INFO memory: used_memory_overhead %d, mem_not_counted_for_evict %s; want both to hold mem_clients_slaves %d", over, mem["mem_not_counted_for_evict"], kept)
		}
		return kept, atoi(t, repl["repl_behind_cuts"])
	}

	loaded0 := b.handoff.keysLoaded.Load() // snapshot keys b restored
	cuts0 := atoi(t, infoFields(infoSectionText(t, a, "replication"))["repl_behind_cuts"])
	kept, cuts := stall("1")
	if kept < 4<<20 || cuts != cuts0 {
		t.Fatalf("while the replica read nothing: %d bytes kept for it, cuts %d → %d; want megabytes kept and no cut", kept, cuts0, cuts)
	}
	waitReplSynced(t, nodes)
	if loaded := b.handoff.keysLoaded.Load() - loaded0; loaded != 0 {
		t.Fatalf("the replica loaded %d keys by snapshot after the stall; want none", loaded)
	}
	if n := atoi(t, infoFields(infoSectionText(t, a, "replication"))["repl_behind_cuts"]); n != cuts0 {
		t.Fatalf("repl_behind_cuts %d → %d after the stall; want no cut", cuts0, n)
	}

	mustDo(t, ca, "CONFIG", "SET", "client-output-buffer-limit", "replica 2mb 0 0")
	stall("2")
	pollFor(t, "the lowered limit cuts the stalled link", func() bool {
		return atoi(t, infoFields(infoSectionText(t, a, "replication"))["repl_behind_cuts"]) > cuts0
	})
	pollFor(t, "the cut replica comes back through a snapshot", func() bool { return b.handoff.keysLoaded.Load() > loaded0 })
	waitReplSynced(t, nodes)
	for _, k := range keys[:20] {
		if v := readOnlyGet(t, b, k); v != "2"+val {
			t.Fatalf("replica's %s: %.10q…, want the second round's value", k, v)
		}
	}
}
