package cluster

import (
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// healWithin bounds the waits of the heal test: failure detection,
// re-planning, and the re-sync after the heal (back-off up to 10 s).
const healWithin = 45 * time.Second

// cutNet cuts one gossip address off from all others while cut is set.
// (The clustertest package does this for external tests; it imports this
// package, so this internal test has its own.)
type cutNet struct {
	mu  sync.Mutex
	off string // the address cut off; "" = none
}

func (c *cutNet) isCut(a, b string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.off != "" && a != b && (a == c.off || b == c.off)
}

func (c *cutNet) set(addr string) {
	c.mu.Lock()
	c.off = addr
	c.mu.Unlock()
}

// cutTransport is a NetTransport dropping packets and dials across the cut.
type cutTransport struct {
	*memberlist.NetTransport
	c    *cutNet
	self string
}

func (t *cutTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	if t.c.isCut(t.self, addr) {
		return time.Now(), nil
	}
	return t.NetTransport.WriteTo(b, addr)
}

func (t *cutTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return t.WriteTo(b, a.Addr)
}

func (t *cutTransport) DialTimeout(addr string, d time.Duration) (net.Conn, error) {
	if t.c.isCut(t.self, addr) {
		return nil, net.ErrClosed
	}
	return t.NetTransport.DialTimeout(addr, d)
}

func (t *cutTransport) DialAddressTimeout(a memberlist.Address, d time.Duration) (net.Conn, error) {
	return t.DialTimeout(a.Addr, d)
}

// newCutTransport starts a loopback transport on a free port on c.
func newCutTransport(t *testing.T, c *cutNet) *cutTransport {
	t.Helper()
	nt, err := memberlist.NewNetTransport(&memberlist.NetTransportConfig{
		BindAddrs: []string{"127.0.0.1"}, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	return &cutTransport{NetTransport: nt, c: c, self: net.JoinHostPort("127.0.0.1", strconv.Itoa(nt.GetAutoBindPort()))}
}

// TestMajorityBackBeforeTableStaysDown: a node cut off from the majority
// (StateNoQuorum) whose failure detector reports the majority alive again
// before a push/pull brought the majority's newer table must not turn ok:
// its table still gives it the slots the majority re-planned (and wrote)
// meanwhile. memberlist reports a returning node alive (gossip, or the
// push/pull's node list, which it merges before the delegate's state) ahead
// of the table; the test reports them alive directly while the network is
// still cut, so no table can arrive. After the heal the node re-syncs, drops
// the slots it lost and only then turns ok.
func TestMajorityBackBeforeTableStaysDown(t *testing.T) {
	cn := &cutNet{}
	nodes := startCutTrio(t, cn, nil)
	iso, rest := nodes[2], nodes[:2]
	before := iso.Table()
	owned := before.Ranges(iso.ID())
	if len(owned) == 0 {
		t.Fatal("the isolated node owns no slot")
	}

	cn.set(iso.GossipAddr())
	waitFor(t, healWithin, "the isolated node reports no-quorum", func() bool { return iso.State() == StateNoQuorum })
	waitFor(t, healWithin, "the two re-plan without it", func() bool {
		return allOK(rest) && rest[0].Table().IndexOf(iso.ID()) < 0
	})

	lost := recordLost(iso)

	// The majority is "back" for the isolated node's failure detector; the
	// network still drops everything, so its table stays the old one.
	for _, n := range rest {
		iso.memberUp(n.ml.LocalNode())
	}
	// Let the loop finish a full round after that: checkHealth stamps
	// checked at the start of a round; a second stamp means the round
	// that saw the majority (and its setState) is done.
	healthRounds(t, iso, 2)
	if tab := iso.Table(); tab != before {
		t.Fatalf("the isolated node got a new table (v%d) through a cut network", tab.Version())
	}
	if st := iso.State(); st == StateOK {
		t.Fatalf("the isolated node turned ok by its old table v%d (the majority holds v%d): it would serve slots others own",
			before.Version(), rest[0].Table().Version())
	}

	cn.set("")
	waitFor(t, healWithin, "one table on all three after the heal", func() bool { return allOK(nodes) })
	lost.check(t, owned)
}

// startCutTrio starts three nodes on cn with IDs 111…, 222…, 333… (the
// lowest plans, so with the highest cut off the majority keeps its
// coordinator), NodeTimeout 200 ms, edit applied to each node's Config
// (may be nil), and waits until all three are ok on one table.
func startCutTrio(t *testing.T, cn *cutNet, edit func(i int, cfg *Config)) []*Node {
	t.Helper()
	var nodes []*Node
	for i := range 3 {
		cfg := Config{NodeID: strings.Repeat(strconv.Itoa(i+1), 40), AnnouncePort: 7000 + i,
			NodeTimeout: 200 * time.Millisecond, Transport: newCutTransport(t, cn)}
		if i > 0 {
			cfg.Join = []string{nodes[0].GossipAddr()}
		}
		if edit != nil {
			edit(i, &cfg)
		}
		nodes = append(nodes, startNode(t, cfg))
	}
	waitFor(t, healWithin, "three nodes agree", func() bool { return allOK(nodes) })
	return nodes
}

// allOK reports whether every node of ns is StateOK and they agree on one
// table.
func allOK(ns []*Node) bool {
	for _, n := range ns {
		if n.State() != StateOK {
			return false
		}
	}
	return converged(ns)
}

// healthRounds waits until n's loop has stamped k more state checks: a
// second stamp means the round that saw a change (and its setState) is done.
func healthRounds(t *testing.T, n *Node, k int) {
	t.Helper()
	for range k {
		c := n.checked.Load()
		waitFor(t, healWithin, "a health check", func() bool { return n.checked.Load() != c })
	}
}

// lostSlots records the slots a node reports lost, and whether it was ok
// when told to drop them.
type lostSlots struct {
	mu       sync.Mutex
	slots    map[int]bool
	okAtLoss atomic.Bool
}

// recordLost registers a lostSlots recorder with n.
func recordLost(n *Node) *lostSlots {
	l := &lostSlots{slots: map[int]bool{}}
	n.OnSlotsLost(func(rs []SlotRange) {
		if n.State() == StateOK {
			l.okAtLoss.Store(true)
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, r := range rs {
			for s := r.Start; s <= r.End; s++ {
				l.slots[s] = true
			}
		}
	})
	return l
}

// check fails t if the node was ok when told to drop lost slots, or if a
// slot of owned was not reported lost.
func (l *lostSlots) check(t *testing.T, owned []SlotRange) {
	t.Helper()
	if l.okAtLoss.Load() {
		t.Error("the isolated node was ok when it was told to drop its lost slots")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range owned {
		for s := r.Start; s <= r.End; s++ {
			if !l.slots[s] {
				t.Fatalf("slot %d owned before the partition not reported lost", s)
			}
		}
	}
}
