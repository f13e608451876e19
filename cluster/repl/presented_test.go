package repl

import (
	"net"
	"testing"
	"time"
)

// TestPresentedUntilAnswered: a slot added to a Replica with a position
// from ReplicaConfig.Resume (a copy at its previous primary's seal) is
// presented at that position until the primary answers; with no primary
// to answer (here nobody listens), Presented still reports it after Close,
// for the node that takes the slot over, while Position does not count it
// live. A slot added without a position presents none.
func TestPresentedUntilAnswered(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	resume := func(s int) (hist, seq uint64, ok bool) {
		if s == 7 {
			return 41, 9, true
		}
		return 0, 0, false
	}
	r, err := NewReplica(ReplicaConfig{Addr: addr, Slots: []int{3}, Resume: resume, BackoffMin: time.Millisecond, BackoffMax: 5 * time.Millisecond}, newFakeApplier())
	if err != nil {
		t.Fatal(err)
	}
	r.SetSlots([]int{3, 7, 8})
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if hist, seq, ok := r.Presented(7); !ok || hist != 41 || seq != 9 {
		t.Fatalf("Presented(7) = %d, %d, %v; want 41, 9, true", hist, seq, ok)
	}
	if _, _, live := r.Position(7); live {
		t.Fatal("a slot presented without an answer counts as live")
	}
	if _, _, ok := r.Presented(8); ok {
		t.Fatal("a slot added without a position presents one")
	}
}
