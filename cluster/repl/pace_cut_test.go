package repl

import (
	"net"
	"strconv"
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
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	args := [][]byte{[]byte(fSync), nil, []byte("r1")}
	for _, s := range slots {
		args = append(args, []byte(strconv.Itoa(s)), []byte("0"), []byte("0"))
	}
	w := connWriter{conn: c, timeout: 10 * time.Second}
	w.buf = appendCommand(w.buf, args)
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	fr := newFrameReader(c, 1<<20+recFields, 1<<20, 64<<20, 20*time.Second)
	if a, err := fr.read(); err != nil || string(a[0]) != "OK" {
		t.Fatalf("handshake answer %q, %v", a, err)
	}
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

// TestHurryEndsReplicaRest: a replica resting between the slots it loads
// (a rest of a minute) takes the SEAL queued behind them once BeginHurry
// is called, and loads the rest of its slots without resting.
func TestHurryEndsReplicaRest(t *testing.T) {
	h := newHarness(t, Config{})
	slots := slotRange(0, 20)
	prefill(h.store, slots, 5)
	h.p.Seal(0) // sent after slot 0's snapshot
	pc := NewPacer(time.Microsecond, time.Minute)
	ap := newFakeApplier()
	r, err := NewReplica(ReplicaConfig{Addr: h.addr, ID: "r1", Slots: slots, Logger: testLogger(t), Pacer: pc}, ap)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	waitFor(t, "the replica rests after its first slot", func() bool { return restsBegun(pc) > 0 })
	if _, ok := r.Sealed(0); ok {
		t.Fatal("the replica took the SEAL while it rests")
	}
	r.BeginHurry()
	waitFor(t, "the SEAL and every slot, hurried", func() bool {
		_, ok := r.Sealed(0)
		return ok && r.Stats().SlotsLive == len(slots)
	})
	r.EndHurry()
	if n := restsBegun(pc); n != 1 {
		t.Errorf("%d rests begun, want 1 (none while hurried)", n)
	}
	assertSame(t, h.store, ap, slots)
}
