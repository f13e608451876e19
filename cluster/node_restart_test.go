package cluster

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRestartUnderOldIDPlannedOutFirst: a member crashes and its ID
// starts again at once at the same gossip address (memberlist takes the
// new process for the old one, so no failure is ever detected). The
// restarted node must neither reach StateOK nor pass its subscribers (or
// give as ServedTable) a table that lists it before it has adopted one
// without it (it has none of the old member's data); the cluster must plan
// it out and back in, and converge with it. With 2 nodes the survivor alone is no majority of the
// table: the restarted member, alive, counts for it (reachableLocked);
// before it did, the two never agreed again.
func TestRestartUnderOldIDPlannedOutFirst(t *testing.T) {
	for _, n := range []int{2, 3} {
		t.Run(strconv.Itoa(n), func(t *testing.T) { testRestartUnderOldID(t, n) })
	}
}

func testRestartUnderOldID(t *testing.T, n int) {
	nodes := startCluster(t, n, Config{Replicas: 1, StageMoves: true})
	waitConverged(t, nodes, "convergence")
	victim := nodes[n-1]
	id := victim.ID()
	_, portStr, _ := net.SplitHostPort(victim.GossipAddr())
	port, _ := strconv.Atoi(portStr)
	if err := victim.crash(); err != nil {
		t.Fatal(err)
	}
	again := startNode(t, Config{Replicas: 1, StageMoves: true, NodeID: id, BindPort: port, AnnouncePort: 7002,
		Join: []string{nodes[0].GossipAddr()}})
	var mu sync.Mutex
	var plannedOut bool
	var bad string
	again.Subscribe(func(tab *Table) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case tab.Version() == 0: // the empty table it starts with
		case tab.IndexOf(id) < 0:
			plannedOut = true
		case !plannedOut && bad == "":
			bad = "its subscribers got table " + strconv.FormatUint(tab.Version(), 10) + ", which lists it, before one without it"
		}
	})
	all := append(slices.Clone(nodes[:n-1]), again)
	deadline := time.Now().Add(detectWithin)
	for !converged(all) || again.State() != StateOK {
		mu.Lock()
		if st := again.State(); st == StateOK && !plannedOut && bad == "" {
			bad = "it was ok (table " + strconv.FormatUint(again.Table().Version(), 10) + ") before it adopted a table without it"
		}
		// Restarted after ServedTable: it was restarted while the table was read.
		if served := again.ServedTable(); again.Restarted() && served.IndexOf(id) >= 0 && bad == "" {
			bad = "ServedTable gave table " + strconv.FormatUint(served.Version(), 10) + ", which lists it, while it was restarted"
		}
		mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("not converged with the restarted node within %v; views:%s", detectWithin, views(all))
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if bad != "" {
		t.Errorf("the restarted node: %s", bad)
	}
	if !plannedOut {
		t.Errorf("the restarted node never adopted a table without itself")
	}
}

// TestNoPlanBehindReportedTable: a coordinator that sees a live member
// report holdings for a newer table than its own does not plan (it is
// behind; a seedless node restarted at a member's address saw the
// cluster's members by their gossip first and planned a table with them,
// docs/cluster.md "A seedless node restarted at its address"), and plans
// as before once no member reports a newer table.
func TestNoPlanBehindReportedTable(t *testing.T) {
	n := startNode(t, Config{Replicas: 1})
	waitFor(t, 5*time.Second, "its own table", func() bool { return n.Table().Version() >= 1 })
	other := Member{ID: strings.Repeat("f", 40), Host: "127.0.0.1", Port: 7999, GossipAddr: "127.0.0.1:7998"}
	n.mu.Lock()
	defer n.mu.Unlock()
	cur := n.table.Load()
	n.seen[other.ID] = other
	defer delete(n.seen, other.ID)
	n.dirty = true
	if !n.needsPlanLocked() {
		t.Fatalf("table %d, a new member seen: no plan needed", cur.Version())
	}
	n.reports[other.ID] = holding{version: cur.Version() + 3}
	defer delete(n.reports, other.ID)
	if n.needsPlanLocked() {
		t.Fatalf("table %d, a member reports table %d: a plan is still needed", cur.Version(), cur.Version()+3)
	}
	n.reports[other.ID] = holding{version: cur.Version()}
	if !n.needsPlanLocked() {
		t.Fatalf("table %d, the member reports the same: no plan needed", cur.Version())
	}
}
