package repl

import (
	"context"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"
)

// gatedStore is a fakeStore whose Snapshot of one slot waits until the
// gate opens, and which counts the snapshots taken of each slot.
type gatedStore struct {
	*fakeStore
	slot    int
	entered chan struct{} // closed when the gated slot's snapshot begins
	gate    chan struct{} // closed by the test to let it go on

	mu    sync.Mutex
	snaps map[int]int
	once  sync.Once
}

func (g *gatedStore) Snapshot(slot int, emit func(db int, key, head, body []byte, pexpireAt int64, release func()) error) (uint64, error) {
	g.mu.Lock()
	g.snaps[slot]++
	g.mu.Unlock()
	if slot == g.slot {
		g.once.Do(func() { close(g.entered) })
		<-g.gate
	}
	return g.fakeStore.Snapshot(slot, emit)
}

func (g *gatedStore) count(slot int) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.snaps[slot]
}

// TestSetSlotsOnLiveLink: a replica's slot set changes while its link is
// syncing. The change goes over the running connection (no reconnect):
// the snapshot under way and those queued are sent once each, not again;
// the added slot gets its snapshot and follows the stream; the dropped one
// gets no more records, and acknowledgements no longer count for it.
func TestSetSlotsOnLiveLink(t *testing.T) {
	st := &gatedStore{fakeStore: newFakeStore(), slot: 5, entered: make(chan struct{}), gate: make(chan struct{}), snaps: map[int]int{}}
	p, addr := serveSnapshotter(t, st, st.fakeStore)
	first := slotRange(0, 10)
	prefill(st.fakeStore, slotRange(0, 20), 20)
	ap := newFakeApplier()
	r, err := NewReplica(ReplicaConfig{Addr: addr, ID: "r", Slots: first}, ap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	<-st.entered // slots 0-4 sent, 5 under way, 6-9 queued
	waitFor(t, "the handshake's answer read", r.Connected)

	// Drop 3 (live) and 7 (queued), add 15 and 16.
	next := []int{0, 1, 2, 4, 5, 6, 8, 9, 15, 16}
	r.SetSlots(next)
	close(st.gate)
	waitFor(t, "the new set synced", func() bool { return caughtUp(st.fakeStore, r, next) })

	if s := r.Stats(); s.Reconnects != 0 || s.SlotChanges != 1 {
		t.Fatalf("replica stats %+v: want the change sent on the link, no reconnect", s)
	}
	for _, s := range next {
		if n := st.count(s); n != 1 {
			t.Errorf("slot %d snapshotted %d times, want once", s, n)
		}
	}
	if n := st.count(7); n > 1 {
		t.Errorf("dropped slot 7 snapshotted %d times, want at most once", n)
	}

	// A write to the dropped slot is not applied, and does not count as
	// acknowledged; one to an added slot is both.
	var dropped, added Token
	dropped.Note(3, st.set(3, "after-drop", "x"))
	added.Note(16, st.set(16, "after-add", "y"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if got := p.Wait(ctx, added, 1); got != 1 {
		t.Fatalf("Wait(added slot) = %d, want 1", got)
	}
	if _, keys := ap.state(16); keys["after-add"].v != "y" {
		t.Fatalf("added slot 16 acknowledged without the write: %v", keys)
	}
	if _, keys := ap.state(3); keys["after-drop"].v != "" {
		t.Fatalf("dropped slot 3 got a write after the change: %v", keys)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	if got := p.Wait(short, dropped, 1); got != 0 {
		t.Fatalf("Wait(dropped slot) = %d, want 0", got)
	}
	if _, _, live := r.Position(3); live {
		t.Fatal("dropped slot 3 still reported live")
	}
	assertSame(t, st.fakeStore, ap, next)
	if v := ap.violations(); len(v) > 0 {
		t.Errorf("applier: %v", v)
	}
}

// TestSetSlotsReaddsDroppedSlot: a slot dropped and added again before
// the primary answered gets a fresh snapshot; the frames of its first
// following still in flight are not applied to the new one, and the copy
// ends identical to the primary's.
func TestSetSlotsReaddsDroppedSlot(t *testing.T) {
	h := newHarness(t, Config{BacklogSize: 64 << 20}) // the writers do not push the replica out of it
	slots := slotRange(0, 8)
	prefill(h.store, slots, 50)
	ap := newFakeApplier()
	r := h.replica("r", slots, ap, nil)
	waitFor(t, "synced", func() bool { return caughtUp(h.store, r, slots) })
	stop := make(chan struct{})
	written := writers(h.store, slots, 2, stop)
	total := func() (n uint64) {
		for _, s := range slots {
			n += h.store.seq(s)
		}
		return n
	}
	for i := range 20 {
		s := i % len(slots)
		before := total()
		r.SetSlots(slots[:s]) // drop s..7
		r.SetSlots(slots)     // and add them back
		waitFor(t, "writes after the change", func() bool { return total() > before+10 })
	}
	close(stop)
	if written() == 0 {
		t.Fatal("no writes during the changes")
	}
	waitFor(t, "synced again", func() bool { return caughtUp(h.store, r, slots) })
	assertSame(t, h.store, ap, slots)
	if v := ap.violations(); len(v) > 0 {
		t.Errorf("applier: %v", v)
	}
	if s := r.Stats(); s.Reconnects != 0 {
		t.Errorf("replica stats %+v: want no reconnect", s)
	}
}

// TestSetSlotsDoesNotWaitOnPrimary: SetSlots runs under its caller's
// locks, so it must not wait for a primary that stopped reading: the
// changes are queued for the link's writer, and past maxOutbox the link
// is cut (the next handshake asks for the set).
func TestSetSlotsDoesNotWaitOnPrimary(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fr := newFrameReader(c, 3*NumSlots+3, 1<<10, 2<<20, 0)
			if _, err := fr.read(); err != nil { // the handshake; nothing is read after it
				c.Close()
				continue
			}
			_, _ = c.Write(appendFrame(nil, "OK", 1, 0, 0))
			accepted <- c
		}
	}()
	// A write that waited for the primary would wait for an hour.
	r, err := NewReplica(ReplicaConfig{Addr: ln.Addr().String(), ID: "r", Slots: []int{0}, WriteTimeout: time.Hour}, newFakeApplier())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	first := <-accepted
	defer first.Close()
	waitFor(t, "connected", r.Connected)
	all := slotRange(0, NumSlots)
	for i := range 40 { // about 25 MiB of FOLLOW and UNFOLLOW frames in all
		if i%2 == 0 {
			r.SetSlots(all)
		} else {
			r.SetSlots([]int{0})
		}
	}
	waitFor(t, "the link cut past maxOutbox", func() bool { return r.Stats().Reconnects > 0 })
	select {
	case c := <-accepted:
		c.Close() // the next handshake
	case <-time.After(20 * time.Second):
		t.Fatal("no new handshake after the cut")
	}
}

// TestSetSlotsResumesReaddedSlot: a slot dropped and added back at the
// position the replica holds resumes in place (no snapshot), and WAIT
// counts the replica for it again (the drop had stopped the counting).
func TestSetSlotsResumesReaddedSlot(t *testing.T) {
	h := newHarness(t, Config{})
	slots := []int{1, 2}
	prefill(h.store, slots, 10)
	var mu sync.Mutex
	resume := map[int]position{}
	ap := newFakeApplier()
	r, err := NewReplica(ReplicaConfig{Addr: h.addr, ID: "r", Slots: slots, Resume: func(s int) (uint64, uint64, bool) {
		mu.Lock()
		defer mu.Unlock()
		p, ok := resume[s]
		return p.hist, p.seq, ok
	}}, ap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitFor(t, "synced", func() bool { return caughtUp(h.store, r, slots) })
	hist, seq, _ := r.Position(2)
	r.SetSlots([]int{1})
	waitFor(t, "the primary dropped slot 2", func() bool {
		st := h.p.Stats()
		return len(st.Links) == 1 && st.Links[0].Slots == 1
	})
	mu.Lock()
	resume[2] = position{hist, seq}
	mu.Unlock()
	full0, partial0 := h.p.Stats().FullSyncs, h.p.Stats().PartialSlots
	r.SetSlots(slots)
	if st := r.Stats(); st.SlotsLive+st.SlotsSyncing != len(slots) {
		t.Fatalf("replica stats %+v right after the change: want slot 2 live or syncing", st)
	}
	// No write before the primary answered: one that the link passes
	// first makes the position stale there (a snapshot instead).
	waitFor(t, "slot 2 live again", func() bool { _, live := r.Applied(2); return live })
	var tok Token
	tok.Note(2, h.store.set(2, "again", "x"))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if got := h.p.Wait(ctx, tok, 1); got != 1 {
		t.Fatalf("Wait(re-added slot) = %d, want 1", got)
	}
	if _, keys := ap.state(2); keys["again"].v != "x" {
		t.Fatalf("slot 2 acknowledged without the write: %v", keys)
	}
	if st := h.p.Stats(); st.FullSyncs != full0 || st.PartialSlots != partial0+1 {
		t.Errorf("primary stats %+v: want slot 2 resumed, no snapshot (before: %d full, %d partial)", st, full0, partial0)
	}
	assertSame(t, h.store, ap, slots)
	if s := r.Stats(); s.Reconnects != 0 {
		t.Errorf("replica stats %+v: want no reconnect", s)
	}
}

// TestSetSlotsUnderFaults: the slot set changes over and over while the
// connection is cut at random points (mid-frame, mid-FOLLOW) and writers
// keep writing; once the faults stop and the set settles, the copy of
// every slot is identical to the primary's and no record was applied out
// of order.
func TestSetSlotsUnderFaults(t *testing.T) {
	h := newHarness(t, Config{BacklogSize: 256 << 10})
	slots := slotRange(1000, 1100)
	prefill(h.store, slots, 3)
	d := cuttingDialer(3, 4<<20)
	ap := newFakeApplier()
	r := h.replica("r1", slots, ap, d)
	stop := make(chan struct{})
	wait := writers(h.store, slots, 2, stop)
	changes := rand.New(rand.NewPCG(5, 6))
	rounds := 0
	for ; rounds < 500 && (d.dials.Load() < 10 || r.Stats().SlotChanges < 30); rounds++ {
		waitFor(t, "connected", r.Connected) // mostly a change on a running link, then
		var set []int
		for _, s := range slots {
			if changes.IntN(3) > 0 {
				set = append(set, s)
			}
		}
		r.SetSlots(set)
		dials := d.dials.Load()
		waitFor(t, "progress", func() bool { return d.dials.Load() > dials || r.Stats().SlotsSyncing == 0 })
	}
	d.stopCuts()
	r.SetSlots(slots)
	close(stop)
	wait()
	waitFor(t, "caught up", func() bool { return caughtUp(h.store, r, slots) })
	assertSame(t, h.store, ap, slots)
	if v := ap.violations(); len(v) > 0 {
		t.Errorf("applier: %v", v[:min(len(v), 5)])
	}
	st := r.Stats()
	if st.SlotChanges < 30 || st.Reconnects < 9 {
		t.Errorf("replica stats %+v: want at least 30 changes on a running link and 9 cuts", st)
	}
	t.Logf("%d changes; replica %+v", rounds, st)
}

// TestUnownedSlotWaitsBesideTheQueue: a replica follows a slot the node
// does not own (yet, or any more: it gave the slot away). Its snapshot
// waits for the Owner beside the queue, not in front of it: a seal of
// another slot reaches the replica meanwhile, an UNFOLLOW drops the wait
// (the replica follows the slot elsewhere now), and a slot the node comes
// to own is sent on the same connection. Until 2026-12-05 the link slept
// in the snapshot of the unowned slot for OwnWait and then failed, the
// seals and UNFOLLOWs queued behind it: a cluster forming took over
// slots without their seal that way, 1 s late. The Primary's clock stands
// still here, so the wait never expires on a slow machine.
func TestUnownedSlotWaitsBesideTheQueue(t *testing.T) {
	st := &ownerStore{fakeStore: newFakeStore(), always: 1}
	frozen := time.Now()
	p, addr := serveWith(t, st, st.fakeStore, serveOpts{now: func() time.Time { return frozen }})
	prefill(st.fakeStore, []int{1, 2}, 3)

	r, err := NewReplica(ReplicaConfig{Addr: addr, ID: "r", Slots: []int{1, 2}}, newFakeApplier())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitFor(t, "slot 1 synced and the link asking about slot 2", func() bool {
		return caughtUp(st.fakeStore, r, []int{1}) && st.asked.Load()
	})
	seq := p.Seal(1)[0]
	waitFor(t, "the seal of slot 1", func() bool { s, ok := r.Sealed(1); return ok && s == seq })
	if _, _, live := r.Position(2); live {
		t.Fatal("slot 2 live although the node does not own it")
	}

	// The replica drops slot 2 and follows it again once the node owns it:
	// it arrives on the same connection.
	r.SetSlots([]int{1})
	st.set(1, "after-drop", "v")
	waitFor(t, "slot 1 follows on", func() bool { return caughtUp(st.fakeStore, r, []int{1}) })
	st.owns.Store(true)
	r.SetSlots([]int{1, 2})
	waitFor(t, "slot 2 synced", func() bool { return caughtUp(st.fakeStore, r, []int{1, 2}) })
	if s := r.Stats(); s.Reconnects != 0 {
		t.Errorf("%d reconnects: want the link kept throughout", s.Reconnects)
	}
}
