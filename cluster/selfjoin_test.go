package cluster

import (
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSeedIsSelf: a node whose only seed is its own gossip address (a
// Kubernetes headless service resolving to the first pod alone) forms a
// cluster of one once it has reached that seed.
func TestSeedIsSelf(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	n := startNode(t, Config{BindPort: port, Join: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}})
	waitFor(t, convergeWithin, "a cluster of one", func() bool {
		return n.State() == StateOK && n.Table().Len() == 1 && n.Table().Owner(0).ID == n.ID()
	})
}

// TestSeedlessFounderBackAfterLeave: the founder of a cluster (started
// without seeds; the others' seed) leaves gracefully and a new process
// without seeds starts at its gossip address under a new ID, as a
// supervisor restarts it. The new process founds a cluster of one; the
// survivors, whose seed address no live member holds any more, join it
// again, and the two merge into one table of three (the survivors' newer
// table wins). Before, the survivors re-joined their seeds only when they
// missed a member or were alone, and a member that left is missed by no
// one: the two clusters stayed apart for good.
func TestSeedlessFounderBackAfterLeave(t *testing.T) {
	rec := &logRecorder{}
	nodes := startCluster(t, 3, Config{Logger: slog.New(rec)})
	waitConverged(t, nodes, "convergence")
	founder := nodes[0]
	_, port, err := net.SplitHostPort(founder.GossipAddr())
	if err != nil {
		t.Fatal(err)
	}
	if err := founder.Leave(time.Second); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	waitFor(t, convergeWithin, "the leave seen by the survivors", func() bool { return converged(nodes[1:]) })
	if err := founder.Close(); err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	again := startNode(t, Config{BindPort: p, AnnouncePort: 7000})
	all := append([]*Node{again}, nodes[1:]...)
	waitConverged(t, all, "the restarted founder and the survivors in one table")
	if rec.count("INFO cluster: joined a node at a seed address no member held") == 0 {
		t.Error("no survivor logged that it joined the node at its seed address")
	}
}

// TestVacantSeeds: the seed addresses a node re-joins with no member
// missing are those no live member holds; a name counts by the addresses
// it resolves to, and one that does not resolve is skipped.
func TestVacantSeeds(t *testing.T) {
	a := startNode(t, Config{})
	_, aPort, _ := net.SplitHostPort(a.GossipAddr())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := l.Addr().String()
	_ = l.Close()
	b := startNode(t, Config{Join: []string{
		a.GossipAddr(), free, "localhost:" + aPort, "no-such-host.invalid:7946", "not an address",
	}})
	waitConverged(t, []*Node{a, b}, "b joined a")
	got := b.vacantSeeds()
	if !slices.Contains(got, free) {
		t.Errorf("vacant seeds %v lack %s, which nothing holds", got, free)
	}
	for _, v := range got {
		if v == a.GossipAddr() || v == b.GossipAddr() || strings.Contains(v, "invalid") {
			t.Errorf("vacant seeds %v include %s", got, v)
		}
	}
}
