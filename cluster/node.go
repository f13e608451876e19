package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Node is this process's membership in a cluster: a memberlist instance plus
// the cluster's agreed slot table. The coordinator (the member with the
// lowest ID among those this node sees) plans the next table with [Plan]
// when members change; tables travel by gossip and every node adopts the
// newest (highest version, then highest term, then lowest planner ID, then
// lowest encoding; a node planning from another planner's table takes the
// next term, see [Table.Term]).
// All methods are safe for concurrent use.
//
// A Node owns five goroutines besides memberlist's own: one that calls
// subscribers, checks the node's [State] and ends Forget bans; one that
// stamps the state check while that one is busy (so that slow subscribers
// do not read as a paused process); one that joins the seeds (if
// Config.Join is set) and then keeps re-joining members of past tables that
// are not in the live view (partitions heal on their own); one that
// re-advertises the node's meta when its leaving flag or holding report
// changes; and one that sends heartbeats. Close stops them all.
type Node struct {
	id       string
	replicas int
	stage    bool // Config.StageMoves with replicas
	log      *slog.Logger
	ml       *memberlist.Memberlist // set by New before it returns
	self     Member                 // set by New before it returns
	table    atomic.Pointer[Table]  // current snapshot, never nil after New
	enc      atomic.Pointer[[]byte] // encodeTable(table), swapped with it under mu
	queue    *memberlist.TransmitLimitedQueue
	numNodes atomic.Int32 // len(seen), for queue (which must not take mu)

	mu     sync.Mutex           // protects the fields below
	seen   map[string]Member    // members memberlist reports alive, forgotten ones included
	heard  map[string]time.Time // last heartbeat (or alive report) of members in seen (reach.go)
	banned map[string]time.Time // forgotten IDs -> end of their ban
	banFor time.Duration        // ban length (forgetBan; tests shorten it)
	subs   []func(*Table)
	lostFn []func([]SlotRange)
	lost   []uint64          // bitmap of slots lost since the last delivery
	gone   map[string]bool   // IDs that left gracefully (not counted for quorum)
	known  map[string]string // ID -> gossip address of members of adopted tables
	// caughtUp: when a member outside the table last got it pushed on a
	// heartbeat (reach.go, catchUpLocked).
	caughtUp map[string]time.Time
	catchUps atomic.Int64 // tables pushed so (tests, figures)

	// Staged moves (stage.go, node_stage.go).
	meta      meta                 // this node's meta as last set (ID, address fixed)
	leavers   map[string]bool      // peers whose meta says they are leaving
	downSeen  map[string]bool      // IDs memberlist reported left or dead (until seen alive again)
	joinedAt  time.Time            // when needsPlanLocked first saw the node joined
	reports   map[string]holding   // holding reports by member ID, this node's included
	earlier   map[string]holding   // each member's report for the version before its current report's
	lastLive  map[string]*lastLive // by member ID: when it last reported each copy live (lastlive.go)
	dirty     bool                 // something the next plan depends on changed
	leaving   atomic.Bool          // BeginLeave was called
	del       *delegate            // set by New
	metaKick  chan struct{}        // capacity 1: wakes metaLoop
	virtFor   *Table               // the table virtIDs was computed for
	virtIDs   []string             // member IDs of virtualTable(virtFor)
	adoptedAt time.Time            // when the current table was adopted

	// Restarts (node_restart.go): fresh until the node adopts a table
	// that does not list it; restarted while a table it adopted fresh
	// lists it; restarters are the peers whose meta says restarted.
	fresh, restarted bool
	restarters       map[string]bool

	seeds       []string      // Config.Join
	nodeTimeout time.Duration // Config.NodeTimeout
	probeEvery  time.Duration // Config.ProbeInterval: beatLoop's round
	reachWindow time.Duration // reachRounds probe intervals: how long a member counts without a heartbeat
	joined      atomic.Bool   // no seeds, or joined the cluster
	state       atomic.Int32  // State
	beenOK      atomic.Bool   // the state was ok at some time since the node started (BeenOK)
	lastQuorum  time.Time     // owned by loop: last time a majority was seen
	clock       func() int64  // Config.Clock: monotonic ns, the pause check's time
	checked     atomic.Int64  // clock reading of the last state check (loop), or of watchLoop's stamp while the loop is busy
	busy        atomic.Bool   // the loop runs subscribers or plans: watchLoop stamps checked
	hadQuorum   bool          // owned by loop: the last check saw a majority
	lossReach   int           // owned by loop: >0 while an ok node misses the majority: fewest members seen meanwhile
	resync      atomic.Bool   // paused or lost the majority: not ok until a state exchange with a majority
	joinKick    chan struct{} // capacity 1: wakes joinLoop

	kick chan struct{}  // capacity 1: wakes loop after a new table or ban
	stop chan struct{}  // closed by shutdown
	wg   sync.WaitGroup // the goroutines the node owns

	lifeMu sync.Mutex // serializes Leave and Join with shutdown; protects closed, left
	closed bool
	left   bool

	closeOnce sync.Once
	closeErr  error
}

