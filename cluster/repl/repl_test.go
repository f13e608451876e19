package repl

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slotRange returns slots lo..hi-1.
func slotRange(lo, hi int) []int {
	s := make([]int, 0, hi-lo)
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}

// writers runs n goroutines writing random keys of slots until stop is
// closed; it returns a wait function giving the number of writes.
func writers(st *fakeStore, slots []int, n int, stop chan struct{}) func() int64 {
	var wg sync.WaitGroup
	var count atomic.Int64
	for w := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				s := slots[rng.IntN(len(slots))]
				k := fmt.Sprintf("k%d:%d", s, rng.IntN(20))
				if rng.IntN(5) == 0 {
					st.del(s, k)
				} else {
					st.set(s, k, fmt.Sprintf("v%d.%d", w, i))
				}
				count.Add(1)
				if i%64 == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	return func() int64 { wg.Wait(); return count.Load() }
}

func prefill(st *fakeStore, slots []int, keys int) {
	for _, s := range slots {
		for k := range keys {
			st.set(s, fmt.Sprintf("k%d:%d", s, k), fmt.Sprintf("init%d", k))
		}
	}
}

// TestSyncUnderConcurrentWrites: a replica syncs 2,000 slots by snapshot
// while four writers keep writing them; it ends identical, slot by slot.
func TestSyncUnderConcurrentWrites(t *testing.T) {
	h := newHarness(t, Config{BacklogSize: 8 << 20})
	slots := slotRange(100, 2100)
	prefill(h.store, slots, 5)
	stop := make(chan struct{})
	wait := writers(h.store, slots, 4, stop)
	ap := newFakeApplier()
	r := h.replica("r1", slots, ap, nil)
	waitFor(t, "every slot live", func() bool { return r.Stats().SlotsLive == len(slots) })
	close(stop)
	n := wait()
	waitFor(t, "replica caught up", func() bool { return caughtUp(h.store, r, slots) })
	assertSame(t, h.store, ap, slots)
	st := h.p.Stats()
	if st.FullSyncs != uint64(len(slots)) {
		t.Errorf("primary FullSyncs = %d, want %d (one snapshot per slot)", st.FullSyncs, len(slots))
	}
	if rs := r.Stats(); rs.FullSyncs != uint64(len(slots)) || rs.Gaps != 0 || rs.Duplicates != 0 {
		t.Errorf("replica stats %+v, want %d full syncs, no gaps or duplicates", rs, len(slots))
	}
	if n == 0 {
		t.Fatal("writers wrote nothing")
	}
	t.Logf("%d writes during sync", n)
}

// TestBacklogResume: after a dropped connection the replica continues
// every slot from the backlog; no snapshot is sent.
func TestBacklogResume(t *testing.T) {
	h := newHarness(t, Config{BacklogSize: 4 << 20})
	slots := slotRange(0, 64)
	prefill(h.store, slots, 3)
	ap := newFakeApplier()
	d := &dialer{}
	r := h.replica("r1", slots, ap, d)
	waitFor(t, "initial sync", func() bool { return caughtUp(h.store, r, slots) })
	full0 := h.p.Stats().FullSyncs
	d.setDown(true)
	waitFor(t, "link down", func() bool { return !r.Stats().Connected })
	for i := range 500 {
		s := slots[i%len(slots)]
		h.store.set(s, fmt.Sprintf("k%d:new%d", s, i), "x")
	}
	d.setDown(false)
	waitFor(t, "caught up after reconnect", func() bool { return caughtUp(h.store, r, slots) })
	assertSame(t, h.store, ap, slots)
	st := h.p.Stats()
	if st.FullSyncs != full0 {
		t.Errorf("FullSyncs went from %d to %d: the reconnect took snapshots", full0, st.FullSyncs)
	}
	if st.PartialSyncs < 1 || st.PartialSlots < uint64(len(slots)) {
		t.Errorf("PartialSyncs %d, PartialSlots %d: want >= 1 and >= %d", st.PartialSyncs, st.PartialSlots, len(slots))
	}
}

