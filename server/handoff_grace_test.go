package server

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/cluster/clustertest"
	"github.com/cached/cached/server/config"
	"github.com/redis/go-redis/v9"
)

// TestLeaveJustAfterPlannedIn checks the other way out of leaveUnplanned
// (TestLeaveBeforePlannedIn checks the first): a joining node is asked to
// stop while its table does not list it yet, but the coordinator planned
// it in before it saw the node's leave flag, and that table reaches the
// node within plannedInGrace. The node must then hand over as any member
// ("handing slots over", then "slots handed over"; not "nothing to hand
// over"), and end with no slot while the others own every slot and every
// key written before the join reads back.
//
// The order is made by holding the joiner's gossip, not by timing: every
// node's transport holds what goes to the joiner (packets queued, dials
// waiting) from the start, and what the joiner sends from its first dial
// on (its join's push/pull, which lets the coordinator see it and gives it
// the table from before: memberlist answers a push/pull before it merges
// the caller's state). So the coordinator plans it in while no table
// listing it can reach it, and no leave flag can reach the coordinator
// until the test lets the joiner speak, after the hand-over has begun.
// What is left to time: the joiner adopts the table and turns ok within
// the product's 1 s grace once the test lets it in (milliseconds; it
// waits for nothing else), and the coordinator does not declare the
// joiner dead while it is held (its probes fail meanwhile): the nodes
// probe every 3 s, so that takes some 12 s of suspicion, where the hold
// lasts well under a second.
func TestLeaveJustAfterPlannedIn(t *testing.T) {
	j := newHeldJoin(t)
	h, a, b, c, an, cn, ctx, cc, acked := j.h, j.a, j.b, j.c, j.an, j.cn, j.ctx, j.cc, j.acked

	// The coordinator plans the joiner in; the table cannot reach it.
	pollFor(t, "the coordinator plans the joiner in", func() bool { return an.Table().IndexOf(cn.ID()) >= 0 })
	if cn.Table().IndexOf(cn.ID()) >= 0 || cn.State() == cluster.StateOK {
		t.Fatalf("the joiner has a table listing it (v%d, %v) although its gossip is held", cn.Table().Version(), cn.State())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.handOff("test")
	}()
	// BeginLeave runs after leaveUnplanned found the node outside its
	// table; no table listing it can have come since.
	pollFor(t, "the stop sets the leave flag", func() bool { return cn.Leaving() })
	if v := cn.Table(); v.IndexOf(cn.ID()) >= 0 {
		t.Fatalf("the joiner adopted v%d, which lists it, while its gossip was held", v.Version())
	}
	released := time.Now()
	h.to.release() // the table that planned the joiner in arrives now
	var tookOK time.Duration
	pollFor(t, "the stop goes on or gives up", func() bool {
		if c.handoff.leaveStarted.Load() != 0 {
			tookOK = time.Since(released)
			return true
		}
		return isClosed(done)
	})
	h.from.release() // the coordinator sees the leave flag and plans the joiner out
	pollFor(t, "the stop returns", func() bool { return isClosed(done) })

	logs := j.handedOverLog(t)
	if strings.Contains(logs, "nothing to hand over") || c.handoff.leaveStarted.Load() == 0 {
		t.Fatalf("the joiner, planned in within the grace, left without handing over:\n%s", logs)
	}
	if !cn.HandedOff() {
		t.Fatalf("after the hand-over the joiner's table v%d still gives it slots", cn.Table().Version())
	}
	t.Logf("the joiner turned ok and began the hand-over %v after the table was let through", tookOK.Round(time.Millisecond))
	waitMembers(t, []*Server{a, b}, 2) // the two own every slot again
	if v := an.Table(); v.IndexOf(cn.ID()) >= 0 {
		t.Fatalf("the coordinator's table v%d still lists the joiner", v.Version())
	}
	readsBack(t, ctx, cc, acked, "after the joiner left")
}

