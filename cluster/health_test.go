package cluster

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
)

// TestStateOKOnlyAfterSubscribersHaveTable checks that a node turning
// StateOK together with a new table (here: a joining node planned in) keeps
// its old state until the subscribers have that table: routing must never
// serve by the table from before while the state already says ok. A node
// thawed after SIGSTOP takes the same step when its re-sync brings a table
// that plans it back in.
func TestStateOKOnlyAfterSubscribersHaveTable(t *testing.T) {
	// The lower ID makes a the coordinator: it plans the late node in.
	a := startNode(t, Config{NodeID: strings.Repeat("1", 40), AnnouncePort: 7000})
	// A seed nobody listens on keeps the late node joining until the
	// explicit Join below, after its subscriber is registered.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	_ = l.Close()
	late := startNode(t, Config{NodeID: strings.Repeat("2", 40), AnnouncePort: 7001, Join: []string{dead}})
	if st := late.State(); st != StateJoining {
		t.Fatalf("late node is %v before joining, want joining", st)
	}
	var seen atomic.Bool
	var stateThen atomic.Int32
	late.Subscribe(func(tab *Table) {
		if tab.IndexOf(late.ID()) >= 0 && !seen.Load() {
			stateThen.Store(int32(late.State()))
			seen.Store(true)
		}
	})
	if _, err := late.Join([]string{a.GossipAddr()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, convergeWithin, "the late node's subscriber gets a table with it", seen.Load)
	if st := State(stateThen.Load()); st == StateOK {
		t.Fatalf("state was %v while the subscriber received the first table with the node", st)
	}
	waitFor(t, convergeWithin, "the late node turns ok", func() bool { return late.State() == StateOK })
}

// TestStateAtPause checks StateAt's pause check: by a clock reading within
// pauseAfter of the health loop's last check the node's state shows; by
// one past it (the process was paused, the loop has not run since) the
// node is StateNoQuorum, as State is after a real pause.
func TestStateAtPause(t *testing.T) {
	n := startNode(t, Config{NodeID: strings.Repeat("3", 40), AnnouncePort: 7002})
	waitFor(t, convergeWithin, "the node turns ok", func() bool { return n.State() == StateOK })
	// The loop (or watchLoop) may stamp a newer check between the reads:
	// the readings count only when the stamp stood still meanwhile.
	for range 1000 {
		checked := n.checked.Load()
		atCheck, past := n.StateAt(checked), n.StateAt(checked+int64(n.pauseAfter())+1)
		if n.checked.Load() != checked {
			continue
		}
		if atCheck != StateOK {
			t.Fatalf("StateAt(the last check) = %v, want ok", atCheck)
		}
		if past != StateNoQuorum {
			t.Fatalf("StateAt(pauseAfter past the last check) = %v, want no-quorum", past)
		}
		return
	}
	t.Fatal("the check's stamp moved during every one of 1000 readings")
}
