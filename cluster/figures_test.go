package cluster

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// TestOwnershipFigures logs the balance, movement, range and CLUSTER SLOTS
// figures quoted in docs/cluster.md (asserting the bounds on the way):
//
//	go test -run TestOwnershipFigures -v ./cluster/
func TestOwnershipFigures(t *testing.T) {
	t.Logf("Bootstrap table, then one join (N -> N+1) and one leave (N -> N-1) planned from it; replicas 1.")
	t.Logf("| nodes | slots/node min–max | max/min | primary ranges | CLUSTER SLOTS entries, bytes | join: primaries moved (ideal) | replicas moved | copies ×ideal | ranges after | leave: primaries moved (ideal) | replicas moved | copies ×ideal | ranges after |")
	t.Logf("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for n := 1; n <= 10; n++ {
		ms := testMembers(uint64(n*31+1), n+1)
		base := BuildTable(ms[:n], 1, 1)
		_, lo, hi := spreadOf(roleCounts(base, 0))
		if float64(hi)/float64(lo) > 1.1 {
			t.Errorf("n=%d: unbalanced", n)
		}
		line := fmt.Sprintf("| %d | %d–%d | %.4f | %d | %d, %d B |", n, lo, hi, float64(hi)/float64(lo), primaryRanges(base), tupleRanges(base), clusterSlotsSize(base))
		for _, next := range []*Table{Plan(base, ms, 1, 2), Plan(base, ms[1:n], 1, 2)} {
			if next.Len() == 0 {
				line += " – | – | – | – |"
				continue
			}
			stepBounds(t, fmt.Sprintf("n=%d -> %d", n, next.Len()), base, next, 1.7)
			ideal := float64(NumSlots) / float64(max(n, next.Len()))
			line += fmt.Sprintf(" %.2f%% (%.2f%%) | %.2f%% | %.2f | %d |",
				100*float64(primaryMoves(base, next))/NumSlots, 100*ideal/NumSlots,
				100*float64(replicaMoves(base, next))/NumSlots,
				float64(newCopies(base, next))/ideal/float64(min(2, next.Len())),
				primaryRanges(next))
		}
		t.Log(line)
	}
	t.Logf("Failover: a bootstrap table of N+1 nodes (replicas 1) loses one node; the failover plan, then the rebalancing plan after it.")
	t.Logf("| nodes left | failover: primaries min–max | CLUSTER SLOTS entries, bytes | rebalanced: primaries min–max | primaries moved | CLUSTER SLOTS entries, bytes |")
	t.Logf("|---|---|---|---|---|---|")
	for _, n := range []int{2, 3, 5, 10} {
		ms := testMembers(uint64(n*17+5), n+1)
		base := BuildTable(ms, 1, 1)
		fo := Plan(base, ms[1:], 1, 2)
		checkTable(t, fmt.Sprintf("failover %d->%d", n+1, n), base, fo)
		rb := rebalance(fo)
		_, flo, fhi := spreadOf(roleCounts(fo, 0))
		_, rlo, rhi := spreadOf(roleCounts(rb, 0))
		t.Logf("| %d | %d–%d | %d, %d B | %d–%d | %d | %d, %d B |", n, flo, fhi, tupleRanges(fo), clusterSlotsSize(fo),
			rlo, rhi, primaryMoves(fo, rb), tupleRanges(rb), clusterSlotsSize(rb))
	}
	t.Logf("Random walk: 200 planned joins and leaves between 1 and 10 nodes (replicas 1); largest table seen per size.")
	t.Logf("| nodes | primary ranges | CLUSTER SLOTS entries | CLUSTER SLOTS bytes |")
	t.Logf("|---|---|---|---|")
	st := randomWalk(t, 2, 1, 200)
	for k := 1; k <= 10; k++ {
		t.Logf("| %d | %d | %d | %d |", k, st.maxRanges[k], st.maxEntries[k], st.maxBytes[k])
	}
	for _, k := range []int{3, 5, 10} {
		tab := BuildTable(testMembers(uint64(k), k), 1, 1)
		if size := clusterSlotsSize(tab); k == 10 && size >= 10*1024 {
			t.Errorf("CLUSTER SLOTS for 10 nodes is %d bytes", size)
		}
	}
}

// TestConvergenceFigures measures, on loopback with the default (LAN-fast)
// timings, how long until every node's table agrees after a join, a crash
// and a graceful leave, for 3 and 5 nodes; each event must converge within
// its deadline. It asserts no timing. By default it makes one run per size
// (a few seconds, in CI); the figures in docs/cluster.md are the median of
// five:
//
//	CACHED_FIGURES=1 go test -count=1 -run TestConvergenceFigures -v ./cluster/
func TestConvergenceFigures(t *testing.T) {
	runs := 1
	if os.Getenv("CACHED_FIGURES") != "" {
		runs = 5
	}
	t.Logf("| nodes | join (median of %d, min–max) | crash | graceful leave |", runs)
	t.Logf("|---|---|---|---|")
	for _, k := range []int{3, 5} {
		var join, crash, leave []time.Duration
		for range runs {
			j, c, l := convergenceRun(t, k)
			join, crash, leave = append(join, j), append(crash, c), append(leave, l)
		}
		t.Logf("| %d | %s | %s | %s |", k, spread(join), spread(crash), spread(leave))
	}
}

// convergenceRun builds a k-node cluster and times three events: the k-th
// node joining (from New until every table agrees on k members), a crash of
// a non-seed node (until every survivor agrees), and a graceful Close of
// another one.
func convergenceRun(t *testing.T, k int) (join, crash, leave time.Duration) {
	nodes := startCluster(t, k-1, Config{})
	waitFor(t, convergeWithin, "initial convergence", func() bool { return converged(nodes) })
	start := time.Now()
	nodes = append(nodes, startNode(t, Config{AnnouncePort: 7999, Join: []string{nodes[0].GossipAddr()}}))
	waitFor(t, convergeWithin, "join", func() bool { return converged(nodes) })
	join = time.Since(start)

	start = time.Now()
	if err := nodes[k-1].crash(); err != nil {
		t.Fatal(err)
	}
	nodes = nodes[:k-1]
	waitFor(t, detectWithin, "crash", func() bool { return converged(nodes) })
	crash = time.Since(start)

	start = time.Now()
	_ = nodes[k-2].Close()
	nodes = nodes[:k-2]
	waitFor(t, convergeWithin, "leave", func() bool { return converged(nodes) })
	leave = time.Since(start)
	for _, n := range nodes {
		_ = n.Close()
	}
	return join, crash, leave
}

// spread formats the median and range of some durations.
func spread(ds []time.Duration) string {
	slices.Sort(ds)
	r := func(d time.Duration) string { return d.Round(time.Millisecond).String() }
	return fmt.Sprintf("%s (%s–%s)", r(ds[len(ds)/2]), r(ds[0]), r(ds[len(ds)-1]))
}
