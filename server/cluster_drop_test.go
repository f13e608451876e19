package server

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/store"
)

// writeSlotKeys writes keys into the slots [lo, hi) of s's store, at least one
// per slot, and returns them by slot.
func writeSlotKeys(t *testing.T, s *Server, lo, hi int) map[int][][]byte {
	t.Helper()
	keysOf := map[int][][]byte{}
	for i := 0; len(keysOf) < hi-lo || i < 100*(hi-lo); i++ {
		k := fmt.Appendf(nil, "k%d", i)
		slot := store.KeySlot(k)
		if slot < lo || slot >= hi {
			continue
		}
		s.store.Set(0, k, []byte("v"), 0, 0, "set")
		keysOf[slot] = append(keysOf[slot], k)
		if i > 10_000_000 {
			t.Fatal("no key found for every slot")
		}
	}
	return keysOf
}

// busy reports whether d's goroutine runs.
func (d *slotDropper) busy() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running
}

// idle reports whether d has no slot queued and its goroutine has ended.
func (d *slotDropper) idle() bool { return d.pendingSlots() == 0 && !d.busy() }

// storeHas reports whether key k is in s's store.
func storeHas(s *Server, k []byte) bool {
	_, ok, _ := s.store.Get(0, k, nil)
	return ok
}

// TestDropLostSlotsInBackground drops lost slots: the keys of a lost slot
// the current view gives back to the node (after a version gap every
// owned slot counts as lost) are gone when dropLostSlots returns, the
// other lost slots' keys go in the background, and the keys of slots not
// lost, or lost and now a replica's copy, stay.
func TestDropLostSlotsInBackground(t *testing.T) {
	s := startServer(t, nil)
	cs := &clusterState{s: s}
	cs.initDrops()
	t.Cleanup(cs.drops.close)
	ms := []cluster.Member{{ID: fmt.Sprintf("%040x", 1), Host: "127.0.0.1", Port: 7000},
		{ID: fmt.Sprintf("%040x", 2), Host: "127.0.0.1", Port: 7001}}
	tab := cluster.BuildTable(ms, 0, 2)
	self := ms[0].ID // the member that does not own slot 100
	if tab.Owner(100).ID == self {
		self = ms[1].ID
	}
	back := tab.Ranges(self)[0].Start // a slot the view gives this node
	cs.view.Store(newClusterView(tab, self))

	keysOf := writeSlotKeys(t, s, 100, 140)
	for slot, keys := range writeSlotKeys(t, s, back, back+4) {
		keysOf[slot] = keys
	}
	s.store.SetReplicaSlot(110, true)
	cs.dropLostSlots([]cluster.SlotRange{{Start: 100, End: 119}, {Start: 125, End: 125}, {Start: back, End: back + 1}})
	for _, slot := range []int{back, back + 1} {
		for _, k := range keysOf[slot] {
			if storeHas(s, k) {
				t.Fatalf("slot %d, given back, still has %s after dropLostSlots", slot, k)
			}
		}
	}
	pollFor(t, "every queued slot dropped", cs.drops.idle)
	want := 0
	for slot, keys := range keysOf {
		dropped := slot >= 100 && slot < 120 && slot != 110 || slot == 125 || slot == back || slot == back+1
		if dropped {
			want += len(keys)
		}
		for _, k := range keys {
			if storeHas(s, k) == dropped {
				t.Fatalf("slot %d (dropped %v): key %s present %v", slot, dropped, k, !dropped)
			}
		}
	}
	if got := cs.lostKeys.Load(); got != uint64(want) || want == 0 {
		t.Fatalf("dropped %d keys, want %d", got, want)
	}
}

// heldDropper returns a dropper of s's store that adds the keys it drops
// to *count; its goroutine stops in that count after its first slot,
// closes inside, and goes on once release is closed (so the goroutine and
// a claim never count at the same time).
func heldDropper(s *Server, count *int) (d *slotDropper, inside, release chan struct{}) {
	d = &slotDropper{st: s.store}
	inside, release = make(chan struct{}), make(chan struct{})
	var first atomic.Bool
	d.dropped = func(n int) {
		*count += n
		if first.CompareAndSwap(false, true) {
			close(inside)
			<-release
		}
	}
	return d, inside, release
}

// TestSlotDropperClaim holds the dropper inside the drop of one slot and
// claims that slot and another queued one: the queued one is flushed by
// the claim itself, the one under way is waited for, and keys written to
// a claimed slot afterwards are never dropped by the background.
func TestSlotDropperClaim(t *testing.T) {
	s := startServer(t, nil)
	keysOf := writeSlotKeys(t, s, 200, 204)
	total := 0
	d, inside, release := heldDropper(s, &total)
	t.Cleanup(d.close)
	d.drop([]int{200, 201, 202})
	<-inside // the goroutine dropped 200 and waits in dropped, 200 still current

	d.claim(201) // queued: flushed here
	for _, k := range keysOf[201] {
		if storeHas(s, k) {
			t.Fatalf("claimed slot 201 still has %s", k)
		}
	}
	fresh := []byte(nil)
	for i := 0; fresh == nil; i++ {
		if k := fmt.Appendf(nil, "fresh%d", i); store.KeySlot(k) == 201 {
			fresh = k
		}
	}
	s.store.Set(0, fresh, []byte("new"), 0, 0, "set")

	claimed := make(chan struct{})
	go func() { d.claim(200); close(claimed) }()
	close(release) // the drop of 200 ends; the claim returns after it
	select {
	case <-claimed:
	case <-time.After(20 * time.Second):
		t.Fatal("claim of the slot under way did not return")
	}
	pollFor(t, "every queued slot dropped", d.idle)
	if !storeHas(s, fresh) {
		t.Fatal("a key written to slot 201 after its claim was dropped")
	}
	for _, slot := range []int{200, 202} {
		for _, k := range keysOf[slot] {
			if storeHas(s, k) {
				t.Fatalf("slot %d still has %s", slot, k)
			}
		}
	}
	for _, k := range keysOf[203] {
		if !storeHas(s, k) {
			t.Fatalf("slot 203, never queued, lost %s", k)
		}
	}
	if want := len(keysOf[200]) + len(keysOf[201]) + len(keysOf[202]); total != want {
		t.Fatalf("counted %d keys dropped, want %d", total, want)
	}
}

// TestSlotDropperClose stops the dropper while slots are queued: close
// returns once the slot under way is done, and the rest are not dropped.
func TestSlotDropperClose(t *testing.T) {
	s := startServer(t, nil)
	keysOf := writeSlotKeys(t, s, 300, 310)
	total := 0
	d, inside, release := heldDropper(s, &total)
	slots := make([]int, 0, 10)
	for s := 300; s < 310; s++ {
		slots = append(slots, s)
	}
	d.drop(slots)
	<-inside
	closed := make(chan struct{})
	go func() { d.close(); close(closed) }()
	pollFor(t, "the dropper marked closed", func() bool { // before the slot under way ends
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.closed
	})
	close(release)
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		t.Fatal("close did not return")
	}
	if d.busy() {
		t.Fatal("the dropper runs after close")
	}
	kept := 0
	for _, keys := range keysOf {
		for _, k := range keys {
			if storeHas(s, k) {
				kept++
			}
		}
	}
	if kept == 0 {
		t.Fatal("close dropped every queued slot")
	}
	d.drop([]int{300})
	if d.busy() || d.pendingSlots() != 0 {
		t.Fatal("a closed dropper took new slots")
	}
}
