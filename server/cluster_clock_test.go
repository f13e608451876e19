package server

import (
	"strings"
	"testing"
	"time"

	"github.com/cached/cached/store"
)

// errConn records the last error reply written to it.
type errConn struct {
	discardConn
	err string
}

func (e *errConn) WriteError(s string) { e.err = s }

// TestRoutingChecksStateByCommandStart checks that routing's pause check
// (clusterState.downAt, cluster.Node.StateAt) is made by the clock reading
// dispatch passes in, the command's start on the store's monotonic clock,
// which is also the cluster node's clock (Config.Clock): a start within
// pauseAfter of the node's last health check serves a key the node owns;
// a start far past it (the process was paused since) answers CLUSTERDOWN,
// while a command without keys still runs.
func TestRoutingChecksStateByCommandStart(t *testing.T) {
	s := startCluster(t, 3, nil)[0]
	waitUntil(t, func() bool { return !s.cl.down() }, func() string { return "the node is down" })
	mine, _ := keysFor(t, s, "a")
	c := &client{s: s}
	c.Init(s.store, env{s}, c)
	ec := &errConn{}
	c.Conn = ec
	get := [][]byte{[]byte("GET"), []byte(mine)}
	ping := [][]byte{[]byte("PING")}
	getCmd, pingCmd := s.cmds.lookup(get[0]), s.cmds.lookup(ping[0])

	if s.routeCluster(c, getCmd, get, store.Mono()) {
		t.Fatalf("a key the node owns, now: routed away (%q)", ec.err)
	}
	paused := store.Mono() + int64(time.Hour)
	if !s.routeCluster(c, getCmd, get, paused) || !strings.HasPrefix(ec.err, "CLUSTERDOWN") {
		t.Fatalf("a key the node owns, an hour past its last health check: reply %q, want CLUSTERDOWN", ec.err)
	}
	if s.routeCluster(c, pingCmd, ping, paused) {
		t.Fatalf("PING an hour past the last health check: routed away (%q)", ec.err)
	}
}
