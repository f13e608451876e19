package cluster

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"
)

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