// heldJoin is the setup of the tests of a joiner asked to stop around
// the table that plans it in: nodes A (the lowest ID, the coordinator)
// and B with cluster-replicas 1 and keys written with WAIT (acked, through
// cc), then joiner C, logging to logFile, whose gossip from the others is
// held (h.to) from the start. Failure detection is slow: the joiner's held
// gossip fails the others' probes of it (see gossipHold).
type heldJoin struct {
	h       *gossipHold
	a, b, c *Server
	an, cn  *cluster.Node
	ctx     context.Context
	cc      *redis.ClusterClient
	acked   map[string]string
	logFile string
}

func newHeldJoin(t *testing.T) *heldJoin {
	t.Helper()
	h := &gossipHold{to: holdDir{held: true, open: make(chan struct{})}, from: holdDir{open: make(chan struct{})}}
	nw := clustertest.NewNet() // the sockets; never partitioned
	node := func(id string, joiner bool, mutate func(c *config.Config)) func(c *config.Config) {
		return func(c *config.Config) {
			c.Cluster.NodeID = strings.Repeat(id, 40) // the lowest ID (the first node) coordinates
			c.Cluster.Replicas = 1
			c.Cluster.ProbeInterval, c.Cluster.ProbeTimeout = 3000, 2000
			c.Cluster.Transport = func(host string) (cluster.Transport, error) {
				tr, err := nw.Transport(host)
				if err != nil {
					return nil, err
				}
				if !joiner {
					return &holdTransport{Transport: tr, h: h}, nil
				}
				ip, port, err := tr.FinalAdvertiseAddr("", 0)
				if err != nil {
					_ = tr.Shutdown()
					return nil, err
				}
				h.setJoiner(net.JoinHostPort(ip.String(), strconv.Itoa(port)))
				return &holdTransport{Transport: tr, h: h, joiner: true}, nil
			}
			if mutate != nil {
				mutate(c)
			}
		}
	}
	a := startClusterNode(t, "", node("1", false, nil))
	seed := a.cl.node.Load().GossipAddr()
	b := startClusterNode(t, seed, node("2", false, nil))
	waitMembers(t, []*Server{a, b}, 2)
	ctx := ctxT(t)
	cc := newClusterClient(t, a.Addr())
	var keys []string
	for s, k := range slotKeys() {
		if s%64 == 0 {
			keys = append(keys, k)
		}
	}
	acked := writeAcked(t, ctx, cc, keys, 16)
	logFile := filepath.Join(t.TempDir(), "cached.log")
	c := startClusterNode(t, seed, node("3", true, func(c *config.Config) { c.LogFile = logFile }))
	t.Cleanup(h.release) // before the nodes close (cleanups run last first): held dials end
	return &heldJoin{h: h, a: a, b: b, c: c, an: a.cl.node.Load(), cn: c.cl.node.Load(), ctx: ctx, cc: cc, acked: acked, logFile: logFile}
}

// errHeld is returned by a held dial whose timeout ran out.
var errHeld = errors.New("gossip held by the test")

// gossipHold holds the gossip traffic between one node, the joiner, and
// the others, each direction until the test releases it: packets are
// queued and sent on release, dials wait for it (up to their timeout),
// and what the joiner answers on a stream another node opened is read
// only after the from direction is released. Every node sends through a
// holdTransport (its own sends are held), so a held packet is late, never
// lost; a dial that waits longer than its timeout fails (memberlist's
// probes of the joiner, whose suspicion the nodes' slow probing outlasts).
type gossipHold struct {
	mu     sync.Mutex // protects joiner
	joiner string     // the joiner's gossip address (host:port)
	to     holdDir    // to the joiner: held from the start
	from   holdDir    // from the joiner: held from its first dial (its join) on
}

func (h *gossipHold) setJoiner(addr string) {
	h.mu.Lock()
	h.joiner = addr
	h.mu.Unlock()
}

func (h *gossipHold) isJoiner(addr string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return addr == h.joiner
}

// release releases both directions.
func (h *gossipHold) release() {
	h.to.release()
	h.from.release()
}

