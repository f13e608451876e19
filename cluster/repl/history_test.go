package repl

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// movingDial dials whatever address addr holds now.
func movingDial(addr *atomic.Value) func(ctx context.Context, _ string) (net.Conn, error) {
	return func(ctx context.Context, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr.Load().(string))
	}
}

// servePrimary starts a Primary for st on 127.0.0.1 and returns it with its address.
func servePrimary(t *testing.T, st *fakeStore) (*Primary, string) {
	t.Helper()
	return serveSnapshotter(t, st, st)
}

// serveSnapshotter is servePrimary with snap (a wrapper of st) as the
// Primary's Snapshotter.
func serveSnapshotter(t *testing.T, snap Snapshotter, st *fakeStore) (*Primary, string) {
	t.Helper()
	return serveWith(t, snap, st, serveOpts{})
}

// serveOpts changes what serveWith serves: the Primary's clock (now), and
// the listener it serves on (wrap, given the real one).
type serveOpts struct {
	now  func() time.Time
	wrap func(net.Listener) net.Listener
}

// serveWith is serveSnapshotter with o applied.
func serveWith(t *testing.T, snap Snapshotter, st *fakeStore, o serveOpts) (*Primary, string) {
	t.Helper()
	p, err := NewPrimary(Config{}, snap)
	if err != nil {
		t.Fatal(err)
	}
	if o.now != nil {
		p.now = o.now
	}
	st.hook = p.Append
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if o.wrap != nil {
		ln = o.wrap(ln)
	}
	go p.Serve(ln)
	t.Cleanup(func() { p.Close() })
	return p, addr
}

// storeFrom builds a primary's store from a replica's copy of slots.
func storeFrom(ap *fakeApplier, slots []int) *fakeStore {
	st := newFakeStore()
	for _, s := range slots {
		seq, keys := ap.state(s)
		st.slots[s].seq, st.slots[s].keys = seq, keys
	}
	return st
}

