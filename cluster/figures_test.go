package cluster

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

// TestOwnershipFigures logs the balance and movement figures quoted in
// docs/cluster.md (and asserts the rendezvous movement property on the way):
//
//	go test -run TestOwnershipFigures -v ./cluster/
func TestOwnershipFigures(t *testing.T) {
	const sets = 5 // random member sets per cluster size
	t.Logf("| nodes | ideal slots/node | min | max | max/min (worst of %d sets) | moved on join | ideal 1/(N+1) | moved on leave | ideal 1/N |", sets)
	t.Logf("|---|---|---|---|---|---|---|---|---|")
	for _, n := range []int{3, 5, 10, 50} {
		lo, hi, worst := NumSlots, 0, 0.0
		var joinMoved, leaveMoved int
		for s := uint64(1); s <= sets; s++ {
			ms := testMembers(s*104729+uint64(n), n+1)
			base := BuildTable(ms[:n], 0, 1)
			r, l, h := balance(base)
			lo, hi, worst = min(lo, l), max(hi, h), max(worst, r)
			joinMoved += moved(t, base, BuildTable(ms, 0, 2), ms[n].ID)
			leaveMoved += moved(t, base, BuildTable(ms[1:n], 0, 2), ms[0].ID)
		}
		pct := func(moved int) string { return fmt.Sprintf("%.2f%%", 100*float64(moved)/sets/NumSlots) }
		t.Logf("| %d | %.0f | %d | %d | %.3f | %s | %.2f%% | %s | %.2f%% |",
			n, float64(NumSlots)/float64(n), lo, hi, worst,
			pct(joinMoved), 100/float64(n+1), pct(leaveMoved), 100/float64(n))
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