// TestBacklogOverflowSnapshotsAffectedSlots: a disconnect long enough for
// the backlog to drop some slots' records falls back to snapshots for
// exactly those slots; the others continue from the backlog.
func TestBacklogOverflowSnapshotsAffectedSlots(t *testing.T) {
	h := newHarness(t, Config{BacklogSize: 64 << 10})
	slots := slotRange(0, 10)
	prefill(h.store, slots, 2)
	ap := newFakeApplier()
	d := &dialer{}
	r := h.replica("r1", slots, ap, d)
	waitFor(t, "initial sync", func() bool { return caughtUp(h.store, r, slots) })
	d.setDown(true)
	// Down on both ends: a link the primary still serves keeps what its
	// replica was not sent.
	waitFor(t, "link down", func() bool { return !r.Stats().Connected && len(h.p.Stats().Links) == 0 })
	full0, rfull0 := h.p.Stats().FullSyncs, r.Stats().FullSyncs
	// Slot 1 is written first, then slot 2 floods the ring, then slot 3
	// writes a little: 1 and 2 lost records, 3 and the rest did not.
	h.store.set(1, "early", "v")
	val := string(make([]byte, 200))
	for i := range 1000 {
		h.store.set(2, fmt.Sprintf("flood%d", i%50), val)
	}
	h.store.set(3, "late", "v")
	if lw, ok := h.p.LowWater(1); !ok || lw <= 2 {
		t.Fatalf("slot 1 low water %d %v: the flood should have evicted its record", lw, ok)
	}
	d.setDown(false)
	waitFor(t, "caught up", func() bool { return caughtUp(h.store, r, slots) })
	assertSame(t, h.store, ap, slots)
	if got := h.p.Stats().FullSyncs - full0; got != 2 {
		t.Errorf("primary sent %d snapshots, want 2 (slots 1 and 2)", got)
	}
	if got := r.Stats().FullSyncs - rfull0; got != 2 {
		t.Errorf("replica loaded %d snapshots, want 2", got)
	}
}

