package cluster

import (
	"log/slog"
	"strconv"
	"testing"
	"time"
)

// TestCutCoordinatorsTableLosesToMajoritys builds two different tables of
// one version: the coordinator A plans version v+1 the moment it is cut
// off (its gossip and pushes are lost), and the majority's new coordinator
// B plans its own v+1 from v without A. After the heal every node must end
// with B's line: A's v+1 never reached a majority and must not replace
// the table the majority served (by the planner-ID tie-break alone it
// did: A's ID is lower, so B and C went back to A's assignment, whose
// slots B and C had re-planned and written meanwhile).
func TestCutCoordinatorsTableLosesToMajoritys(t *testing.T) {
	cn := &cutNet{}
	logs := make([]*logRecorder, 3)
	// A = 111…, the coordinator; B = 222… takes over when A is cut.
	nodes := startCutTrio(t, cn, func(i int, cfg *Config) {
		logs[i] = &logRecorder{}
		cfg.Logger = slog.New(logs[i])
	})
	a, b, c := nodes[0], nodes[1], nodes[2]
	v := a.Table()
	if v.Planner() != a.ID() {
		t.Fatalf("v%d planned by %s, want the coordinator A", v.Version(), v.Planner())
	}

	// A plans v+1 just as it is cut off: nothing of it gets out.
	cn.set(a.GossipAddr())
	a.plan(true)
	stale := a.Table()
	if stale.Version() != v.Version()+1 || stale.Planner() != a.ID() {
		t.Fatalf("A holds v%d by %s, want its own v%d", stale.Version(), stale.Planner(), v.Version()+1)
	}
	waitFor(t, healWithin, "A reports no-quorum", func() bool { return a.State() == StateNoQuorum })
	waitFor(t, healWithin, "B and C re-plan without A", func() bool {
		return allOK([]*Node{b, c}) && b.Table().IndexOf(a.ID()) < 0
	})
	maj := b.Table()
	if maj.Version() != stale.Version() || maj.Planner() != b.ID() {
		t.Fatalf("the majority holds v%d by %s, want v%d by B: not the equal-version case",
			maj.Version(), maj.Planner(), stale.Version())
	}

	cn.set("")
	waitFor(t, healWithin, "one table on all three after the heal", func() bool { return allOK(nodes) })
	adoptedStale := "adopted slot table version=" + strconv.FormatUint(stale.Version(), 10) + " planner=" + a.ID()
	for i, n := range []*Node{b, c} {
		if k := logs[i+1].count(adoptedStale); k > 0 {
			t.Errorf("%s adopted the cut coordinator's v%d %d time(s) after the majority served its own v%d",
				n.ID()[:8], stale.Version(), k, maj.Version())
		}
	}
	adoptedMaj := "adopted slot table version=" + strconv.FormatUint(maj.Version(), 10) + " planner=" + b.ID()
	if logs[0].count(adoptedMaj) == 0 {
		t.Errorf("A never adopted the majority's v%d", maj.Version())
	}
	if fin := a.Table(); fin.Version() <= maj.Version() {
		t.Errorf("the final table is v%d, want one planned after the majority's v%d", fin.Version(), maj.Version())
	}
}

// TestShortMajorityLossResyncs: a node whose failure detector loses the
// majority for less than NodeTimeout never turns no-quorum (the window
// docs/cluster.md describes), but when the majority shows up again it must
// not go on serving by its old table: the majority may have re-planned its
// slots meanwhile, and memberlist reports the members alive before their
// table arrives. As in TestMajorityBackBeforeTableStaysDown, the test
// reports the majority alive while the network is still cut, so no table
// can arrive; NodeTimeout is an hour, so every loss counts as short.
func TestShortMajorityLossResyncs(t *testing.T) {
	cn := &cutNet{}
	nodes := startCutTrio(t, cn, func(i int, cfg *Config) {
		if i == 2 {
			cfg.NodeTimeout = time.Hour
		}
	})
	iso, rest := nodes[2], nodes[:2]
	before := iso.Table()
	owned := before.Ranges(iso.ID())
	if len(owned) == 0 {
		t.Fatal("the isolated node owns no slot")
	}

	cn.set(iso.GossipAddr())
	waitFor(t, healWithin, "the two re-plan without it", func() bool {
		return allOK(rest) && rest[0].Table().IndexOf(iso.ID()) < 0
	})
	waitFor(t, healWithin, "the isolated node sees no majority", func() bool {
		iso.mu.Lock()
		defer iso.mu.Unlock()
		return !iso.quorumLocked(iso.Table())
	})
	healthRounds(t, iso, 2) // a full state check after that
	if st := iso.State(); st != StateOK {
		t.Fatalf("the isolated node is %v within NodeTimeout, want ok (the documented window)", st)
	}

	lost := recordLost(iso)
	for _, n := range rest {
		iso.memberUp(n.ml.LocalNode())
	}
	healthRounds(t, iso, 2)
	if tab := iso.Table(); tab != before {
		t.Fatalf("the isolated node got a new table (v%d) through a cut network", tab.Version())
	}
	if st := iso.State(); st == StateOK {
		t.Fatalf("after a short loss the isolated node is ok by its old table v%d (the majority holds v%d): it would serve slots others own",
			before.Version(), rest[0].Table().Version())
	}

	cn.set("")
	waitFor(t, healWithin, "one table on all three after the heal", func() bool { return allOK(nodes) })
	lost.check(t, owned)
}
