package server

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/config"
	"github.com/cached/cached/server/peer"
	"github.com/cached/cached/store"
)

// This file holds cluster mode's state and the routing hook dispatch calls:
// a key's slot, CROSSSLOT, MOVED, or forwarding in proxy mode
// (cluster_proxy.go). CLUSTER and its friends are in cluster_cmds.go.

// clusterState is the node's cluster membership and routing state. It exists
// only with cluster-enabled yes.
type clusterState struct {
	s     *Server
	proxy bool // cluster-route proxy
	host  string
	port  int

	anyReads bool // cluster-replica-reads any: replica copies serve reads without READONLY (repl_apply.go)

	mu     sync.Mutex // serializes node start, swaps (CLUSTER RESET) and close
	closed bool       // guarded by mu
	node   atomic.Pointer[cluster.Node]
	view   atomic.Pointer[clusterView]   // set by setView
	viewCh atomic.Pointer[chan struct{}] // closed when view changes (setView)

	peers *peer.Pool  // node-to-node connections (cluster_proxy.go)
	libs  librarySync // the function libraries, cluster-wide (cluster_functions.go)

	sent, received atomic.Uint64 // node-to-node messages (CLUSTER INFO stats)
	lostKeys       atomic.Uint64 // keys dropped because the node no longer holds their slot
	drops          slotDropper   // background drops of slots no longer held (slotdrop.go)
	viewWaits      atomic.Uint64 // commands held for the view instead of MOVED to a node handing their slot over
}

// clusterView is one slot table with what routing derives from it.
type clusterView struct {
	t     *cluster.Table
	self  int      // index of this node in t.Members()
	addrs []string // RESP address of each member, by index
	// incoming: t stages some slot to this node (routeMayWait looks at
	// commands' slots only then).
	incoming bool
}

func newClusterView(t *cluster.Table, selfID string) *clusterView {
	ms := t.Members()
	v := &clusterView{t: t, self: -1, addrs: make([]string, len(ms))}
	for i, m := range ms {
		v.addrs[i] = m.Addr()
		if m.ID == selfID {
			v.self = i
		}
	}
	if v.self >= 0 && t.Staged() > 0 {
		for slot := 0; slot < cluster.NumSlots && !v.incoming; slot++ {
			v.incoming = t.IncomingIndex(slot) == v.self
		}
	}
	return v
}

// clusterClient is a client's cluster flags.
type clusterClient struct {
	readonly bool // READONLY: reads may be served by replicas (none yet)
	asking   bool // ASKING: the next command may touch an importing slot
	peer     bool // a node-to-node connection: never forward its commands
	txKeyed  bool // inside MULTI, a queued command had keys, of slot txSlot
	txSlot   int
	// slotOf is the slot of the running command's keys as routing found
	// it (a script's for each of its commands), so that noteWrite need
	// not hash them again; call forgets it when the command ends.
	slotOf routedSlot
}

// routedSlot is the slot of one command's keys, found for the command
// whose arguments start at args (the same slice, not equal bytes).
type routedSlot struct {
	args *[]byte // &args[0]; nil: none
	cmd  *command
	slot int
	n    int // how many keys
}

// routed remembers that cmd's keys in args are n keys of slot (see
// clusterClient.slotOf).
func (c *client) routed(cmd *command, args [][]byte, slot, n int) {
	c.clu.slotOf = routedSlot{args: &args[0], cmd: cmd, slot: slot, n: n}
}

// commandSlot is clusterState.commandSlot for the command c runs, without
// hashing again keys routing hashed for it.
func (c *client) commandSlot(cmd *command, args [][]byte) (slot, n int) {
	if r := &c.clu.slotOf; r.args != nil && len(args) > 0 && r.args == &args[0] && r.cmd == cmd {
		return r.slot, r.n
	}
	slot, n, _ = c.s.cl.commandSlot(cmd, args)
	return slot, n
}

// newClusterState prepares cluster mode in newServer, before any client
// connects; startCluster starts the node once the listener is bound.
func (s *Server) newClusterState() {
	if !s.cfg.Cluster.Enabled {
		return
	}
	cs := &clusterState{s: s, proxy: s.cfg.Cluster.Route == "proxy", anyReads: s.cfg.Cluster.ReplicaReads == "any"}
	cs.libs.kick = make(chan struct{}, 1)
	cs.peers = peer.NewPool(peer.Options{IdleTimeout: s.idleTimeout.Load, Setup: s.peerSetup, Watch: s.watchPeer})
	cs.initDrops()
	s.cl = cs
}