// TestWaitCounts: Wait counts replicas holding the token's slots, returns
// as soon as n is reached, and returns the count reached at the deadline.
func TestWaitCounts(t *testing.T) {
	h := newHarness(t, Config{})
	a1, a2 := newFakeApplier(), newFakeApplier()
	d2 := &dialer{}
	r1 := h.replica("r1", []int{1, 2}, a1, nil)
	r2 := h.replica("r2", []int{1}, a2, d2)
	waitFor(t, "both synced", func() bool { return caughtUp(h.store, r1, []int{1, 2}) && caughtUp(h.store, r2, []int{1}) })

	var tok Token
	tok.Note(1, h.store.set(1, "a", "1"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if got := h.p.Wait(ctx, tok, 2); got != 2 {
		t.Fatalf("Wait(slot 1, 2) = %d, want 2", got)
	}
	if _, keys := a2.state(1); keys["a"].v != "1" {
		t.Fatalf("replica 2 acknowledged without holding the write: %v", keys)
	}
	tok.Note(2, h.store.set(2, "b", "2"))
	if got := h.p.Wait(ctx, tok, 1); got != 1 {
		t.Fatalf("Wait(slots 1,2, 1) = %d, want 1 (only r1 holds slot 2)", got)
	}
	if got := h.p.Wait(ctx, Token{}, 0); got != 2 {
		t.Fatalf("Wait(no writes, 0) = %d, want 2 connected replicas", got)
	}

	// r2 stops reading: a write to slot 1 is acknowledged by r1 only.
	d2.setStall(true)
	var tok2 Token
	tok2.Note(1, h.store.set(1, "c", "3"))
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if got := h.p.Wait(short, tok2, 2); got != 1 {
		t.Fatalf("Wait with a stalled replica = %d, want 1 at the deadline", got)
	}
	d2.setStall(false)
	if got := h.p.Wait(ctx, tok2, 2); got != 2 {
		t.Fatalf("Wait after the stall = %d, want 2", got)
	}
}

// TestWaitInOrder: WaitInOrder counts the acknowledged prefix of the
// order given; a replica that acknowledged after one that did not is not
// counted.
func TestWaitInOrder(t *testing.T) {
	h := newHarness(t, Config{})
	d1 := &dialer{}
	r1 := h.replica("r1", []int{1}, newFakeApplier(), d1)
	r2 := h.replica("r2", []int{1}, newFakeApplier(), nil)
	waitFor(t, "both synced", func() bool { return caughtUp(h.store, r1, []int{1}) && caughtUp(h.store, r2, []int{1}) })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	order := []string{"r1", "r2"}

	// r1 stops reading: a write to slot 1 is acknowledged by r2 only.
	d1.setStall(true)
	var tok Token
	tok.Note(1, h.store.set(1, "a", "1"))
	if got := h.p.Wait(ctx, tok, 1); got != 1 {
		t.Fatalf("Wait(1) = %d, want 1 (r2)", got)
	}
	if got := h.p.AckedInOrder(tok, []string{"r2", "r1"}, ""); got != 1 {
		t.Fatalf("AckedInOrder(r2, r1) = %d, want 1", got)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if got := h.p.WaitInOrder(short, tok, order, "", 1); got != 0 {
		t.Fatalf("WaitInOrder(r1, r2) with r1 stalled = %d, want 0", got)
	}
	if got := h.p.AckedInOrder(tok, []string{"gone", "r2"}, ""); got != 0 {
		t.Fatalf("AckedInOrder with an unknown first replica = %d, want 0", got)
	}
	// need: r1 (an incoming member, say) must have it too, wherever the
	// order puts it.
	if got, got2 := h.p.AckedInOrder(tok, []string{"r2"}, "r1"), h.p.AckedInOrder(tok, []string{"r2"}, "r2"); got != 0 || got2 != 1 {
		t.Fatalf("AckedInOrder(r2) needing the stalled r1 = %d, needing r2 = %d; want 0, 1", got, got2)
	}
	d1.setStall(false)
	if got := h.p.WaitInOrder(ctx, tok, order, "", 2); got != 2 {
		t.Fatalf("WaitInOrder after the stall = %d, want 2", got)
	}
	if got := h.p.AckedInOrder(Token{}, order, ""); got != 2 {
		t.Fatalf("AckedInOrder(no writes) = %d, want 2 connected replicas", got)
	}
}

// TestWaitNotCountedBeforeSnapshotApplied: a replica whose snapshot of a
// slot is not loaded yet does not count for a write to that slot.
func TestWaitNotCountedBeforeSnapshotApplied(t *testing.T) {
	h := newHarness(t, Config{SnapshotRate: 1})
	prefill(h.store, []int{7}, 1)
	var tok Token
	tok.Note(7, h.store.set(7, "x", string(make([]byte, 4<<10))))
	// At 1 byte/s the snapshot cannot have been sent within the wait.
	h.replica("r1", []int{7}, newFakeApplier(), nil)
	waitFor(t, "link up", func() bool { s := h.p.Stats(); return len(s.Links) == 1 && s.Links[0].Ready })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if got := h.p.Wait(ctx, tok, 1); got != 0 {
		t.Fatalf("Wait = %d, want 0: the replica has not loaded slot 7", got)
	}
	if got := h.p.Wait(context.Background(), Token{}, 1); got != 1 {
		t.Fatalf("Wait with an empty token = %d, want 1", got)
	}
}

// TestGapHealedByPrimary: a hole in a slot's sequence (a lost effect) is
// seen by the primary's link, which sends the slot as a snapshot.
func TestGapHealedByPrimary(t *testing.T) {
	h := newHarness(t, Config{})
	slots := []int{5, 6}
	prefill(h.store, slots, 3)
	ap := newFakeApplier()
	r := h.replica("r1", slots, ap, nil)
	waitFor(t, "initial sync", func() bool { return caughtUp(h.store, r, slots) })
	full0 := h.p.Stats().FullSyncs
	h.store.skipSeq(5)
	h.store.set(5, "after-gap", "v")
	h.store.set(6, "other", "v")
	waitFor(t, "healed", func() bool { return caughtUp(h.store, r, slots) })
	assertSame(t, h.store, ap, slots)
	if got := h.p.Stats().FullSyncs - full0; got != 1 {
		t.Errorf("snapshots after the gap = %d, want 1 (slot 5 only)", got)
	}
}

// TestRestoreFailureResyncs: a failed Restore makes the replica ask for the
// slot again; the second snapshot succeeds.
func TestRestoreFailureResyncs(t *testing.T) {
	h := newHarness(t, Config{})
	prefill(h.store, []int{9}, 3)
	ap := newFakeApplier()
	var fails atomic.Int32
	ap.failRestore = func(slot int) bool { return fails.Add(1) == 1 }
	r := h.replica("r1", []int{9}, ap, nil)
	waitFor(t, "synced", func() bool { return caughtUp(h.store, r, []int{9}) })
	assertSame(t, h.store, ap, []int{9})
	if got := h.p.Stats().FullSyncs; got != 2 {
		t.Errorf("FullSyncs = %d, want 2 (the failed one and the retry)", got)
	}
}

// TestMultiSlotUnit: a unit spanning two slots reaches a replica of both
// in one Apply, and a replica of one slot as a unit of its record.
func TestMultiSlotUnit(t *testing.T) {
	h := newHarness(t, Config{})
	both, one := newFakeApplier(), newFakeApplier()
	both.keepUnits, one.keepUnits = true, true
	rb := h.replica("both", []int{1, 2}, both, nil)
	ro := h.replica("one", []int{2}, one, nil)
	waitFor(t, "synced", func() bool { return rb.Stats().SlotsLive == 2 && ro.Stats().SlotsLive == 1 })
	h.store.setPair(1, 2, "k", "v")
	h.store.set(1, "k2", "v2") // a record one filters out entirely
	h.store.set(2, "k3", "v3")
	waitFor(t, "applied", func() bool {
		return caughtUp(h.store, rb, []int{1, 2}) && caughtUp(h.store, ro, []int{2})
	})
	assertSame(t, h.store, both, []int{1, 2})
	assertSame(t, h.store, one, []int{2})
	both.mu.Lock()
	if len(both.units) != 3 || len(both.units[0]) != 2 {
		t.Errorf("replica of both slots got units %v, want 3 with the first of 2 records", both.units)
	}
	both.mu.Unlock()
	one.mu.Lock()
	if len(one.units) != 2 || len(one.units[0]) != 1 || one.units[0][0].Slot != 2 {
		t.Errorf("replica of slot 2 got units %v, want [[slot 2] [slot 2]]", one.units)
	}
	one.mu.Unlock()
}

// TestUnitsNeverSplitByBatches: with batches smaller than a unit, units of
// two slots still reach replicas whole, interleaved with snapshots and
// heartbeats.
func TestUnitsNeverSplitByBatches(t *testing.T) {
	// The ring holds every write of the test, so no link is cut for
	// falling behind and any reconnect is a protocol error.
	h := newHarness(t, Config{BatchBytes: 100, Heartbeat: time.Millisecond, BacklogSize: 64 << 20})
	slots := slotRange(0, 8)
	prefill(h.store, slots, 2)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 3000 {
			h.store.setPair(i%8, (i+1)%8, fmt.Sprint("p", i%13), fmt.Sprint(i))
		}
	}()
	all, half := newFakeApplier(), newFakeApplier()
	ra := h.replica("all", slots, all, nil)
	rh := h.replica("half", slots[:4], half, nil)
	wg.Wait()
	waitFor(t, "caught up", func() bool { return caughtUp(h.store, ra, slots) && caughtUp(h.store, rh, slots[:4]) })
	assertSame(t, h.store, all, slots)
	assertSame(t, h.store, half, slots[:4])
	if a, b := ra.Stats().Reconnects, rh.Stats().Reconnects; a+b != 0 {
		t.Errorf("replicas reconnected %d and %d times: a frame fell inside a unit", a, b)
	}
}

// TestSnapshotFailureRetried: a failed Snapshot cuts the link; the replica
// reconnects, continues the slots it has and gets the failed one again.
func TestSnapshotFailureRetried(t *testing.T) {
	h := newHarness(t, Config{})
	slots := slotRange(0, 6)
	prefill(h.store, slots, 3)
	var fails atomic.Int32
	h.store.snapErr = func(slot int) bool { return slot == 4 && fails.Add(1) == 1 }
	ap := newFakeApplier()
	r := h.replica("r1", slots, ap, nil)
	waitFor(t, "synced", func() bool { return caughtUp(h.store, r, slots) })
	assertSame(t, h.store, ap, slots)
	if fails.Load() < 2 {
		t.Errorf("slot 4 snapshotted %d times, want a failure and a retry", fails.Load())
	}
	if s := h.p.Stats(); s.PartialSlots < 4 {
		t.Errorf("PartialSlots = %d: the slots synced before the failure should have continued", s.PartialSlots)
	}
}

// TestLagNumbers: a stalled replica shows lag in records and ms; once it
// reads again the lag returns to zero.
func TestLagNumbers(t *testing.T) {
	h := newHarness(t, Config{})
	var skew atomic.Int64
	h.p.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) } // before any link reads it
	d := &dialer{}
	r := h.replica("r1", []int{1}, newFakeApplier(), d)
	waitFor(t, "synced", func() bool { return caughtUp(h.store, r, []int{1}) })
	link := func() LinkStats {
		ls := h.p.Stats().Links
		if len(ls) != 1 {
			return LinkStats{}
		}
		return ls[0]
	}
	d.setStall(true)
	h.store.set(1, "a", "1")
	skew.Store(int64(time.Second)) // the next write is a second later
	h.store.set(1, "b", "2")
	if l := link(); l.LagRecords < 1 || l.LagMs < 1 {
		t.Errorf("stalled link %+v: want lag in records and ms", l)
	}
	d.setStall(false)
	waitFor(t, "lag back to zero", func() bool { l := link(); return l.Ready && l.LagRecords == 0 && l.LagMs == 0 })
	if l := link(); l.ID != "r1" || l.AckIndex != h.p.LastIndex() {
		t.Errorf("link %+v: want ID r1 and AckIndex %d", l, h.p.LastIndex())
	}
}

