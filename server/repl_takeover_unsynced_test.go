package server

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/cluster/repl"
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
)

// TestTakeoverOutOfSyncStartsEmpty: a node promoted for a slot it marks as
// a replica's but holds no position of (no Replica had it live, none
// presented it at a seal: its snapshot was under way or never came, as
// when the slot's new primary froze) drops what its store holds of the
// slot. That is no copy of the slot's stream: here a leftover of an
// earlier role. Before, the promotion adopted it as it was, and
// TestBinaryClusterSoak with 2 replicas read values older than writes
// WAIT had acknowledged from such a slot, as hits.
func TestTakeoverOutOfSyncStartsEmpty(t *testing.T) {
	c := replNodes(t, 3, nil)[2]
	slot := leftoverSlot(t, c) // a replica's slot whose snapshot never came
	owned, prev := new([store.Slots]bool), new([store.Slots]bool)
	owned[slot] = true
	rs := c.repl.Load()
	rs.cfgMu.Lock()
	rs.promote(owned, prev, map[string][]int{}, map[string]cluster.Member{})
	rs.cfgMu.Unlock()
	if n := c.store.CountKeysInSlot(slot); n != 0 {
		t.Fatalf("promoted without a position, slot %d kept %d keys that are no copy of its stream", slot, n)
	}
	if c.store.ReplicaSlot(slot) {
		t.Fatal("the promoted slot is still marked as a replica's")
	}
}

// TestLateFlipOutOfSyncStartsEmpty: a slot handed to this node whose old
// primary's seal never came is taken over after flipWait; if its copy was
// not live there (here no Replica carries it; in TestBinaryClusterSoak
// with 2 replicas, seed 405, 43 slots taken over 1 s after a leave, whose
// copies were not live when the leaver exited: docs/replication.md,
// "Promotion"), what the store holds of the slot is no copy of its stream
// and is dropped, as a promotion out of sync drops it. Before, the late
// flip adopted it as it was, and the soak read values older than writes
// WAIT had acknowledged, as hits.
func TestLateFlipOutOfSyncStartsEmpty(t *testing.T) {
	c := replNodes(t, 3, nil)[2]
	slot := leftoverSlot(t, c) // a slot followed, whose copy never went live
	rs := c.repl.Load()
	rs.cfgMu.Lock()
	rs.flips[slot] = &flip{from: "a primary with no link here", since: time.Now().Add(-time.Minute)}
	rs.setGate(slot, true)
	rs.cfgMu.Unlock()
	rs.finishFlips()
	if !rs.owned.Load()[slot] {
		t.Fatalf("slot %d was not taken over after its flip waited past flipWait", slot)
	}
	if rs.flipping(slot) {
		t.Fatalf("slot %d is still gated after its takeover", slot)
	}
	if n := c.store.CountKeysInSlot(slot); n != 0 {
		t.Fatalf("taken over without a live copy, slot %d kept %d keys that are no copy of its stream", slot, n)
	}
	if c.store.ReplicaSlot(slot) {
		t.Fatal("the slot taken over is still marked as a replica's")
	}
}

// leftoverSlot picks a slot the third node c does not hold, marks it as a
// replica's slot there and writes one key into it through the applier (a
// leftover, no copy of the slot's stream), and returns the slot.
func leftoverSlot(t *testing.T, c *Server) int {
	t.Helper()
	v := c.cl.view.Load()
	slot := -1
	for s := range cluster.NumSlots {
		if !v.t.Holds(s, v.self) {
			slot = s
			break
		}
	}
	if slot < 0 {
		t.Fatal("the third node holds every slot")
	}
	key := ""
	for i := 0; key == ""; i++ {
		if k := fmt.Sprintf("lo:%d", i); protocol.KeySlot([]byte(k)) == slot {
			key = k
		}
	}
	c.store.SetReplicaSlot(slot, true)
	rec := repl.Record{Slot: slot, Seq: 1, Args: [][]byte{[]byte("SET"), []byte(key), []byte("leftover")}}
	if err := newApplier(c).Apply([]repl.Record{rec}); err != nil {
		t.Fatal(err)
	}
	if n := c.store.CountKeysInSlot(slot); n != 1 {
		t.Fatalf("slot %d holds %d keys after the leftover was written, want 1", slot, n)
	}
	return slot
}

// TestFlushedCopyReported: a replica's slot dropped for a snapshot
// (applier.FlushSlot, on SNAP) is reported flushed in the node's holding
// report until the snapshot is loaded, and the other node sees it through
// the gossip meta: a failover then does not count that copy as one that
// was live (cluster's copyTier), whatever it reported before. Before, the
// coordinator's record of the copy's last live report stood while the
// copy reloaded, and could promote it over a complete one.
func TestFlushedCopyReported(t *testing.T) {
	nodes := replNodes(t, 2, nil)
	waitReplSynced(t, nodes)
	a, b := nodes[0], nodes[1]
	v := b.cl.view.Load()
	slot := -1
	for s := range cluster.NumSlots {
		if v.t.Holds(s, v.self) && v.t.Owner(s).ID != b.cl.node.Load().ID() {
			slot = s
			break
		}
	}
	if slot < 0 {
		t.Fatal("b is replica of no slot")
	}
	bID := b.cl.node.Load().ID()
	flushedSeen := func(want bool) func() bool {
		return func() bool {
			_, _, flushed := a.cl.node.Load().HeldReport(bID)
			has := slices.ContainsFunc(flushed, func(r cluster.SlotRange) bool { return r.Start <= slot && slot <= r.End })
			return has == want
		}
	}
	ap := newApplier(b)
	if err := ap.FlushSlot(slot); err != nil {
		t.Fatal(err)
	}
	pollFor(t, "a to see b's copy of the slot flushed", flushedSeen(true))
	if err := ap.SnapshotLoaded(slot, 1); err != nil {
		t.Fatal(err)
	}
	pollFor(t, "a to see b's copy loaded again", flushedSeen(false))
}
