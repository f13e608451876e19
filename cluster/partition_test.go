package cluster_test

import (
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/cluster/clustertest"
)

// partitionWithin bounds every wait of these tests: failure detection,
// re-planning, and re-joining after a heal (back-off up to 10 s).
const partitionWithin = 45 * time.Second

// startNet starts k nodes on a switchable network; all but the first join
// the first. The lowest-ID node is returned first.
func startNet(t *testing.T, nw *clustertest.Net, k int) []*cluster.Node {
	t.Helper()
	return startNetWith(t, nw, k, nil)
}

// startNetWith is startNet with each node's transport passed through wrap
// (nil: none).
func startNetWith(t *testing.T, nw *clustertest.Net, k int, wrap func(*testing.T, cluster.Transport) cluster.Transport) []*cluster.Node {
	t.Helper()
	var nodes []*cluster.Node
	for i := range k {
		tr, err := nw.Transport("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		if wrap != nil {
			tr = wrap(t, tr)
		}
		cfg := cluster.Config{AnnounceHost: "127.0.0.1", AnnouncePort: 7000 + i, Transport: tr,
			NodeTimeout: 200 * time.Millisecond}
		if i > 0 {
			cfg.Join = []string{nodes[0].GossipAddr()}
		}
		n, err := cluster.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = n.Close() })
		nodes = append(nodes, n)
	}
	return nodes
}

// poll waits until cond holds or partitionWithin passes.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(partitionWithin)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v", what, partitionWithin)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// agreed reports whether every node holds the same table version with
// exactly these nodes as members, and is in StateOK.
func agreed(nodes []*cluster.Node) bool {
	v := nodes[0].Table().Version()
	for _, n := range nodes {
		tab := n.Table()
		if tab.Version() != v || tab.Len() != len(nodes) || n.State() != cluster.StateOK {
			return false
		}
		for _, o := range nodes {
			if tab.IndexOf(o.ID()) < 0 {
				return false
			}
		}
	}
	return true
}

// lowestFirst moves the node with the lowest ID (the coordinator) first.
func lowestFirst(nodes []*cluster.Node) {
	for i := range nodes {
		if nodes[i].ID() < nodes[0].ID() {
			nodes[0], nodes[i] = nodes[i], nodes[0]
		}
	}
}

// TestPartitionMinorityStopsMajorityReplansHealMerges cuts the coordinator
// (the lowest ID, which before the majority rule planned itself every slot)
// off from four nodes: it must stop serving without planning, the four
// re-plan its slots; after the heal both sides find each other again and
// end with one table, and the isolated node is told it lost every slot it
// owned before.
func TestPartitionMinorityStopsMajorityReplansHealMerges(t *testing.T) {
	nw := clustertest.NewNet()
	nodes := startNet(t, nw, 5)
	poll(t, "five nodes agree", func() bool { return agreed(nodes) })
	lowestFirst(nodes)
	iso, rest := nodes[0], nodes[1:]
	before := iso.Table()
	var mu sync.Mutex
	lostSlots := map[int]bool{}
	iso.OnSlotsLost(func(lost []cluster.SlotRange) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range lost {
			for s := r.Start; s <= r.End; s++ {
				lostSlots[s] = true
			}
		}
	})

	var restAddrs []string
	for _, n := range rest {
		restAddrs = append(restAddrs, n.GossipAddr())
	}
	nw.Partition([]string{iso.GossipAddr()}, restAddrs)
	poll(t, "isolated node reports no-quorum", func() bool { return iso.State() == cluster.StateNoQuorum })
	poll(t, "the four agree without it", func() bool { return agreed(rest) })
	if v := iso.Table().Version(); v != before.Version() {
		t.Fatalf("isolated node planned a table: version %d, was %d", v, before.Version())
	}
	if iso.Table() != before {
		t.Fatal("isolated node changed its table while cut off")
	}
	if got := rest[0].Table(); got.IndexOf(iso.ID()) >= 0 || got.Owner(before.Ranges(iso.ID())[0].Start).ID == "" {
		t.Fatalf("majority table still has the isolated node or leaves its slots unowned")
	}

	nw.Heal()
	poll(t, "one table on all five after the heal", func() bool { return agreed(nodes) })
	mu.Lock()
	defer mu.Unlock()
	for _, r := range before.Ranges(iso.ID()) {
		for s := r.Start; s <= r.End; s++ {
			if !lostSlots[s] {
				t.Fatalf("slot %d owned before the partition not reported lost", s)
			}
		}
	}
}

