package cluster

import (
	"testing"
	"time"
)

// TestCatchUpPushOnHeartbeat: a heartbeat from a member that an earlier
// table included and the current one does not (re-planned away while it
// was cut off) makes the node push its table to it, at most once per
// catchUpEvery; a heartbeat from a member of the table, from an unknown
// sender, or from a banned one pushes nothing.
func TestCatchUpPushOnHeartbeat(t *testing.T) {
	a := startNode(t, Config{})
	b := startNode(t, Config{})
	now := time.Now()
	a.mu.Lock()
	a.known[b.ID()] = b.GossipAddr() // b was in an earlier table of a's
	a.mu.Unlock()

	a.receiveBeat(a.ID()) // a member of the table (itself)
	a.receiveBeat("unknown-member")
	if got := CatchUps(a); got != 0 {
		t.Fatalf("%d pushes for heartbeats from a member of the table and from an unknown sender", got)
	}
	a.receiveBeat(b.ID())
	if got := CatchUps(a); got != 1 {
		t.Fatalf("%d pushes after a heartbeat from a member outside the table, want 1", got)
	}
	a.receiveBeat(b.ID())
	if got := CatchUps(a); got != 1 {
		t.Fatalf("%d pushes after a second heartbeat within catchUpEvery, want still 1", got)
	}
	// catchUpEvery later, the next heartbeat pushes again.
	a.mu.Lock()
	a.caughtUp[b.ID()] = now.Add(-catchUpEvery)
	a.mu.Unlock()
	a.receiveBeat(b.ID())
	if got := CatchUps(a); got != 2 {
		t.Fatalf("%d pushes after a heartbeat catchUpEvery later, want 2", got)
	}
	// A banned (forgotten) member gets nothing.
	a.mu.Lock()
	a.caughtUp[b.ID()] = now.Add(-catchUpEvery)
	a.banned[b.ID()] = time.Now().Add(time.Minute)
	a.mu.Unlock()
	a.receiveBeat(b.ID())
	if got := CatchUps(a); got != 2 {
		t.Fatalf("%d pushes after a heartbeat from a banned member, want 2", got)
	}
}
