package server

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/server/config"
)

// TestLeaveBeforePlannedIn checks a graceful stop of a node the cluster has
// not planned in (here its seed is unreachable, so it stays joining; in
// the soak, a node asked to leave right after it started): it hands
// nothing over and says so in its log, and it sets its leave flag, so
// that a coordinator that sees it does not plan it in while it stops.
// Before, the stop returned silently, and a table that planned the node
// in a moment later made it a member that then vanished like a crash.
func TestLeaveBeforePlannedIn(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	_ = l.Close()
	logFile := filepath.Join(t.TempDir(), "cached.log")
	s := startClusterNode(t, dead, func(c *config.Config) { c.LogFile = logFile })
	n := s.cl.node.Load()
	if st := n.State(); st != cluster.StateJoining {
		t.Fatalf("a node whose seed is unreachable is %v, want joining", st)
	}
	s.handOff("test")
	if !n.Leaving() {
		t.Fatal("the node stopped without its leave flag: a coordinator could plan it in")
	}
	logs := readLog(t, logFile)
	if !strings.Contains(logs, "leaving before being planned in: nothing to hand over") {
		t.Fatalf("the log does not say the node had nothing to hand over:\n%s", logs)
	}
	if strings.Contains(logs, "slots handed over") {
		t.Fatalf("the log claims a hand-over:\n%s", logs)
	}
}

// TestLeaveRestartedUnderOldID: a node killed and restarted at once with
// its old ID and addresses finds itself in the table from before
// (cluster.Node.Restarted) and is asked to stop before the others plan it
// out. It holds nothing, so it hands nothing over, but it must set its
// leave flag (the coordinator would otherwise plan it back in as it goes)
// and say why. The restarted node is cut off once it is restarted, so
// that no table planning it out reaches it before the stop: the order is
// made, not timed. (TestBinaryClusterSoak, seed 666 with 2 replicas: a
// leave 28 ms after a restart logged "the node is not ok".)
func TestLeaveRestartedUnderOldID(t *testing.T) {
	nw, nodes, _ := startNetCluster(t, 3, 1)
	victim := lastNonCoordinator(nodes)
	rest := othersGossip(nodes, victim)
	seed := rest[len(rest)-1]
	id := victim.cl.node.Load().ID()
	oldGossip := victim.cl.node.Load().GossipAddr()
	_, gossipPort, _ := net.SplitHostPort(oldGossip)
	_, respPort, _ := net.SplitHostPort(victim.Addr())
	crashNode(nw, nodes, victim)
	nw.Heal() // the old process is closed: its address is the new one's
	logFile := filepath.Join(t.TempDir(), "cached.log")
	again := startClusterNode(t, seed, func(c *config.Config) {
		c.Cluster.Replicas = 1
		c.Cluster.NodeID = id
		c.Port, _ = strconv.Atoi(respPort)
		gp, _ := strconv.Atoi(gossipPort)
		c.Cluster.Transport = func(host string) (cluster.Transport, error) { return nw.TransportOn(host, gp) }
		c.LogFile = logFile
	})
	n := again.cl.node.Load()
	pollFor(t, "the restarted node finds itself in the table from before", n.Restarted)
	nw.Partition([]string{oldGossip}, rest)
	if n.Table().IndexOf(id) < 0 {
		t.Fatal("the table planning the restarted node out reached it before the cut; the test made no order")
	}
	again.handOff("test")
	if !n.Leaving() {
		t.Error("the restarted node stopped without its leave flag: the coordinator could plan it back in")
	}
	logs := readLog(t, logFile)
	if !strings.Contains(logs, "leaving before being planned in: nothing to hand over; listed by the table from before its restart") {
		t.Errorf("the log does not say the restarted node had nothing to hand over:\n%s", logs)
	}
	if strings.Contains(logs, "the node is not ok") || strings.Contains(logs, "slots handed over") {
		t.Errorf("the log takes the restarted node for a member that is not ok, or claims a hand-over:\n%s", logs)
	}
}