// TestUnreachableSeedJoining starts a node whose seed is down: it holds no
// table and stays StateJoining until the seed comes up, then both agree.
func TestUnreachableSeedJoining(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	joiner, err := cluster.New(cluster.Config{AnnounceHost: "127.0.0.1", AnnouncePort: 7100,
		Join: []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = joiner.Close() })
	if st := joiner.State(); st != cluster.StateJoining {
		t.Fatalf("state %v before joining, want joining", st)
	}
	if tab := joiner.Table(); tab.Len() != 0 || tab.OwnerIndex(0) != -1 {
		t.Fatalf("a joining node owns slots: %d members", tab.Len())
	}
	seed, err := cluster.New(cluster.Config{AnnounceHost: "127.0.0.1", AnnouncePort: 7101, BindPort: port})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = seed.Close() })
	if st := seed.State(); st != cluster.StateOK {
		t.Fatalf("a node without seeds is %v at start, want ok", st)
	}
	poll(t, "joined and agreed", func() bool { return agreed([]*cluster.Node{seed, joiner}) })
}

// TestTwoNodesGracefulLeaveKeepsQuorum: a member that leaves gracefully no
// longer counts for the majority, so the last node keeps serving.
func TestTwoNodesGracefulLeaveKeepsQuorum(t *testing.T) {
	nodes := startNet(t, clustertest.NewNet(), 2)
	poll(t, "two nodes agree", func() bool { return agreed(nodes) })
	if err := nodes[1].Close(); err != nil {
		t.Fatal(err)
	}
	poll(t, "the survivor alone and ok", func() bool { return agreed(nodes[:1]) })
}

// TestPartitionWindowFigures measures the window of docs/cluster.md ("The
// window and what can be lost"): how long after the highest-ID node is cut
// off the majority re-plans, and how long until the cut node turns
// no-quorum (NodeTimeout 200 ms), for 3 and 5 nodes. It asserts that both
// happen within poll's deadline and no timing; the figures are logged:
//
//	go test -count=1 -run TestPartitionWindowFigures -v ./cluster/
func TestPartitionWindowFigures(t *testing.T) {
	for _, k := range []int{3, 5} {
		nw := clustertest.NewNet()
		nodes := startNet(t, nw, k)
		poll(t, "the nodes agree", func() bool { return agreed(nodes) })
		lowestFirst(nodes) // the coordinator stays on the majority side
		iso := nodes[k-1]
		for _, n := range nodes[1 : k-1] {
			if n.ID() > iso.ID() {
				iso = n
			}
		}
		var rest []string
		for _, n := range nodes {
			if n != iso {
				rest = append(rest, n.GossipAddr())
			}
		}
		v := nodes[0].Table().Version()
		start := time.Now()
		nw.Partition([]string{iso.GossipAddr()}, rest)
		var replanned, down time.Duration
		poll(t, "the majority re-plans and the cut node turns no-quorum", func() bool {
			if replanned == 0 && nodes[0].Table().Version() > v {
				replanned = time.Since(start)
			}
			if down == 0 && iso.State() == cluster.StateNoQuorum {
				down = time.Since(start)
			}
			return replanned > 0 && down > 0
		})
		t.Logf("%d nodes: the majority re-planned %v after the cut, the cut node turned no-quorum after %v",
			k, replanned.Round(time.Millisecond), down.Round(time.Millisecond))
		for _, n := range nodes {
			_ = n.Close()
		}
	}
}

// TestCutNodeStopsWhileItsPeersSeemAlive: a node that no longer hears the
// four others' heartbeats stops serving (no-quorum) while its memberlist
// still lists them alive, and serves again once they are back and it has
// re-synced. Only the heartbeats between it and the others are lost
// (beatCut): memberlist's probes, gossip and push/pull still flow, so
// memberlist has no reason to declare anyone dead, and a node that counted
// the majority from memberlist's live view alone (as before heartbeats,
// reach.go) would never stop: this test would then fail at its deadline.
//
// It used to cut the node off entirely and assert that it stopped while
// memberlist still counted 3 of the 5 alive: a lone node's suspicions get
// no confirmation, so memberlist takes its longest suspicion timeout (≈ 4.8
// s with 5 nodes) to declare them dead, against the 3 s heartbeat window
// plus NodeTimeout. That compares two timers, and load shifts both (under
// -race on the loaded machine the cut node stopped 2.6-6.9 s after the cut
// and memberlist counted only 3 alive in 9 of 40 runs, suspicions started
// before the cut having been confirmed by others); TestPartitionWindowFigures
// measures those times. Cutting the heartbeats only orders the events by
// the fault instead: the node cannot stop for any other reason than the
// heartbeats (short of memberlist misjudging live peers under load, which
// only delays the check below).
func TestCutNodeStopsWhileItsPeersSeemAlive(t *testing.T) {
	cut := &beatCut{}
	nodes := startNetWith(t, clustertest.NewNet(), 5, cut.wrap)
	// A node that has just joined reports ok for its first NodeTimeout
	// (the grace runs from New) while its memberlist may still know only
	// some of the others: cut then, it never saw a majority, and it stops
	// once the grace ends or memberlist declares the few peers it knows
	// dead, not because heartbeats stopped (the flake of the old test:
	// cut 40 ms after the start, the node knew 2 or 3 of the 5). So wait
	// until every memberlist lists all five.
	poll(t, "the nodes agree and every memberlist lists all five alive", func() bool {
		if !agreed(nodes) {
			return false
		}
		for _, n := range nodes {
			if n.KnownPeers() != len(nodes) {
				return false
			}
		}
		return true
	})
	lowestFirst(nodes)
	iso := nodes[4] // not the coordinator
	start := time.Now()
	cut.set(iso.GossipAddr())
	poll(t, "heartbeats to the cut node are dropped (if never, memberlist's packet format changed: see isBeat)",
		func() bool { return cut.droppedToIso() > 0 })
	var stopped time.Duration
	poll(t, "the cut node turns no-quorum while its memberlist lists a majority of the five alive", func() bool {
		if iso.State() != cluster.StateNoQuorum {
			return false
		}
		if stopped == 0 {
			stopped = time.Since(start)
		}
		return 2*iso.KnownPeers() > len(nodes)
	})
	t.Logf("the cut node turned no-quorum %v after the heartbeats were cut; memberlist lists %d of %d alive",
		stopped.Round(time.Millisecond), iso.KnownPeers(), len(nodes))
	cut.set("")
	poll(t, "the five agree again once the heartbeats flow", func() bool { return agreed(nodes) })
}