// New starts a node: it creates the memberlist transport (listening at once),
// and, if cfg.Join is set, a background loop joining the seeds. The returned
// node's Table holds just itself (version 1) until it adopts the cluster's;
// with seeds it holds no member (version 0) and the node is in StateJoining.
func New(cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	n := &Node{
		id:       cfg.NodeID,
		replicas: cfg.Replicas,
		stage:    cfg.StageMoves && cfg.Replicas > 0,
		log:      cfg.Logger,
		seen:     make(map[string]Member),
		heard:    make(map[string]time.Time),
		banned:   make(map[string]time.Time),
		banFor:   forgetBan,
		lost:     make([]uint64, NumSlots/64),
		leavers:  make(map[string]bool),
		downSeen: make(map[string]bool),
		reports:  make(map[string]holding),
		earlier:  make(map[string]holding),
		lastLive: make(map[string]*lastLive),
		dirty:    true,
		metaKick: make(chan struct{}, 1),
		gone:     make(map[string]bool),
		known:    make(map[string]string),
		caughtUp: make(map[string]time.Time),
		seeds:    slices.Clone(cfg.Join),

		fresh:      len(cfg.Join) > 0,
		restarters: make(map[string]bool),

		nodeTimeout: cfg.NodeTimeout,
		clock:       cfg.Clock,
		probeEvery:  cfg.ProbeInterval,
		reachWindow: reachRounds * cfg.ProbeInterval,
		lastQuorum:  time.Now(),
		joinKick:    make(chan struct{}, 1),
		kick:        make(chan struct{}, 1),
		stop:        make(chan struct{}),
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	empty := BuildTable(nil, n.replicas, 0)
	emptyEnc := encodeTable(empty)
	n.table.Store(empty)
	n.enc.Store(&emptyEnc)
	n.queue = &memberlist.TransmitLimitedQueue{
		NumNodes:       func() int { return int(n.numNodes.Load()) },
		RetransmitMult: 4,
	}
	n.meta = meta{ID: cfg.NodeID, Host: cfg.AnnounceHost, Port: cfg.AnnouncePort}
	d := &delegate{n: n}
	m := encodeMeta(n.meta)
	d.meta.Store(&m)
	n.del = d
	if len(m) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("%w: node meta is %d bytes, limit %d", ErrInvalidConfig, len(m), memberlist.MetaMaxSize)
	}
	ml, err := memberlist.Create(memberlistConfig(cfg, d))
	if err != nil {
		return nil, fmt.Errorf("cluster: start memberlist: %w", err)
	}
	n.ml = ml
	self, ok := memberOf(ml.LocalNode())
	if !ok { // our own meta: cannot happen
		_ = ml.Shutdown()
		return nil, fmt.Errorf("%w: own node meta unreadable", ErrInvalidConfig)
	}
	self.Self = true
	n.self = self
	n.checked.Store(n.clock())
	n.mu.Lock()
	if len(n.seeds) == 0 {
		n.joined.Store(true)
		own := BuildTable([]Member{self}, n.replicas, 1)
		own.planner = n.id
		n.adoptLocked(own, encodeTable(own)) // unless a peer's table came first
	} else {
		n.state.Store(int32(StateJoining))
	}
	n.mu.Unlock()
	n.wg.Add(5)
	go n.loop()
	go n.watchLoop()
	go n.joinLoop()
	go n.metaLoop()
	go n.beatLoop()
	return n, nil
}

// memberlistConfig maps cfg (defaults filled) onto memberlist's LAN config.
func memberlistConfig(cfg Config, d *delegate) *memberlist.Config {
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.NodeID
	mc.BindAddr = cfg.BindAddr
	mc.BindPort = cfg.BindPort
	mc.AdvertiseAddr = cfg.AdvertiseAddr
	mc.AdvertisePort = cfg.BindPort // memberlist replaces both when BindPort is 0
	mc.ProbeInterval = cfg.ProbeInterval
	mc.ProbeTimeout = cfg.ProbeTimeout
	mc.GossipInterval = cfg.GossipInterval
	if cfg.SuspicionMult > 0 {
		mc.SuspicionMult = cfg.SuspicionMult
	}
	// Full state exchange (anti-entropy) every 5 s instead of the LAN
	// default 30 s: a node that missed gossip (a loaded machine, a lost UDP
	// packet) agrees with its peers again within seconds. memberlist scales
	// the interval up for large clusters.
	mc.PushPullInterval = 5 * time.Second
	// A node restarted with the same ID at another address may take its
	// name back as soon as the old incarnation is dead.
	mc.DeadNodeReclaimTime = time.Millisecond
	mc.SecretKey = cfg.Secret
	mc.Transport = cfg.Transport
	mc.Delegate = d
	mc.Events = d
	if l := memberlistLogger(cfg.Logger); l != nil {
		mc.Logger = l
	} else {
		mc.LogOutput = io.Discard
	}
	return mc
}

