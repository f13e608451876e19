package server

import (
	"net"
	"os"
	"path/filepath"
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
	b, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	logs := string(b)
	if !strings.Contains(logs, "leaving before being planned in: nothing to hand over") {
		t.Fatalf("the log does not say the node had nothing to hand over:\n%s", logs)
	}
	if strings.Contains(logs, "slots handed over") {
		t.Fatalf("the log claims a hand-over:\n%s", logs)
	}
}
