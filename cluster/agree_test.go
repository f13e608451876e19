package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// agreed waits until nodes agree on one table (same version, planner and
// assignment, exactly these members) and returns it.
func agreed(t *testing.T, nodes []*Node, what string) *Table {
	t.Helper()
	waitConverged(t, nodes, what)
	return nodes[0].Table()
}

// checkStep asserts that next is a planned successor of prev: a higher
// version, balanced, and with at most 1.2× the ideal share of primaries
// moved (so it was planned from prev, not from scratch).
func checkStep(t *testing.T, what string, prev, next *Table) {
	t.Helper()
	if next.Version() <= prev.Version() {
		t.Fatalf("%s: version %d after %d", what, next.Version(), prev.Version())
	}
	checkTable(t, what, prev, next) // a failover plan moves exactly the dead node's primaries
	ideal := float64(NumSlots) / float64(max(prev.Len(), next.Len()))
	if got := float64(primaryMoves(prev, next)); got > 1.2*ideal && promotedSlots(prev, next) == 0 {
		t.Fatalf("%s: %.0f primaries moved, ideal %.0f", what, got, ideal)
	}
	if pr := primaryRanges(next); pr > 6*next.Len() { // as in TestPlanRandomWalk
		t.Fatalf("%s: %d primary ranges for %d members", what, pr, next.Len())
	}
}

// TestAgreement runs 3- and 5-node clusters (one replica) through joins,
// a graceful leave and a crash; after each, every node holds the same
// table (same version), and each agreed table is the planned successor of
// the previous one.
func TestAgreement(t *testing.T) {
	for _, k := range []int{3, 5} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			// Slower failure detection than the default, so that a busy
			// machine (-race, shared cores) does not make a live node look
			// dead and add plans between the steps measured.
			cfg := Config{Replicas: 1, ProbeInterval: 500 * time.Millisecond, ProbeTimeout: 400 * time.Millisecond, SuspicionMult: 6}
			nodes := startCluster(t, k, cfg)
			prev := agreed(t, nodes, "start")
			if prev.Replicas() != 1 || prev.width != 2 {
				t.Fatalf("agreed table has %d replicas", prev.Replicas())
			}

			// A node with the lowest ID joins: it becomes the coordinator,
			// and must plan from the cluster's table, not from its own.
			c := cfg
			c.NodeID, c.AnnouncePort, c.Join = strings.Repeat("0", 40), 7500, []string{nodes[k-1].GossipAddr()}
			nodes = append(nodes, startNode(t, c))
			next := agreed(t, nodes, "lowest-ID join")
			if next.Planner() != c.NodeID {
				t.Fatalf("planned by %s, want the new coordinator", next.Planner())
			}
			checkStep(t, "lowest-ID join", prev, next)
			prev = next

			c.NodeID, c.AnnouncePort = "", 7501
			nodes = append(nodes, startNode(t, c))
			next = agreed(t, nodes, "second join")
			checkStep(t, "second join", prev, next)
			prev = next

			// The coordinator leaves gracefully: the next lowest takes over.
			if err := nodes[k].Close(); err != nil {
				t.Fatal(err)
			}
			nodes = append(nodes[:k], nodes[k+1:]...)
			next = agreed(t, nodes, "coordinator leave")
			checkStep(t, "coordinator leave", prev, next)
			prev = next

			if err := nodes[1].crash(); err != nil {
				t.Fatal(err)
			}
			nodes = append(nodes[:1], nodes[2:]...)
			waitFor(t, detectWithin, "agreement after a crash", func() bool { return converged(nodes) })
			checkStep(t, "crash", prev, nodes[0].Table())
		})
	}
}

// TestNewerOrder checks the total order nodes adopt tables by.
func TestNewerOrder(t *testing.T) {
	ms := testMembers(3, 3)
	mk := func(v uint64, planner string, members []Member) (*Table, []byte) {
		tab := BuildTable(members, 1, v)
		tab.planner = planner
		return tab, encodeTable(tab)
	}
	lo, hi := ms[0].ID, ms[1].ID
	if lo > hi {
		lo, hi = hi, lo
	}
	a, ae := mk(5, hi, ms)
	b, be := mk(4, lo, ms)
	c, ce := mk(5, lo, ms)
	d, de := mk(5, lo, ms[:2])
	switch {
	case !newer(a, b, ae, be) || newer(b, a, be, ae):
		t.Fatal("higher version must win")
	case !newer(c, a, ce, ae) || newer(a, c, ae, ce):
		t.Fatal("same version: lower planner ID must win")
	case newer(c, d, ce, de) == newer(d, c, de, ce):
		t.Fatal("same version and planner: exactly one must win")
	case newer(c, c, ce, ce):
		t.Fatal("a table is not newer than itself")
	}
	// The term ranks above the planner at one version, below the version.
	e, _ := mk(5, hi, ms)
	e.term = 1
	ee := encodeTable(e)
	switch {
	case !newer(e, c, ee, ce) || newer(c, e, ce, ee):
		t.Fatal("same version: the higher term must win over a lower planner ID")
	case !newer(e, b, ee, be) || newer(b, e, be, ee):
		t.Fatal("a higher version must win whatever the terms")
	}
	b.term = 7
	be = encodeTable(b)
	if !newer(e, b, ee, be) || newer(b, e, be, ee) {
		t.Fatal("a higher version must win over a higher term")
	}
}

// TestNextTerm: a node keeps the term of a table it planned itself and
// takes the next one when it plans from another planner's table.
func TestNextTerm(t *testing.T) {
	ms := testMembers(2, 2)
	cur := BuildTable(ms, 0, 3)
	cur.planner, cur.term = ms[0].ID, 4
	if got := nextTerm(cur, ms[0].ID); got != 4 {
		t.Errorf("the planner continues: term %d, want 4", got)
	}
	if got := nextTerm(cur, ms[1].ID); got != 5 {
		t.Errorf("another node takes over: term %d, want 5", got)
	}
}
