package server

import (
	"testing"
	"time"
)

// TestRoutingClockOncePerLoopBatch checks the clock routing's pause check
// reads (client.routingClock): on an event loop it is read once per batch
// and kept for the batch's other commands; on a goroutine, in a parked
// request and outside a batch it is read per command and not kept. And
// the check itself: a reading within pauseAfter of the cluster node's last
// health check is not down, one far past it is (the process was paused).
func TestRoutingClockOncePerLoopBatch(t *testing.T) {
	cs := startCluster(t, 1, nil)[0].cl
	waitUntil(t, func() bool { return !cs.down() }, func() string { return "the node is down" })

	cn := &conn{onLoop: true}
	c := &client{}
	c.Conn = cn
	c.batching = true
	first := c.routingClock()
	if c.batchWall != first {
		t.Fatalf("on a loop the batch's reading is not kept: batchWall %d, read %d", c.batchWall, first)
	}
	if got := c.routingClock(); got != first {
		t.Fatalf("the batch's second command read %d, want the batch's reading %d", got, first)
	}
	if cs.downAt(first) {
		t.Fatal("down by the batch's reading")
	}
	if !cs.downAt(first + int64(time.Hour)) {
		t.Fatal("not down by a reading an hour past the last health check (a pause)")
	}

	for _, k := range []struct {
		name                     string
		onLoop, inPark, batching bool
	}{
		{"a goroutine's batch", false, false, true},
		{"a parked request", true, true, true},
		{"outside a batch", true, false, false},
	} {
		c.batchWall = 0 // a batch ends so (conn.go runBuffered)
		cn.onLoop, cn.inPark, c.batching = k.onLoop, k.inPark, k.batching
		if now := c.routingClock(); now == 0 || c.batchWall != 0 {
			t.Fatalf("%s: read %d and kept %d, want a reading not kept", k.name, now, c.batchWall)
		}
	}
}

// BenchmarkClusterRouteLoopBatch is BenchmarkClusterRoute for a client in
// an event loop's batch, whose routing reads the clock once per batch
// (client.routingClock): here one batch for all b.N commands, against one
// read per command in BenchmarkClusterRoute.
func BenchmarkClusterRouteLoopBatch(b *testing.B) {
	nodes := startCluster(b, 3, nil)
	s := nodes[0]
	mine, _ := keysFor(b, s, "a")
	c := &client{s: s}
	c.Init(s.store, env{s}, c)
	c.Conn = &conn{onLoop: true}
	c.batching = true
	args := [][]byte{[]byte("GET"), []byte(mine)}
	cmd := s.cmds.lookup(args[0])
	if s.routeCluster(c, cmd, args) {
		b.Fatal("routed away a local command")
	}
	b.ReportAllocs()
	for b.Loop() {
		s.routeCluster(c, cmd, args)
	}
}
