package server

import (
	"fmt"
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