// TestRestartedPrimaryIsNotContinued: a primary that restarts numbers its
// effects from 1 again; a replica at the same sequence number of the old
// history must get a snapshot, not the new history's later records.
func TestRestartedPrimaryIsNotContinued(t *testing.T) {
	slots := []int{1}
	st1 := newFakeStore()
	p1, addr1 := servePrimary(t, st1)
	for i := range 5 {
		st1.set(1, fmt.Sprint("old", i), "old")
	}
	var addr atomic.Value
	addr.Store(addr1)
	ap := newFakeApplier()
	r, err := NewReplica(ReplicaConfig{Addr: "moving", Slots: slots, Dial: movingDial(&addr), BackoffMin: time.Millisecond, BackoffMax: 10 * time.Millisecond}, ap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitFor(t, "synced with the first primary", func() bool { return caughtUp(st1, r, slots) })

	st2 := newFakeStore()
	p2, addr2 := servePrimary(t, st2)
	for i := range 8 {
		st2.set(1, fmt.Sprint("new", i), "new")
	}
	addr.Store(addr2)
	p1.Close()
	waitFor(t, "synced with the restarted primary", func() bool { return caughtUp(st2, r, slots) })
	assertSame(t, st2, ap, slots)
	if s := p2.Stats(); s.FullSyncs != 1 || s.PartialSlots != 0 {
		t.Errorf("restarted primary stats %+v: want one snapshot, no resume", s)
	}
	if hist, _, _ := r.Position(1); hist != p2.ID() {
		t.Errorf("replica follows history %d, want the new primary's %d", hist, p2.ID())
	}
}

// movingReplica starts a primary whose slots hold 4 keys each and a
// replica of them that dials through addr (movingDial), and waits until
// it is synced; want holds each slot's sequence number at the primary.
func movingReplica(t *testing.T, slots []int) (p1 *Primary, addr *atomic.Value, r *Replica, ap *fakeApplier, want map[int]uint64) {
	t.Helper()
	st1 := newFakeStore()
	p1, addr1 := servePrimary(t, st1)
	prefill(st1, slots, 4)
	addr = new(atomic.Value)
	addr.Store(addr1)
	ap = newFakeApplier()
	r, err := NewReplica(ReplicaConfig{Addr: "moving", ID: "b", Slots: slots, Dial: movingDial(addr),
		BackoffMin: time.Millisecond, BackoffMax: 10 * time.Millisecond}, ap)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	waitFor(t, "synced with the first primary", func() bool { return caughtUp(st1, r, slots) })
	want = map[int]uint64{}
	for _, s := range slots {
		want[s] = st1.seq(s)
	}
	return p1, addr, r, ap, want
}

// checkCopyKept fails t unless r's copy of every slot of want is live at
// history hist and its sequence number in want after refused handshakes,
// and each slot still holds its 4 keys in ap (movingReplica).
func checkCopyKept(t *testing.T, r *Replica, ap *fakeApplier, hist uint64, want map[int]uint64) {
	t.Helper()
	for s, seq := range want {
		if h, got, live := r.Position(s); !live || h != hist || got != seq {
			t.Fatalf("slot %d after refused handshakes: history %d seq %d live %v, want %d at %d live", s, h, got, live, hist, seq)
		}
		if _, keys := ap.state(s); len(keys) != 4 {
			t.Fatalf("the copy of slot %d holds %d keys, want its 4", s, len(keys))
		}
	}
}

// TestNonOwnerRefusesHandshake: the primary's process is restarted at its
// address (under its old ID, so it serves nothing until the cluster plans
// it out; or under another), and its replica reconnects to it while its
// copy is still the only one of the slots. The new process owns none of
// the slots presented at positions it cannot continue, so it refuses the
// handshake instead of announcing snapshots: the replica's copy stays
// live at its position (a promotion keeps it), and it dials again. Once
// the process owns the slots it answers as their primary: a snapshot
// (its history is another).
func TestNonOwnerRefusesHandshake(t *testing.T) {
	slots := []int{1, 2}
	p1, addr, r, ap, want := movingReplica(t, slots)

	st2 := &ownerStore{fakeStore: newFakeStore(), always: -1}
	p2, addr2 := serveSnapshotter(t, st2, st2.fakeStore)
	reconnects := r.Stats().Reconnects
	addr.Store(addr2)
	p1.Close()
	// Two refusals: each handshake waits OwnWait for the slots first.
	waitFor(t, "two handshakes refused", func() bool { return r.Stats().Reconnects >= reconnects+3 })
	checkCopyKept(t, r, ap, p1.ID(), want)
	if got := p2.Stats().FullSyncs; got != 0 {
		t.Fatalf("the process that owns no slot sent %d snapshots", got)
	}

	st2.owns.Store(true)
	waitFor(t, "synced by snapshot once the process owns the slots", func() bool { return caughtUp(st2.fakeStore, r, slots) })
	if hist, _, _ := r.Position(1); hist != p2.ID() {
		t.Errorf("replica follows history %d, want the new primary's %d", hist, p2.ID())
	}
	assertSame(t, st2.fakeStore, ap, slots)
}

// memberStore is a fakeStore whose cluster (Members) counts a replica only
// once member says so.
type memberStore struct {
	*fakeStore
	member atomic.Bool
}

func (m *memberStore) Member(string) bool { return m.member.Load() }

// TestNonMemberHandshakeRefused: the process at the primary's address
// belongs to another cluster (a node started there without seeds forms
// its own, primary of every slot). A replica that presents its copy to it
// is refused and keeps its copy live at its position; a replica with no
// copy (every slot presented at 0 0) is served. Once the replica is a
// member, its handshake goes through (a snapshot: the history is another).
func TestNonMemberHandshakeRefused(t *testing.T) {
	slots := []int{1, 2}
	p1, addr, r, ap, want := movingReplica(t, slots)

	st2 := &memberStore{fakeStore: newFakeStore()}
	p2, addr2 := serveSnapshotter(t, st2, st2.fakeStore)
	fresh, err := NewReplica(ReplicaConfig{Addr: addr2, ID: "c", Slots: slots}, newFakeApplier())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	waitFor(t, "a replica with no copy synced", func() bool { return caughtUp(st2.fakeStore, fresh, slots) })
	reconnects := r.Stats().Reconnects
	addr.Store(addr2)
	p1.Close()
	waitFor(t, "handshakes refused", func() bool { return r.Stats().Reconnects >= reconnects+5 })
	checkCopyKept(t, r, ap, p1.ID(), want)
	if got := p2.Stats().FullSyncs; got != uint64(len(slots)) {
		t.Fatalf("%d snapshots sent, want %d (the replica with no copy's only)", got, len(slots))
	}

	st2.member.Store(true)
	waitFor(t, "synced once a member", func() bool { return caughtUp(st2.fakeStore, r, slots) })
	assertSame(t, st2.fakeStore, ap, slots)
}

// TestFailoverAdoptContinues: after a replica is promoted and adopts the
// old history, a sibling replica at the same position continues from the
// new primary without a snapshot, and ends identical to it.
func TestFailoverAdoptContinues(t *testing.T) {
	slots := []int{1, 2}
	st1 := newFakeStore()
	p1, addr1 := servePrimary(t, st1)
	prefill(st1, slots, 4)
	var addr atomic.Value
	addr.Store(addr1)
	apB, apC := newFakeApplier(), newFakeApplier()
	rb, err := NewReplica(ReplicaConfig{Addr: addr1, ID: "b", Slots: slots}, apB)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := NewReplica(ReplicaConfig{Addr: "moving", ID: "c", Slots: slots, Dial: movingDial(&addr),
		BackoffMin: time.Millisecond, BackoffMax: 10 * time.Millisecond}, apC)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var tok Token
	tok.Note(1, st1.set(1, "acked", "yes"))
	tok.Note(2, st1.set(2, "acked", "yes"))
	if got := p1.Wait(context.Background(), tok, 2); got != 2 {
		t.Fatalf("Wait = %d, want 2", got)
	}

	// Promote b: its store becomes the primary of slots 1 and 2.
	rb.Close()
	stB := storeFrom(apB, slots)
	p2, addr2 := servePrimary(t, stB)
	for _, s := range slots {
		hist, seq, live := rb.Position(s)
		if !live || hist != p1.ID() {
			t.Fatalf("slot %d: replica b at history %d live %v, want %d", s, hist, live, p1.ID())
		}
		p2.Adopt(s, hist, seq)
	}
	addr.Store(addr2)
	p1.Close()
	stB.set(1, "after", "failover")
	waitFor(t, "c follows the new primary", func() bool { return caughtUp(stB, rc, slots) })
	assertSame(t, stB, apC, slots)
	if s := p2.Stats(); s.FullSyncs != 0 || s.PartialSlots != 2 {
		t.Errorf("new primary stats %+v: want both slots continued, no snapshot", s)
	}
	if _, keys := apC.state(1); keys["acked"].v != "yes" {
		t.Error("acknowledged write missing after failover")
	}
}

// TestOneReplicaSeveralPrimaries: one node replicates disjoint slots of
// two primaries into one Applier, one link each.
func TestOneReplicaSeveralPrimaries(t *testing.T) {
	h1, h2 := newHarness(t, Config{}), newHarness(t, Config{})
	s1, s2 := slotRange(0, 20), slotRange(20, 40)
	prefill(h1.store, s1, 3)
	prefill(h2.store, s2, 3)
	ap := newFakeApplier()
	r1 := h1.replica("n", s1, ap, nil)
	r2 := h2.replica("n", s2, ap, nil)
	stop := make(chan struct{})
	w1, w2 := writers(h1.store, s1, 2, stop), writers(h2.store, s2, 2, stop)
	waitFor(t, "both links synced", func() bool { return r1.Stats().SlotsLive == 20 && r2.Stats().SlotsLive == 20 })
	close(stop)
	w1()
	w2()
	waitFor(t, "caught up", func() bool { return caughtUp(h1.store, r1, s1) && caughtUp(h2.store, r2, s2) })
	assertSame(t, h1.store, ap, s1)
	assertSame(t, h2.store, ap, s2)
}

// TestSealEndsStream: a primary that gives a slot up seals it; its replica
// learns the stream's last sequence number once it holds everything up to
// it (also for a slot that only arrived by snapshot), and a record written
// after the seal (the slot came back) ends it.
func TestSealEndsStream(t *testing.T) {
	h := newHarness(t, Config{})
	slots := []int{5, 6, 7}
	prefill(h.store, slots, 3)
	ap := newFakeApplier()
	r := h.replica("b", slots, ap, nil)
	waitFor(t, "synced", func() bool { return caughtUp(h.store, r, slots) })
	for i := range 50 {
		h.store.set(5, fmt.Sprintf("k%d", i), "v")
	}
	if _, ok := r.Sealed(5); ok {
		t.Fatal("slot 5 sealed before Seal")
	}
	seq := h.p.Seal(5)[0]
	if seq != h.store.seq(5) {
		t.Fatalf("Seal = %d, store at %d", seq, h.store.seq(5))
	}
	waitFor(t, "SEAL of slot 5", func() bool { s, ok := r.Sealed(5); return ok && s == seq })
	if _, applied, live := r.Position(5); !live || applied != seq {
		t.Fatalf("sealed at %d, replica at %d live %v", seq, applied, live)
	}
	if _, ok := r.Sealed(6); ok {
		t.Fatal("slot 6 sealed too")
	}
	h.store.set(5, "again", "v") // the slot's stream goes on
	waitFor(t, "seal ended", func() bool { _, ok := r.Sealed(5); return !ok && caughtUp(h.store, r, slots) })
	seq7 := h.p.Seal(7)[0]
	waitFor(t, "SEAL of slot 7", func() bool { s, ok := r.Sealed(7); return ok && s == seq7 })
	assertSame(t, h.store, ap, slots)
}

// ownerStore is a fakeStore that owns slot always from the start (Owner)
// and the others only once owns says so; asked records that a link asked
// about one of the others.
type ownerStore struct {
	*fakeStore
	always      int
	owns, asked atomic.Bool
}

func (o *ownerStore) Owns(slot int) bool {
	if slot == o.always {
		return true
	}
	o.asked.Store(true)
	return o.owns.Load()
}

// applierFrom builds a replica-side copy of slots of a primary's store.
func applierFrom(st *fakeStore, slots []int) *fakeApplier {
	ap := newFakeApplier()
	for _, s := range slots {
		ap.seq[s] = st.seq(s)
		ap.keys[s] = st.dump(s)
	}
	return ap
}

// TestSealedCopyResumesAtNewPrimary: a primary hands slots over to B (its
// replica) with a seal. A node A whose copy of the slots stands at the
// sealed positions (here the old primary's own store; in a cluster the
// slots' other replica, which stays in their row) follows them from B: its
// Replica (slots added by SetSlots on its running link to B, the positions
// from Resume) continues B's stream there without a snapshot and without
// a reconnect, although its FOLLOWs reach B before B adopted the
// positions (B's link waits for the Owner), and ends identical to B.
func TestSealedCopyResumesAtNewPrimary(t *testing.T) {
	slots := []int{1, 2}
	st1 := newFakeStore()
	p1, addr1 := servePrimary(t, st1)
	prefill(st1, slots, 4)
	apB := newFakeApplier()
	rb, err := NewReplica(ReplicaConfig{Addr: addr1, ID: "b", Slots: slots}, apB)
	if err != nil {
		t.Fatal(err)
	}
	defer rb.Close()
	waitFor(t, "b synced", func() bool { return caughtUp(st1, rb, slots) })
	sealed := map[int]uint64{}
	for i, seq := range p1.Seal(slots...) {
		sealed[slots[i]] = seq
	}
	waitFor(t, "b has the seals", func() bool {
		for _, s := range slots {
			if seq, ok := rb.Sealed(s); !ok || seq != sealed[s] {
				return false
			}
		}
		return true
	})
	apA := applierFrom(st1, slots) // A's copy of the slots it gave up

	// B, primary of the slots from now on, owns them only once it adopted.
	stB := &ownerStore{fakeStore: storeFrom(apB, slots), always: 9}
	p2, addr2 := serveSnapshotter(t, stB, stB.fakeStore)

	// A follows another slot of B already, and adds the handed-over ones.
	prefill(stB.fakeStore, []int{9}, 2)
	ra, err := NewReplica(ReplicaConfig{Addr: addr2, ID: "a", Slots: []int{9},
		Resume: func(s int) (uint64, uint64, bool) {
			seq, ok := sealed[s]
			return p1.ID(), seq, ok
		}}, apA)
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	waitFor(t, "a follows slot 9", func() bool { return caughtUp(stB.fakeStore, ra, []int{9}) })
	before, raBefore := p2.Stats(), ra.Stats()
	ra.SetSlots([]int{1, 2, 9})
	waitFor(t, "b's link waits for the slots", stB.asked.Load)
	for _, s := range slots {
		hist, seq, live := rb.Position(s)
		if !live || hist != p1.ID() || seq != sealed[s] {
			t.Fatalf("slot %d: b at history %d seq %d live %v, want %d at %d", s, hist, seq, live, p1.ID(), sealed[s])
		}
		p2.Adopt(s, hist, seq)
	}
	stB.owns.Store(true)
	stB.set(1, "after", "handover")
	all := []int{1, 2, 9}
	waitFor(t, "a follows b", func() bool { return caughtUp(stB.fakeStore, ra, all) })
	assertSame(t, stB.fakeStore, apA, all)
	if s := p2.Stats(); s.FullSyncs != before.FullSyncs || s.PartialSlots != before.PartialSlots+2 {
		t.Errorf("b's stats %+v, before a added the slots %+v: want both slots continued, no snapshot", s, before)
	}
	if s := ra.Stats(); s.Reconnects != raBefore.Reconnects || s.SlotChanges != raBefore.SlotChanges+1 {
		t.Errorf("a's stats %+v, before it added the slots %+v: want the change sent on the link, no reconnect", s, raBefore)
	}
	if v := apA.violations(); len(v) > 0 {
		t.Errorf("a's applier: %v", v)
	}
}