// startCluster creates the cluster node once the client listener is bound.
// Until it has, keyed commands answer CLUSTERDOWN.
func (s *Server) startCluster() error {
	cs := s.cl
	if cs == nil {
		return nil
	}
	host, portStr, err := net.SplitHostPort(s.Addr())
	if err != nil {
		return fmt.Errorf("server: cluster: %w", err)
	}
	port, _ := strconv.Atoi(portStr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() && s.cfg.Cluster.AnnounceIP == "" {
		s.log.Warn("bound to every address: announcing 127.0.0.1, set cluster-announce-ip")
		host = "127.0.0.1"
	}
	cfg, err := s.nodeConfig(host, port)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.host, cs.port = host, port
	return cs.startNode(cfg)
}

// startNode creates a cluster node and routes by its table. Called with mu
// held or before the state is shared.
func (cs *clusterState) startNode(cfg cluster.Config) error {
	n, err := cluster.New(cfg)
	if err != nil {
		return fmt.Errorf("server: cluster: %w", err)
	}
	cs.node.Store(n)
	id := n.ID()
	before := cs.view.Load() // nil, or the view of the node CLUSTER RESET replaced
	if startedHook != nil {
		startedHook(n)
	}
	n.Subscribe(func(t *cluster.Table) {
		if cs.node.Load() != n {
			return
		}
		v := newClusterView(t, id)
		defer cs.membersAdded(cs.view.Load(), v) // cluster_functions.go
		cs.drops.claimView(v)                    // slots given back lose what was left of them first (slotdrop.go)
		if rs := cs.s.repl.Load(); rs != nil {   // repl.go: promotion before routing
			rs.switchView(v, func() { cs.setView(v) })
			return
		}
		cs.setView(v)
	})
	n.OnSlotsLost(func(lost []cluster.SlotRange) {
		if cs.node.Load() == n {
			cs.dropLostSlots(lost)
		}
	})
	// A table the node delivered before Subscribe ran reaches routing
	// here; never the table of the member this process restarts (its
	// slots' data is on their replicas: cluster.Node.ServedTable), and
	// never over a view a delivery stored since Subscribe.
	if v := newClusterView(n.ServedTable(), id); cs.view.CompareAndSwap(before, v) {
		cs.wakeViewWaiters()
	}
	cs.s.log.Info("cluster node started", "id", id, "gossip", n.GossipAddr())
	return nil
}

// listed reports whether routing's table lists the node id.
func (cs *clusterState) listed(id string) bool {
	v := cs.view.Load()
	return v != nil && v.t.IndexOf(id) >= 0
}

// startedHook, if set (tests only), runs in startNode between the node's
// start and its subscription: a test makes it wait for what a peer's
// gossip brings first on a loaded machine.
var startedHook func(*cluster.Node)

// setView makes v the routing view and wakes the commands waiting for the
// view to change (awaitView).
func (cs *clusterState) setView(v *clusterView) {
	cs.view.Store(v)
	cs.wakeViewWaiters()
}

// wakeViewWaiters wakes the commands waiting for the view to change.
func (cs *clusterState) wakeViewWaiters() {
	ch := make(chan struct{})
	if old := cs.viewCh.Swap(&ch); old != nil {
		close(*old)
	}
}

// awaitView waits until the routing view is no longer v, or until
// deadline or done, and reports whether it changed.
func (cs *clusterState) awaitView(v *clusterView, deadline time.Time, done <-chan struct{}) bool {
	for {
		ch := cs.viewCh.Load() // before the check: a view stored after it closes this channel
		if cs.view.Load() != v {
			return true
		}
		wait := time.Until(deadline)
		if wait <= 0 || ch == nil {
			return false
		}
		t := time.NewTimer(wait)
		select {
		case <-*ch:
		case <-t.C:
		case <-done:
			t.Stop()
			return cs.view.Load() != v
		}
		t.Stop()
	}
}

// close leaves the cluster and closes the node-to-node connections.
func (cs *clusterState) close() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if n := cs.node.Load(); n != nil {
		_ = n.Close()
	}
	cs.drops.close()
	cs.peers.Close()
	cs.closed = true
}

// reset leaves the cluster and starts again as a one-node cluster; hard also
// takes a new node ID (CLUSTER RESET).
func (cs *clusterState) reset(hard bool) error {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	old := cs.node.Load()
	if cs.closed || old == nil {
		return ErrClusterConfig
	}
	cfg, err := cs.s.nodeConfig(cs.host, cs.port)
	if err != nil {
		return err
	}
	cfg.Join = nil
	cfg.BindPort = gossipPort(old.GossipAddr())
	if !hard {
		cfg.NodeID = old.ID()
	}
	_ = old.Leave(time.Second)
	_ = old.Close()
	return cs.startNode(cfg)
}

func gossipPort(addr string) int {
	_, p, err := config.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	return p
}

// commandSlot returns the slot of the command's keys, how many keys it has
// and whether they span several slots. It allocates nothing for commands
// whose keys first/last/step describe.
func (cs *clusterState) commandSlot(cmd *command, args [][]byte) (slot, n int, cross bool) {
	for key := range cmd.keys(args) {
		sl := protocol.KeySlot(key)
		if n > 0 && sl != slot {
			cross = true
		}
		slot = sl
		n++
	}
	return slot, n, cross
}