// TestLentBodies: a Snapshotter that lends large bodies (larger than the
// link's 1 MiB write pieces among them) while writers go on gets a
// replica identical to the store, and every lent body is released once.
func TestLentBodies(t *testing.T) {
	h := newHarness(t, Config{BacklogSize: 8 << 20})
	h.store.lendOver = 64
	slots := slotRange(200, 240)
	prefill(h.store, slots, 3)
	for i, s := range slots[:8] {
		h.store.set(s, fmt.Sprintf("big%d", s), strings.Repeat(string(rune('a'+i)), 100+i*(400<<10)))
	}
	stop := make(chan struct{})
	wait := writers(h.store, slots, 2, stop)
	ap := newFakeApplier()
	r := h.replica("r1", slots, ap, nil)
	waitFor(t, "every slot live", func() bool { return r.Stats().SlotsLive == len(slots) })
	close(stop)
	wait()
	waitFor(t, "replica caught up", func() bool { return caughtUp(h.store, r, slots) })
	assertSame(t, h.store, ap, slots)
	if h.store.lentAll.Load() < 8 {
		t.Fatalf("%d bodies lent, want at least 8", h.store.lentAll.Load())
	}
	waitFor(t, "every lent body released", func() bool { return h.store.lentOut.Load() == 0 })
}

// TestLentBodyReleasedWhenLinkDies: a link cut while it is writing a lent
// body (slowed by the rate limit) releases it and every body not sent yet.
func TestLentBodyReleasedWhenLinkDies(t *testing.T) {
	h := newHarness(t, Config{SnapshotRate: 2 << 20})
	h.store.lendOver = 64
	h.store.set(7, "a", strings.Repeat("a", 3<<20))
	h.store.set(7, "b", strings.Repeat("b", 3<<20))
	r := h.replica("r1", []int{7}, newFakeApplier(), nil)
	waitFor(t, "both bodies lent", func() bool { return h.store.lentAll.Load() == 2 })
	if h.store.lentOut.Load() == 0 {
		t.Fatal("the bodies were released before the link could have sent 6 MiB at 2 MiB/s")
	}
	r.Close()
	waitFor(t, "the lent bodies released", func() bool { return h.store.lentOut.Load() == 0 })
}
