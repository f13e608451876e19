package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/cached/cached/cluster"
)

// TestCompactionHeldWhileSlotsMove: the cron skips slab compaction while
// the node takes part in a slot move (Server.slotsMoving). Two nodes,
// cluster-replicas 1; B applies a table that hands one of A's slots to B
// and A does not (as in TestHandOverLosesNoWrite), so no seal comes: B
// waits for it (a TRYAGAIN gate, rs.gated) with the link to A up, for
// flipWait, set to a minute. Meanwhile B's store is made sparse (keys of
// B's own slots written, three of four deleted: TestCompactionAfterDeletes's
// pattern). Asserted: over 12 of B's cron ticks (at least 1.1 s) B stays in
// the move and INFO stats' active_defrag_hits does not change; once A
// applies the table too and its seal reaches B, B ends the move with the
// seal, compaction moves items (so it had qualified all along), and every
// key left reads back its value.
func TestCompactionHeldWhileSlotsMove(t *testing.T) {
	nodes := replNodes(t, 2, nil)
	a, b := nodes[0], nodes[1]
	v := b.cl.view.Load()
	aID, bID := a.cl.node.Load().ID(), b.cl.node.Load().ID()
	slots := slotsOf(v, aID, bID)
	if len(slots) == 0 {
		t.Fatal("B replicates none of A's slots")
	}
	slot := slots[0]
	// Keys of B's own slots: B serves them throughout.
	keys := make([]string, 0, 20000)
	for i := 0; len(keys) < cap(keys); i++ {
		if k := fmt.Sprintf("cm:%d", i); v.t.OwnerIndex(keySlot(k)) == v.self {
			keys = append(keys, k)
		}
	}
	rb := newClient(t, b, nil)
	hits0 := defragHits(t, rb)

	rs := b.repl.Load()
	rs.cfgMu.Lock()
	rs.flipWait = time.Minute // only A's seal ends the wait (flipWaitLinked: 30 s)
	rs.cfgMu.Unlock()
	sealed0, late0 := rs.flipsSealed.Load(), rs.flipsLate.Load()
	flipped := cluster.Flip(v.t, []int{slot}, bID, v.t.Version()+1)
	applyView(b, flipped)
	if !b.slotsMoving() {
		t.Fatalf("B applied the table that hands slot %d to it, A did not: gated %d, slotsMoving false", slot, rs.gated.Load())
	}
	writeSparse(t, rb, keys)

	// The cron samples the instantaneous metrics (stats.lastAt) at every
	// tick, before the tick's compaction step: each new sample time is a
	// tick. hits is read after the tick is counted and before slotsMoving
	// is checked, and the move cannot start again once it ended, so a
	// change of hits seen here happened during the move.
	ticks, last := 0, lastCronTick(b)
	start := time.Now()
	pollFor(t, "12 cron ticks on B while it waits for A's seal", func() bool {
		if at := lastCronTick(b); !at.Equal(last) {
			ticks, last = ticks+1, at
		}
		hits := defragHits(t, rb)
		if !b.slotsMoving() {
			t.Fatalf("B's move ended without A's seal after %d cron ticks (gated %d, flips late %d)",
				ticks, rs.gated.Load(), rs.flipsLate.Load()-late0)
		}
		if hits != hits0 {
			t.Fatalf("compaction moved %d items while B waited for A's seal (slotsMoving; %d cron ticks counted since the deletes)",
				hits-hits0, ticks)
		}
		return ticks >= 12
	})
	t.Logf("%d cron ticks in %v with B's move held: active_defrag_hits stayed %d", ticks, time.Since(start).Round(time.Millisecond), hits0)

	applyView(a, flipped) // A seals the slot; the seal reaches B
	pollFor(t, "B ends the move", func() bool { return !b.slotsMoving() })
	if sealed, late := rs.flipsSealed.Load()-sealed0, rs.flipsLate.Load()-late0; sealed != 1 || late != 0 {
		t.Fatalf("B took slot %d over %d times with the seal, %d without; want once with it", slot, sealed, late)
	}
	var hits int
	pollFor(t, "active_defrag_hits above its value during the move", func() bool {
		hits = defragHits(t, rb)
		return hits > hits0
	})
	t.Logf("%d items moved after the move ended", hits-hits0)
	keptReadBack(t, rb, keys)
}

// lastCronTick returns the time of s's last cron tick (the cron's
// instantaneous metrics sample).
func lastCronTick(s *Server) time.Time {
	s.stats.instMu.Lock()
	defer s.stats.instMu.Unlock()
	return s.stats.lastAt
}
