package load

import (
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cached/cached/protocol"
)

// fakeCluster is two fake nodes sharing one store and one slot map that a
// test can change: before the flip node 0 owns every slot; after it, node 1
// owns the upper half. A node answers -MOVED for a key it does not own.
type fakeCluster struct {
	kv      kvStore
	nodes   [2]*fakeServer
	flipped atomic.Bool
	flipAt  int64 // flip after node 0 served this many key commands
	served  [2]atomic.Int64
	slotsQ  atomic.Int64 // CLUSTER SLOTS calls
	ask     atomic.Int64 // ASK slot (migrating from node 0 to node 1), -1 for none
	leaveAt int64        // node 1 dies after serving this many key commands (0: never)
	left    atomic.Bool  // node 1 has died
	stale   atomic.Int64 // CLUSTER SLOTS replies after the death that still list node 1
}

func (fc *fakeCluster) owner(slot int) int {
	if fc.left.Load() {
		return 0
	}
	if fc.flipped.Load() && slot >= 8192 {
		return 1
	}
	return 0
}

func (fc *fakeCluster) slots() []byte {
	ranges := [][3]int{{0, 16383, 0}}
	if fc.flipped.Load() && (!fc.left.Load() || fc.stale.Add(-1) >= 0) {
		ranges = [][3]int{{0, 8191, 0}, {8192, 16383, 1}}
	}
	out := protocol.AppendArray(nil, len(ranges))
	for _, r := range ranges {
		_, port, _ := net.SplitHostPort(fc.nodes[r[2]].addr())
		p, _ := strconv.Atoi(port)
		out = protocol.AppendArray(out, 3)
		out = protocol.AppendInt(out, int64(r[0]))
		out = protocol.AppendInt(out, int64(r[1]))
		out = protocol.AppendArray(out, 3)
		out = protocol.AppendBulkString(out, "127.0.0.1")
		out = protocol.AppendInt(out, int64(p))
		out = protocol.AppendBulkString(out, strings.Repeat(strconv.Itoa(r[2]), 40))
	}
	return out
}

func (fc *fakeCluster) handler(me int) func(*fakeConn, [][]byte) []byte {
	return func(c *fakeConn, args [][]byte) []byte {
		name := strings.ToUpper(string(args[0]))
		switch {
		case name == "CLUSTER" && len(args) > 1 && strings.EqualFold(string(args[1]), "SLOTS"):
			fc.slotsQ.Add(1)
			return fc.slots()
		case name == "ASKING":
			c.asking = true
			return []byte("+OK\r\n")
		case len(args) < 2:
			return fc.kv.do(args)
		}
		slot := protocol.KeySlot(args[1])
		asking := c.asking
		c.asking = false
		if int64(slot) == fc.ask.Load() {
			if me == 0 {
				return []byte("-ASK " + strconv.Itoa(slot) + " " + fc.nodes[1].addr() + "\r\n")
			}
			if asking {
				fc.served[me].Add(1)
				return fc.kv.do(args)
			}
		}
		if o := fc.owner(slot); o != me {
			return []byte("-MOVED " + strconv.Itoa(slot) + " " + fc.nodes[o].addr() + "\r\n")
		}
		n := fc.served[me].Add(1)
		if n == fc.flipAt && me == 0 {
			fc.flipped.Store(true)
		}
		if n == fc.leaveAt && me == 1 {
			fc.left.Store(true)
			c.kill = true
			return nil
		}
		return fc.kv.do(args)
	}
}

func startFakeCluster(t *testing.T, flipAt int64) *fakeCluster {
	return startFakeClusterWith(t, &fakeCluster{flipAt: flipAt})
}

// startFakeClusterWith starts fc's nodes (its fields set beforehand).
func startFakeClusterWith(t *testing.T, fc *fakeCluster) *fakeCluster {
	fc.ask.Store(-1)
	for i := range fc.nodes {
		fc.nodes[i] = startFake(t, fc.handler(i))
	}
	return fc
}

// TestClusterFollowsMoved starts with one node owning every slot; after 500
// commands the map changes. bench must follow the MOVED replies, reload the
// map, and then send to the new owner directly.
func TestClusterFollowsMoved(t *testing.T) {
	fc := startFakeCluster(t, 500)
	cfg := testConfig(fc.nodes[0].addr())
	cfg.Cluster = true
	cfg.Requests = 20000
	cfg.Commands = RatioCommands(1, 1, 0)
	r := mustRun(t, cfg)
	if r.Total.Requests != 20000 || r.Total.Errors != 0 {
		t.Fatalf("%d requests, %d errors (%v); want 20000, 0", r.Total.Requests, r.Total.Errors, r.Errors)
	}
	moved := r.Errors["MOVED"]
	if moved == 0 || r.Redirects != moved {
		t.Errorf("MOVED %d, redirects followed %d; want equal and > 0", moved, r.Redirects)
	}
	if r.Refreshes < 2 || fc.slotsQ.Load() < 2 {
		t.Errorf("slot map loaded %d times (%d CLUSTER SLOTS), want >= 2", r.Refreshes, fc.slotsQ.Load())
	}
	// About half of the ~19500 requests after the flip belong to node 1;
	// once the map is reloaded they go there directly, so MOVED stays rare.
	b := fc.served[1].Load()
	t.Logf("node 1 served %d; MOVED %d; map loads %d", b, moved, r.Refreshes)
	if b < 5000 || moved > b/2 {
		t.Errorf("node 1 served %d, MOVED %d: the map was not refreshed", b, moved)
	}
}

