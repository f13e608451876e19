package repl

import (
	"testing"
	"time"
)

// restsBegun returns how many rests p began.
func restsBegun(p *Pacer) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rests
}

// TestSealEndsLinkRest: a link resting between snapshots (a Pacer whose
// rest is a minute) sends a seal made meanwhile at once, not after the
// rest: the slot's next primary holds its clients until the seal arrives.
func TestSealEndsLinkRest(t *testing.T) {
	pc := NewPacer(time.Microsecond, time.Minute)
	h := newHarness(t, Config{Pacer: pc})
	slots := slotRange(0, 20)
	prefill(h.store, slots, 5)
	fr, _ := rawSync(t, h.addr, slots, 20*time.Second)
	waitFor(t, "the link rests after its first slot", func() bool { return restsBegun(pc) > 0 })
	h.p.Seal(0)
	snapEnds := 0
	for {
		a, err := fr.read()
		if err != nil {
			t.Fatalf("no SEAL after %d SNAPENDs (the link still rests?): %v", snapEnds, err)
		}
		switch string(a[0]) {
		case fSnapEnd:
			snapEnds++
		case fSeal:
			if string(a[1]) != "0" {
				t.Fatalf("SEAL of slot %s, want 0", a[1])
			}
			if snapEnds >= len(slots) {
				t.Fatalf("the SEAL came after all %d snapshots: the link did not rest", snapEnds)
			}
			return
		}
	}
}

// TestCloseEndsRests: closing a Replica, and a Primary, whose loop rests
// between slots (a rest of a minute) returns without waiting for the rest.
func TestCloseEndsRests(t *testing.T) {
	closed := func(closer func() error) func() bool {
		done := make(chan struct{})
		go func() { _ = closer(); close(done) }()
		return func() bool {
			select {
			case <-done:
				return true
			default:
				return false
			}
		}
	}
	slots := slotRange(0, 20)
	t.Run("replica", func(t *testing.T) {
		h := newHarness(t, Config{})
		prefill(h.store, slots, 5)
		pc := NewPacer(time.Microsecond, time.Minute)
		ap := newFakeApplier()
		r, err := NewReplica(ReplicaConfig{Addr: h.addr, ID: "r1", Slots: slots, Logger: testLogger(t), Pacer: pc}, ap)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the replica rests", func() bool { return restsBegun(pc) > 0 })
		if n := r.Stats().SlotsLive; n == len(slots) {
			t.Fatalf("all %d slots live: the replica did not rest", n)
		}
		waitFor(t, "the replica's Close, during a rest", closed(r.Close))
	})
	t.Run("primary", func(t *testing.T) {
		pc := NewPacer(time.Microsecond, time.Minute)
		h := newHarness(t, Config{Pacer: pc})
		prefill(h.store, slots, 5)
		r, err := NewReplica(ReplicaConfig{Addr: h.addr, ID: "r1", Slots: slots, Logger: testLogger(t)}, newFakeApplier())
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		waitFor(t, "the link rests", func() bool { return restsBegun(pc) > 0 })
		waitFor(t, "the primary's Close, during a rest", closed(h.p.Close))
	})
}
