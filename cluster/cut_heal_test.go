package cluster_test

import (
	"testing"
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/cluster/clustertest"
)

// TestShortCutHealFigures: a node cut off for about as long as the
// majority takes to re-plan its slots away (≈ 1.3 s), shorter than its
// own 3 s heartbeat window, never notices the cut: after the heal it
// serves its old table until the majority's table reaches it. The test
// cuts one node of 3 and of 5, heals as soon as the majority re-planned,
// and waits (bounded) until the cut node holds the majority's table; it
// logs how long the cut node kept the old table after the heal, and how
// many times the majority pushed its table to the cut node on hearing from
// it again (catchUpLocked). The figures are in docs/cluster.md.
func TestShortCutHealFigures(t *testing.T) {
	for _, k := range []int{3, 5} {
		nw := clustertest.NewNet()
		nodes := startNet(t, nw, k)
		poll(t, "the nodes agree", func() bool { return agreed(nodes) })
		lowestFirst(nodes) // the coordinator stays on the majority side
		iso := nodes[k-1]
		var rest []string
		for _, n := range nodes[:k-1] {
			rest = append(rest, n.GossipAddr())
		}
		v := nodes[0].Table().Version()
		start := time.Now()
		nw.Partition([]string{iso.GossipAddr()}, rest)
		poll(t, "the majority re-plans", func() bool { return nodes[0].Table().Version() > v })
		replanned := time.Since(start)
		// Heal 2 s after the cut (if the re-plan came earlier): the
		// table's gossip retransmits are spent by then, and the cut node's
		// heartbeat window (3 s) has not run out.
		poll(t, "2 s since the cut", func() bool { return time.Since(start) >= 2*time.Second })
		want := nodes[0].Table().Version()
		inTable := nodes[0].Table().IndexOf(iso.ID()) >= 0
		stateAtHeal := iso.State()
		if stateAtHeal != cluster.StateOK {
			t.Logf("%d nodes: the cut node had stopped (%v) before the heal: not the case measured", k, stateAtHeal)
		}
		nw.Heal()
		healed := time.Now()
		poll(t, "the cut node holds the majority's table", func() bool { return iso.Table().Version() >= want })
		gap := time.Since(healed)
		var pushes int64
		for _, n := range nodes[:k-1] {
			pushes += cluster.CatchUps(n)
		}
		t.Logf("%d nodes: re-planned %v after the cut, healed %v after it (cut node %v); the cut node kept its old table %v after the heal; in table %v; %d catch-up pushes",
			k, replanned.Round(time.Millisecond), healed.Sub(start).Round(time.Millisecond), stateAtHeal, gap.Round(time.Millisecond), inTable, pushes)
		poll(t, "the nodes agree again", func() bool { return agreed(nodes) })
		for _, n := range nodes {
			_ = n.Close()
		}
	}
}
