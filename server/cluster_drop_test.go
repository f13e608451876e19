package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/store"
)

// TestDropLostSlotsPaced drops lost slots through the pacer: every key of
// the lost slots goes, the keys of other slots and of a lost slot that is
// now a replica's copy stay.
func TestDropLostSlotsPaced(t *testing.T) {
	s := startServer(t, nil)
	cs := &clusterState{s: s}
	keysOf := map[int][][]byte{}
	for i := 0; len(keysOf) < 40 || i < 4000; i++ {
		k := fmt.Appendf(nil, "k%d", i)
		slot := store.KeySlot(k)
		if slot < 100 || slot >= 140 {
			continue
		}
		s.store.Set(0, k, []byte("v"), 0, 0, "set")
		keysOf[slot] = append(keysOf[slot], k)
	}
	s.store.SetReplicaSlot(110, true)
	cs.dropLostSlots([]cluster.SlotRange{{Start: 100, End: 119}, {Start: 125, End: 125}})
	want := 0
	for slot, keys := range keysOf {
		lost := slot >= 100 && slot < 120 && slot != 110 || slot == 125
		if lost {
			want += len(keys)
		}
		for _, k := range keys {
			if _, ok, _ := s.store.Get(0, k, nil); ok == lost {
				t.Fatalf("slot %d (lost %v): key %s present %v", slot, lost, k, ok)
			}
		}
	}
	if got := cs.lostKeys.Load(); got != uint64(want) || want == 0 {
		t.Fatalf("dropped %d keys, want %d", got, want)
	}
}

// TestDropPacerRests runs the pacer on a fake clock: it yields after every
// slot within dropWork and rests dropRest after each dropWork of work; when
// a rest oversleeps, it rests less often, within a quarter of the work.
func TestDropPacerRests(t *testing.T) {
	for _, slept := range []time.Duration{dropRest, 5 * dropRest} {
		now := time.Unix(0, 0)
		var yields, rests int
		var rested time.Duration
		p := &dropPacer{
			now:   func() time.Time { return now },
			sleep: func(d time.Duration) { rests++; rested += slept; now = now.Add(slept) },
			yield: func() { yields++ },
			since: now,
		}
		const steps = 1000
		for range steps {
			now = now.Add(dropWork / 10) // a slot's drop
			p.step()
		}
		work := steps * dropWork / 10
		if rests == 0 || yields != steps-rests || rested > work/4+slept {
			t.Fatalf("rests of %v: %d steps of %v: %d rests (%v), %d yields", slept, steps, dropWork/10, rests, rested, yields)
		}
		if slept == dropRest && rests != int(work/dropWork) {
			t.Fatalf("%d rests for %v of work, want one per %v", rests, work, dropWork)
		}
	}
	// A long drop rests dropRestMax in all (plus one rest).
	now := time.Unix(0, 0)
	var rested time.Duration
	p := &dropPacer{now: func() time.Time { return now }, since: now, yield: func() {},
		sleep: func(d time.Duration) { rested += d; now = now.Add(d) }}
	for range 100_000 {
		now = now.Add(dropWork / 2)
		p.step()
	}
	if rested < dropRestMax || rested > dropRestMax+dropRest {
		t.Fatalf("a drop of %v rested %v, want %v", 100_000*dropWork/2, rested, dropRestMax)
	}
}