// beatCut drops the heartbeats (cluster/reach.go) between one node and the
// others, and nothing else: memberlist's probes and gossip, push/pull and
// tables still flow. Its wrap is startNetWith's wrap.
type beatCut struct {
	mu      sync.Mutex
	iso     string // gossip address of the node whose heartbeats are cut; "" = none
	dropped int    // heartbeats dropped on their way to iso
}

// set cuts the heartbeats between iso (a gossip address) and the others;
// "" lets them flow again.
func (c *beatCut) set(iso string) {
	c.mu.Lock()
	c.iso, c.dropped = iso, 0
	c.mu.Unlock()
}

// droppedToIso returns how many heartbeats to the cut node were dropped.
func (c *beatCut) droppedToIso() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dropped
}

// drops reports whether packet b from gossip address from to address to
// is a heartbeat across the cut, counting those to the cut node.
func (c *beatCut) drops(from, to string, b []byte) bool {
	if !isBeat(b) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.iso == "" || (from == c.iso) == (to == c.iso) {
		return false
	}
	if to == c.iso {
		c.dropped++
	}
	return true
}

// isBeat reports whether b is a heartbeat packet as memberlist sends it
// (Memberlist.SendToAddress): its user-message type (8), then 'H' and the
// sender's 40-hex ID (reach.go), after a 5-byte CRC header (type 12) if
// memberlist adds one. It is not encrypted (no Secret) nor compressed
// (memberlist sends a compressed payload only if it is shorter: LZW turns
// the 42 bytes of a heartbeat with a random ID into at least 41, before its
// framing, in 10,000 random IDs). A packet that does not match flows, so
// a change of the format shows as no heartbeat dropped, never as a cut of
// anything else.
func isBeat(b []byte) bool {
	const userMsg, hasCrcMsg = 8, 12 // memberlist's message types
	switch {
	case len(b) == 47 && b[0] == hasCrcMsg:
		b = b[5:]
	case len(b) != 42:
		return false
	}
	return b[0] == userMsg && b[1] == 'H' && cluster.ValidID(string(b[2:]))
}

// wrap returns tr with the heartbeats across the cut dropped on send.
func (c *beatCut) wrap(t *testing.T, tr cluster.Transport) cluster.Transport {
	t.Helper()
	na, ok := tr.(memberlist.NodeAwareTransport)
	if !ok {
		t.Fatalf("%T is not a memberlist.NodeAwareTransport", tr)
	}
	ip, port, err := tr.FinalAdvertiseAddr("", 0)
	if err != nil {
		t.Fatal(err)
	}
	return &beatTransport{NodeAwareTransport: na, cut: c, self: net.JoinHostPort(ip.String(), strconv.Itoa(port))}
}

// beatTransport is a transport whose heartbeats across a beatCut are lost.
type beatTransport struct {
	memberlist.NodeAwareTransport
	cut  *beatCut
	self string // own gossip address
}

// WriteTo implements memberlist.Transport.
func (t *beatTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.cut.drops(t.self, addr, b) {
		return time.Now(), nil // lost on the way
	}
	return t.NodeAwareTransport.WriteTo(b, addr)
}

// WriteToAddress implements memberlist.NodeAwareTransport.
func (t *beatTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	if t.cut.drops(t.self, a.Addr, b) {
		return time.Now(), nil
	}
	return t.NodeAwareTransport.WriteToAddress(b, a)
}
