package server

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/cluster"
)

// TestLeaveListedNeverTurnsOK checks leaveUnplanned's give-up for a
// joiner that is already listed when it is asked to stop: the table that
// planned it in reached it before the stop, but the node has never been
// ok, and it stays not ok for the whole plannedInGrace after the stop.
// Such a node is a joiner, not a member cut off, so it must set its leave
// flag and wait for ok (as in TestLeaveListedBeforeStopTurnsOK); when the
// grace ends it serves nothing, so it must hand nothing over, say so
// ("planned in, but the node did not turn ok") and stop. The other two
// then own every slot, and every key written with WAIT 1 0 before the
// join reads back from them. TestLeaveListedButNotOK reaches the same
// give-up with a table that arrives only after the stop; here the node is
// listed from the stop's first look on (the order of soak seed 678, see
// TestLeaveListedBeforeStopTurnsOK), so the grace starts with the stop.
//
// The order is made by holding messages and a subscriber, not by timing.
// newHeldJoin holds the joiner's gossip both ways; the test lets the
// table that planned it in through to the joiner (h.to) while what the
// joiner sends stays held (h.from), so no leave flag reaches the
// coordinator before the stop has given up. holdListing keeps the joiner
// from turning ok: a node turns ok only once its subscribers have the
// table, and the test's subscriber blocks on the first table listing the
// joiner until the stop has given up. The test reads the log once
// handOff has returned (Shutdown then closes the client listener), so a
// stop that goes on to hand over, or gives up silently, fails it too.
// What is left to time is the siblings': the others do not declare the
// joiner dead while what it sends is held (they probe every 3 s, so that
// takes some 12 s of suspicion, where the hold lasts the 1 s grace and a
// little more).
func TestLeaveListedNeverTurnsOK(t *testing.T) {
	j := newHeldJoin(t)
	c, cn, logFile := j.c, j.cn, j.logFile
	listedIn, letGo := holdListing(t, cn)

	j.listedBeforeStop(t, listedIn)

	stopped := make(chan error, 1)
	go func() { stopped <- c.Shutdown("test") }()
	asked := time.Now()
	// Shutdown closes the client listener once handOff has returned, so
	// the log read then holds all that handOff wrote: what it decided, and
	// a hand-over it went on to, or its silence.
	serving := func() bool {
		conn, err := net.DialTimeout("tcp", c.Addr(), time.Second)
		if err != nil {
			return false
		}
		_ = conn.Close()
		return true
	}
	pollFor(t, "the stop is done with handOff (the client listener closes)", func() bool { return !serving() })
	took := time.Since(asked)
	logs := readLog(t, logFile)
	const notOK = "cluster: not handing slots over before leaving: planned in, but the node did not turn ok; its replicas take its slots over"
	if !cn.Leaving() {
		t.Fatalf("the joiner stopped without its leave flag: it was taken for a member cut off:\n%s", logs)
	}
	if st := cn.State(); st == cluster.StateOK || cn.BeenOK() {
		t.Fatalf("the joiner turned ok (%v) although its subscribers do not have the table that lists it:\n%s", st, logs)
	}
	if !strings.Contains(logs, notOK) {
		t.Fatalf("the log does not say %q:\n%s", notOK, logs)
	}
	if strings.Contains(logs, "the node is not ok") || strings.Contains(logs, "nothing to hand over") ||
		strings.Contains(logs, "cluster: handing slots over before leaving") || c.handoff.leaveStarted.Load() != 0 {
		t.Fatalf("the joiner, listed and never ok, handed over or was taken for a member cut off or not planned in:\n%s", logs)
	}
	t.Logf("the stop gave up %v after it was asked; the joiner's table v%d, %v",
		took.Round(time.Millisecond), cn.Table().Version(), cn.State())

	j.gaveUp(t, stopped, letGo)
}