// TestClusterNodeLeaves kills node 1 mid-run (listener and connections
// closed, later dials refused); the next two slot maps still list it, as a
// cluster does until gossip has converged. bench must reload the map on the
// connection errors and hold node 1's requests until a map without it
// arrives: the requests in flight on node 1 fail (conn-reset), none is
// refused, every later one is served by node 0.
func TestClusterNodeLeaves(t *testing.T) {
	for _, rate := range []float64{0, 5000} {
		fc := &fakeCluster{flipAt: -1, leaveAt: 1000}
		fc.flipped.Store(true)
		fc.stale.Store(2)
		startFakeClusterWith(t, fc)
		cfg := testConfig(fc.nodes[0].addr())
		cfg.Cluster, cfg.Requests, cfg.Rate, cfg.Pipeline = true, 6000, rate, 1
		cfg.Commands = RatioCommands(1, 1, 0)
		r := mustRun(t, cfg)
		inFlight := int64(cfg.Clients * cfg.Pipeline) // closed loop's bound
		resets := r.Errors[KindReset]
		if r.Total.Requests != 6000 || r.Total.Errors != resets || resets < 1 || (rate == 0 && resets > inFlight) {
			t.Errorf("rate %v: %d requests, errors %v; want 6000 and only the requests in flight on node 1 as %s", rate, r.Total.Requests, r.Errors, KindReset)
		}
		if !fc.left.Load() || fc.stale.Load() >= 0 || r.Refreshes < 4 {
			t.Errorf("rate %v: node 1 left %v, stale maps left %d, maps loaded %d; want the death, both stale maps used, then a good one", rate, fc.left.Load(), fc.stale.Load(), r.Refreshes)
		}
		// A reply written by the dying node may be lost with its
		// connection: that request is one of the resets.
		served, ok := fc.served[0].Load()+fc.served[1].Load()-1, r.Total.Requests-r.Total.Errors
		if lost := served - ok; lost < 0 || lost > resets {
			t.Errorf("rate %v: nodes answered %d, bench counts %d successes and %d resets", rate, served, ok, resets)
		}
	}
}

// TestClusterFollowsAsk checks ASK: re-sent with ASKING, no map reload.
func TestClusterFollowsAsk(t *testing.T) {
	fc := startFakeCluster(t, -1)
	askSlot := protocol.KeySlot([]byte("key:3"))
	fc.ask.Store(int64(askSlot))
	cfg := testConfig(fc.nodes[0].addr())
	cfg.Cluster, cfg.Keyspace, cfg.Requests = true, 10, 400
	r := mustRun(t, cfg)
	if r.Total.Errors != 0 || r.Errors["ASK"] == 0 || r.Redirects != r.Errors["ASK"] {
		t.Fatalf("errors %v, redirects %d", r.Errors, r.Redirects)
	}
	if fc.served[1].Load() != r.Redirects {
		t.Errorf("node 1 served %d, redirects %d", fc.served[1].Load(), r.Redirects)
	}
}

func TestParseSlotsAndShards(t *testing.T) {
	slots := "*2\r\n*3\r\n:0\r\n:99\r\n*2\r\n$0\r\n\r\n:7000\r\n*4\r\n:100\r\n:16383\r\n*2\r\n$4\r\nhost\r\n:7001\r\n*2\r\n$4\r\nrepl\r\n:7002\r\n"
	v, err := protocol.NewReader(strings.NewReader(slots)).ReadValue()
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseSlots(v, "10.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if got := m.addrs[m.owner[50]]; got != "10.0.0.1:7000" {
		t.Errorf("slot 50 → %s", got)
	}
	if got := m.addrs[m.owner[16383]]; got != "host:7001" {
		t.Errorf("slot 16383 → %s", got)
	}
	shards := "*1\r\n%2\r\n$5\r\nslots\r\n*4\r\n:0\r\n:10\r\n:20\r\n:16383\r\n$5\r\nnodes\r\n*2\r\n" +
		"%3\r\n$2\r\nip\r\n$3\r\nh.r\r\n$4\r\nport\r\n:1\r\n$4\r\nrole\r\n$7\r\nreplica\r\n" +
		"%3\r\n$2\r\nip\r\n$3\r\nh.m\r\n$4\r\nport\r\n:2\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
	v, err = protocol.NewReader(strings.NewReader(shards)).ReadValue()
	if err != nil {
		t.Fatal(err)
	}
	m, err = parseShards(v, "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.addrs) != 1 || m.addrs[0] != "h.m:2" {
		t.Errorf("shards map addrs %v", m.addrs)
	}
	if _, err := parseSlots(protocol.Value{Elems: []protocol.Value{{}}}, "x"); err == nil {
		t.Error("malformed CLUSTER SLOTS accepted")
	}
	if got := resolve(":7000", "1.2.3.4:9"); got != "1.2.3.4:7000" {
		t.Errorf("resolve = %s", got)
	}
}