// holdDir is one held direction.
type holdDir struct {
	mu       sync.Mutex    // protects the fields below
	held     bool          // traffic waits
	released bool          // release ran: nothing waits any more
	open     chan struct{} // closed by release
	queued   []heldPacket  // packets sent while held, in order
}

type heldPacket struct {
	tr   cluster.Transport
	b    []byte
	addr string
}

// state returns whether the direction is held and the channel release
// closes.
func (d *holdDir) state() (bool, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.held, d.open
}

// hold makes the direction held, unless it was released.
func (d *holdDir) hold() {
	d.mu.Lock()
	d.held = d.held || !d.released
	d.mu.Unlock()
}

// write sends b to addr through tr, or queues it while held.
func (d *holdDir) write(tr cluster.Transport, b []byte, addr string) (time.Time, error) {
	d.mu.Lock()
	if d.held {
		d.queued = append(d.queued, heldPacket{tr: tr, b: slices.Clone(b), addr: addr})
		d.mu.Unlock()
		return time.Now(), nil
	}
	d.mu.Unlock()
	return tr.WriteTo(b, addr)
}

// wait waits until the direction is not held, at most timeout.
func (d *holdDir) wait(timeout time.Duration) error {
	held, open := d.state()
	if !held {
		return nil
	}
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case <-open:
		return nil
	case <-tm.C:
		return errHeld
	}
}

// release sends the queued packets and lets waiting dials and reads go.
func (d *holdDir) release() {
	d.mu.Lock()
	if d.released {
		d.mu.Unlock()
		return
	}
	d.held, d.released = false, true
	close(d.open)
	queued := d.queued
	d.queued = nil
	d.mu.Unlock()
	for _, p := range queued {
		_, _ = p.tr.WriteTo(p.b, p.addr) // a node already closed drops it
	}
}

// holdTransport is a node's gossip transport with gossipHold's rules. It
// is no memberlist.NodeAwareTransport (the embedded interface has only
// the plain methods), so memberlist sends and dials through WriteTo and
// DialTimeout by host:port.
type holdTransport struct {
	cluster.Transport
	h      *gossipHold
	joiner bool // this is the joiner's transport
}

// WriteTo implements cluster.Transport.
func (t *holdTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	switch {
	case t.joiner:
		return t.h.from.write(t.Transport, b, addr)
	case t.h.isJoiner(addr):
		return t.h.to.write(t.Transport, b, addr)
	}
	return t.Transport.WriteTo(b, addr)
}

// DialTimeout implements cluster.Transport.
func (t *holdTransport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	switch {
	case t.joiner:
		if err := t.h.from.wait(timeout); err != nil {
			return nil, err
		}
		conn, err := t.Transport.DialTimeout(addr, timeout)
		if err == nil {
			t.h.from.hold() // after the join's push/pull: held from now on
		}
		return conn, err
	case t.h.isJoiner(addr):
		if err := t.h.to.wait(timeout); err != nil {
			return nil, err
		}
		conn, err := t.Transport.DialTimeout(addr, timeout)
		if err != nil {
			return nil, err
		}
		return &heldReplies{Conn: conn, from: &t.h.from}, nil
	}
	return t.Transport.DialTimeout(addr, timeout)
}

// heldReplies is a stream to the joiner whose replies are read only once
// the joiner's direction is released (a push/pull answer carries its meta,
// and with it the leave flag).
type heldReplies struct {
	net.Conn
	from *holdDir
}

// Read implements net.Conn.
func (c *heldReplies) Read(b []byte) (int, error) {
	if held, open := c.from.state(); held {
		<-open
	}
	return c.Conn.Read(b)
}

// handedOverLog returns the joiner's log, failing the test unless it says
// the joiner handed its slots over.
func (j *heldJoin) handedOverLog(t *testing.T) string {
	t.Helper()
	logs := readLog(t, j.logFile)
	for _, want := range []string{"cluster: handing slots over before leaving", "cluster: slots handed over"} {
		if !strings.Contains(logs, want) {
			t.Fatalf("the log does not say %q:\n%s", want, logs)
		}
	}
	return logs
}

// readLog returns the text of the log file path.
func readLog(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