// routeCluster answers for a command whose keys this node does not serve
// (MOVED, CROSSSLOT, or the owner's reply in proxy mode) and returns true;
// it returns false when the command should run here. now is the
// command's start (a store.Mono reading, dispatchCommand's), by which the
// node's state is checked: no clock read of its own.
func (s *Server) routeCluster(c *client, cmd *command, args [][]byte, now int64) bool {
	cs := s.cl
	c.Admitted = 0 // set below when the command runs here as its slot's primary
	c.clu.slotOf.args = nil
	c.clu.asking = false // no slot is ever importing: ASKING changes nothing
	if !c.inMulti() {
		c.clu.txKeyed = false
	}
	if cmd.refusal != nil {
		if msg := cmd.refusal(args); msg != "" {
			c.Err(msg)
			return true
		}
	}
	slot, n, cross := cs.commandSlot(cmd, args)
	if n == 0 {
		if cn, ok := c.Conn.(*conn); ok {
			cn.settle() // forwarded replies first: see cluster_proxy_batch.go
		}
		return false
	}
	v := cs.view.Load()
	if v == nil { // the node is starting
		c.reject(cmd, protocol.ErrClusterDown)
		return true
	}
	down := cs.downAt(now) && !cs.allowedWhenDown(cmd)
	if cross {
		if cs.proxy && cmd.split != splitNone && !down {
			if cs.canForward(c, cmd) {
				return cs.split(c, cmd, args, v)
			}
			if c.clu.peer && cs.allLocal(cmd, args, v) {
				return false // a part of a command split by a peer
			}
		}
		c.reject(cmd, protocol.ErrCrossSlot)
		return true
	}
	if down { // joining, or cut off from the majority: see cluster_partition.go
		c.reject(cmd, protocol.ErrClusterDown)
		return true
	}
	if c.inMulti() { // a transaction's keys must share one slot, as EXEC checks in Redis
		if c.clu.txKeyed && slot != c.clu.txSlot {
			c.reject(cmd, protocol.ErrCrossSlot)
			return true
		}
		c.clu.txKeyed, c.clu.txSlot = true, slot
	}
	owner := v.t.OwnerIndex(slot)
	if owner == v.self || owner < 0 {
		if rs := s.repl.Load(); rs != nil && rs.flipping(slot) { // repl_flip.go: a hand-over
			start := s.handoff.waits.begin()
			held := rs.awaitFlip(slot)
			s.handoff.waits.observe(waitFlip, start)
			if held {
				c.reject(cmd, errHandOver)
				return true
			}
			return s.routeCluster(c, cmd, args, store.Mono()) // it waited: the table may have moved on meanwhile
		}
		c.Admitted = slot + 1 // its first lock checks the slot's fence (kernel.Ctx.CheckFence)
		c.routed(cmd, args, slot, n)
		return false
	}
	if (c.clu.readonly || cs.anyReads) && cmd.flags&flagReadonly != 0 && !c.inMulti() && s.replicaReadable(slot) {
		return false // READONLY: this node's replica copy serves the read (repl.go)
	}
	rs := s.repl.Load()
	if rs != nil && rs.ownerHandingOver(slot, v, owner) { // repl_flip.go
		cs.viewWaits.Add(1)
		start := s.handoff.waits.begin()
		moved := cs.awaitView(v, start.Add(flipWait), rs.ctx.Done())
		s.handoff.waits.observe(waitOwnerSealed, start)
		if moved {
			return s.routeCluster(c, cmd, args, store.Mono()) // it waited: route by the table that moved the slot
		}
	}
	if cs.canForward(c, cmd) {
		cs.forward(c, args, v.addrs[owner])
		return true
	}
	if cs.queueRemote(c, cmd) {
		return false // queued: EXEC forwards the transaction to the owner (cluster_proxy_tx.go)
	}
	if rs != nil && rs.awaitNextOwner(slot, v, owner) { // repl_flip.go
		return s.routeCluster(c, cmd, args, store.Mono())
	}
	c.reject(cmd, protocol.Moved(slot, v.addrs[owner]))
	return true
}

// canForward reports whether, in proxy mode, cmd may be forwarded to the
// owner of its keys: not for node-to-node connections (a forwarded command
// is never forwarded again), not inside MULTI, not for subscriptions and
// WATCH, whose state lives on the connection, not for blocking commands,
// which would stall the shared connection, and not on a subscribed
// connection: those get MOVED.
func (cs *clusterState) canForward(c *client, cmd *command) bool {
	if !cs.proxy || c.clu.peer || c.inMulti() || cmd.flags&(flagBlocking|flagNoMulti) != 0 ||
		cmd.role&roleConnState != 0 {
		return false
	}
	if c.ps.Load() != nil { // a subscribed connection's replies interleave with messages
		if sub, psub, ssub := c.subCounts(); sub+psub+ssub > 0 {
			return false
		}
	}
	return true
}

// allLocal reports whether this node owns the slot of every key.
func (cs *clusterState) allLocal(cmd *command, args [][]byte, v *clusterView) bool {
	for i := 1; i < len(args); i += max(cmd.step, 1) {
		if v.t.OwnerIndex(protocol.KeySlot(args[i])) != v.self {
			return false
		}
	}
	return true
}

// inMulti reports whether the client has an open MULTI (c.multi also exists
// for WATCH alone).
func (c *client) inMulti() bool { return c.multi != nil && c.multi.active }