// Joined reports whether the node has reached its seeds (Config.Join): a
// join attempt succeeded. A node without seeds has joined from the start.
func (n *Node) Joined() bool { return n.joined.Load() }

// ID returns the node's 40-hex ID.
func (n *Node) ID() string { return n.id }

// Self returns the node as peers see it, with Self set.
func (n *Node) Self() Member { return n.self }

// GossipAddr returns the actual host:port of the gossip transport (with
// BindPort 0 resolved), the address other nodes pass to Join.
func (n *Node) GossipAddr() string { return n.self.GossipAddr }

// Table returns the current slot table: an atomic load, never nil.
func (n *Node) Table() *Table { return n.table.Load() }

// Members returns the members of the current table, sorted by ID, in a new
// slice.
func (n *Node) Members() []Member { return slices.Clone(n.Table().Members()) }

// KnownPeers returns how many nodes memberlist considers alive, self
// included (forgotten nodes count while memberlist still sees them).
func (n *Node) KnownPeers() int { return n.ml.NumMembers() }

// Subscribe registers fn to be called after table changes. Subscribers run
// serially on one goroutine owned by the Node, in registration order, each
// time with the newest table; if tables change faster than subscribers run,
// intermediate tables are skipped (versions only increase). fn may call any
// Node method except Close; while it runs, later notifications wait.
func (n *Node) Subscribe(fn func(*Table)) {
	n.mu.Lock()
	n.subs = append(n.subs, fn)
	n.mu.Unlock()
}

// Join contacts the given gossip addresses (host:port) and merges state with
// them (CLUSTER MEET). It returns how many were reached; the error is
// memberlist's when none was, ErrClosed after Close.
func (n *Node) Join(addrs []string) (int, error) {
	n.lifeMu.Lock()
	closed := n.closed
	n.lifeMu.Unlock()
	if closed {
		return 0, ErrClosed
	}
	c, err := n.ml.Join(addrs)
	if err != nil {
		return c, fmt.Errorf("cluster: join: %w", err)
	}
	return c, nil
}

// Forget drops a member from the local view (CLUSTER FORGET) and plans and
// gossips a table without it, whether or not this node is the coordinator.
// For 60 s the node stays out of this node's view even if gossip reports it
// alive, and tables it plans are ignored, as in Redis Cluster's ban list;
// afterwards it comes back if still alive. As in Redis, the forget lasts
// only if every node (in particular the coordinator) forgets the member:
// a coordinator that still sees it plans it back in. It returns
// ErrForgetSelf for the node's own ID and ErrUnknownNode for an ID not in
// the current table.
func (n *Node) Forget(id string) error {
	if id == n.id {
		return ErrForgetSelf
	}
	n.mu.Lock()
	if n.table.Load().IndexOf(id) < 0 {
		n.mu.Unlock()
		return ErrUnknownNode
	}
	n.banned[id] = time.Now().Add(n.banFor)
	delete(n.known, id) // not re-joined when gone
	n.wake()            // arm the ban timer
	n.mu.Unlock()
	for !n.plan(true) { // until no other table came in between
	}
	return nil
}

// Leave broadcasts that this node leaves, waiting up to timeout (0 = no
// limit) for the broadcast to go out; the node keeps gossiping until Close.
// It returns ErrClosed after Close.
func (n *Node) Leave(timeout time.Duration) error {
	n.lifeMu.Lock()
	defer n.lifeMu.Unlock()
	if n.closed {
		return ErrClosed
	}
	n.left = true
	n.queueBye()
	if err := n.ml.Leave(timeout); err != nil {
		return fmt.Errorf("cluster: leave: %w", err)
	}
	return nil
}

// Close leaves the cluster gracefully (waiting at most 500 ms for the leave
// broadcast), shuts memberlist down and stops every goroutine of the node.
// It is idempotent; later calls return the first call's result. A join
// attempt in flight delays it by up to memberlist's TCP timeout.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.shutdown(true) })
	return n.closeErr
}

// shutdown stops the node; graceful broadcasts a leave first.
func (n *Node) shutdown(graceful bool) error {
	n.lifeMu.Lock()
	n.closed = true
	if graceful && !n.left {
		n.left = true
		n.queueBye()
		_ = n.ml.Leave(closeLeaveTimeout) // best effort: peers' probes find out anyway
	}
	err := n.ml.Shutdown()
	n.lifeMu.Unlock()
	close(n.stop)
	n.wg.Wait()
	if err != nil {
		return fmt.Errorf("cluster: shutdown: %w", err)
	}
	return nil
}
