package server

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cached/cached/server/config"
	"github.com/cached/cached/server/eventloop"
	"github.com/cached/cached/server/latency"
	"github.com/cached/cached/server/peer"
	"github.com/cached/cached/server/pubsub"
	"github.com/cached/cached/server/script"
	"github.com/cached/cached/server/slowlog"
	"github.com/cached/cached/server/watch"

	"github.com/tidwall/redcon"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/store"
)

// Version is cached's version, reported by INFO and --version.
const Version = "0.1.0"

// redisVersion is the Redis version whose behaviour cached follows; clients
// read redis_version from INFO and HELLO to pick features.
const redisVersion = "7.0.15"

// Server is one cached node: the listeners, the clients and the store.
// Start a Server with Start; stop it with Close. Its methods are safe for
// concurrent use.
type Server struct {
	log   *slog.Logger
	level *slog.LevelVar
	store *store.Store
	cmds  *commandTable

	cfgMu sync.Mutex // protects cfg
	cfg   config.Config

	// Copies of directives read on the hot path.
	requirePass  atomic.Pointer[string]
	idleTimeout  atomic.Int64 // seconds
	tcpKeepAlive atomic.Int64 // seconds
	maxClients   atomic.Int64
	maxBulkLen   atomic.Int64
	queryLimit   atomic.Int64
	maxMemory    atomic.Int64
	gcMinHeap    atomic.Int64
	latTracking  atomic.Bool               // latency-tracking
	latPercents  atomic.Pointer[[]float64] // latency-tracking-info-percentiles

	clients clientRegistry
	slowlog slowlog.Log
	stats   serverStats
	pause   pauser
	latmon  latency.Monitor

	monitors monitorSet // MONITOR clients (monitor.go)

	watch  watch.Registry // WATCHed keys (server/watch)
	txs    txRegistry     // transaction states by client ID (multi.go)
	pubsub pubsub.Hub     // channels, patterns and shard channels (pubsub.go)

	outLimits     atomic.Pointer[config.OutputBufferLimits] // client-output-buffer-limit (outbuf.go)
	outLimitDrops atomic.Int64                              // clients closed over their output buffer limit
	notifyFlags   atomic.Uint32                             // notify-keyspace-events (notify.go)
	blocks        blockRegistry                             // clients blocked on keys (blocking.go)
	cl            *clusterState                             // nil unless cluster-enabled (cluster.go)

	scripts       *script.Engine // Lua interpreters and the script cache (scripting.go)
	scriptHosts   sync.Pool      // *scriptHost, the internal clients of running scripts
	busyThreshold atomic.Int64   // busy-reply-threshold, ms
	handoff       handoffState   // slot moves and graceful leave (handoff.go)

	sink atomic.Pointer[EffectSink] // nil: effects are not recorded (write.go)

	listenMu sync.Mutex                // serializes updateListening (listening.go)
	repl     atomic.Pointer[replState] // cluster replication, nil when off (repl.go)

	started time.Time
	runID   string
	lns     []net.Listener
	addrs   []string

	httpSrv  *http.Server // metrics-addr server (http.go); nil if disabled
	httpAddr string
	httpWG   sync.WaitGroup

	shutdownOnce   sync.Once
	shutdown       chan struct{}
	shutdownReason string // set once, before shutdown closes
	shutdownFatal  error  // the error that asked for the shutdown, if any

	unixLn   net.Listener // unixsocket listener (listener.go); nil if none
	unixPath string

	loops *eventloop.Set // event loops (eventloop_conn.go); nil when io-event-loop is off
	// loopPeers are, per event loop, the peer connections its suspended
	// connections queued forwarded requests on since it last went idle
	// (loopHost.Idle flushes them); each loop's own.
	loopPeers [][]*peer.Conn
	// longRunning counts the long commands running (eventloop.go): while
	// it is not 0, event loops park every request.
	longRunning atomic.Int32
	// loopBatches are, per event loop, its state for warming a wake-up's
	// requests and its counters (eventloop_prefetch.go); prefetchMax is
	// prefetch-batch-max-size, prefetchFrom the store size from which the
	// loops warm (prefetchFromBytes when they started).
	loopBatches  []loopBatch
	prefetchMax  atomic.Int32
	prefetchFrom int64

	stop     chan struct{}
	wg       sync.WaitGroup // background goroutines
	serveWG  sync.WaitGroup // listener goroutines
	closeMu  sync.Mutex
	isClosed bool
}

// Start validates cfg, builds the store, listens on every bind address and
// serves clients in the background. The caller must Close the server.
func Start(cfg config.Config) (*Server, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.startLoops(); err != nil { // eventloop_conn.go: before any connection
		s.failStart(err)
		return nil, err
	}
	if err := s.listen(); err != nil {
		s.failStart(err)
		return nil, err
	}
	if err := s.startCluster(); err != nil { // cluster.go: needs the bound address
		s.failStart(err)
		return nil, err
	}
	if err := s.startRepl(); err != nil { // repl.go: needs the cluster node
		s.Close()
		return nil, err
	}
	if err := s.startHTTP(); err != nil {
		// The cache still serves; the operator sees why metrics are missing.
		s.log.Error("metrics server not started", "addr", s.cfg.MetricsAddr, "error", err)
	}
	s.logStarted()
	return s, nil
}

func newServer(cfg config.Config) (*Server, error) {
	cfg = cfg.Clone()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	level := new(slog.LevelVar)
	s := &Server{
		cfg:      cfg,
		level:    level,
		started:  time.Now(),
		runID:    randomHex(40),
		stop:     make(chan struct{}),
		shutdown: make(chan struct{}),
	}
	out, err := openLog(cfg.LogFile)
	if err != nil {
		return nil, err
	}
	s.log = newLogger(out, cfg.LogFormat, level)
	// maxmemory, the policy and the samples are pushed by applyHotConfig,
	// as they are on CONFIG SET.
	st, err := store.New(store.Config{
		Shards:         cfg.Shards,
		Databases:      cfg.Databases,
		ActiveExpireHz: cfg.Hz,
		// While clients are paused no key expires actively and none is
		// evicted (Redis's PAUSE_ACTION_EXPIRE and PAUSE_ACTION_EVICT): a
		// pause is how a failover or an upgrade keeps the data still.
		Paused:   s.pause.active,
		Observer: observer{s},
	})
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	s.store = st
	s.cmds = newCommandTable()
	s.scripts = script.New(script.Config{BusyThreshold: func() time.Duration {
		return time.Duration(s.busyThreshold.Load()) * time.Millisecond
	}, Log: s.scriptLog})
	s.scriptHosts.New = func() any { return newScriptHost(s) }
	s.newClusterState()                                      // cluster.go: before any client connects
	if err := s.cmds.applyRenames(cfg.Renames); err != nil { // after the lookups by name
		st.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	s.clients.init()
	s.watch.Toggled, s.blocks.listen = s.updateListening, s.updateListening
	s.applyHotConfig(&cfg)
	s.wg.Add(1)
	go s.cron(cfg.ManageRuntime)
	if s.cl != nil {
		s.wg.Add(1)
		go s.pushLibraries() // cluster_functions.go
	}
	return s, nil
}

func openLog(path string) (io.Writer, error) {
	if path == "" {
		return os.Stdout, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("server: can't open the log file: %w", err)
	}
	return f, nil
}

// applyHotConfig copies the directives read per request into atomics and
// pushes store settings down. Called with cfgMu held (or before serving).
func (s *Server) applyHotConfig(c *config.Config) {
	pass := c.RequirePass
	s.requirePass.Store(&pass)
	s.idleTimeout.Store(int64(c.Timeout))
	s.tcpKeepAlive.Store(int64(c.TCPKeepAlive))
	s.maxClients.Store(int64(c.MaxClients))
	s.maxBulkLen.Store(c.ProtoMaxBulkLen)
	s.queryLimit.Store(c.ClientQueryBufferLimit)
	s.maxMemory.Store(c.MaxMemory)
	s.gcMinHeap.Store(c.GCMinHeap)
	s.latTracking.Store(c.LatencyTracking)
	s.prefetchMax.Store(int32(c.PrefetchBatchMaxSize))
	ps := append([]float64(nil), c.LatencyPercentiles...)
	s.latPercents.Store(&ps)
	s.slowlog.Configure(c.SlowlogLogSlowerThan, c.SlowlogMaxLen)
	s.latmon.SetThreshold(int64(c.LatencyMonitorThreshold))
	s.busyThreshold.Store(int64(c.BusyReplyThreshold))
	s.store.SetMaxMemory(c.MaxMemory)
	if p, err := store.ParsePolicy(c.MaxMemoryPolicy); err == nil {
		s.store.SetPolicy(p)
	}
	s.store.SetMaxMemorySamples(c.MaxMemorySamples)
	s.store.SetLFU(store.LFUConfig{LogFactor: c.LFULogFactor, DecayTime: c.LFUDecayTime})
	applyEncodings(c.Encodings)
	lim := c.ClientOutputBufferLimit
	s.outLimits.Store(&lim)
	f, _ := config.ParseNotifyFlags(c.NotifyKeyspaceEvents)
	s.notifyFlags.Store(uint32(f))
	s.updateListening() // notify-keyspace-events may have changed
	on := f&(notifyKeyspace|notifyKeyevent) != 0
	s.store.SetReportNew(on && f&notifyNew != 0)
	s.store.SetReportMiss(on && f&notifyKeyMiss != 0)
	s.level.Set(slogLevel(c.LogLevel))
	if rs := s.repl.Load(); rs != nil {
		rs.pacer.SetShare(c.Cluster.SnapshotPace)
		rs.p.SetBufferLimits(replicaBufferLimits(c.ClientOutputBufferLimit.Replica))
	}
}

func slogLevel(l string) slog.Level {
	switch l {
	case "debug":
		return slog.LevelDebug
	case "verbose":
		return slog.LevelDebug + 2
	case "warning":
		return slog.LevelWarn
	case "nothing":
		return slog.LevelError + 100
	}
	return slog.LevelInfo
}

func (s *Server) frameLimits() protocol.FrameLimits {
	return protocol.FrameLimits{
		MaxBulkLen:     s.maxBulkLen.Load(),
		MaxMultibulk:   1024 * 1024,
		MaxInline:      64 * 1024,
		MaxQueryBuffer: s.queryLimit.Load(),
	}
}

func (s *Server) listen() error {
	for _, host := range s.cfg.Bind {
		// As redis.conf: "-addr" is optional (skipped if unavailable), "*"
		// is every IPv4 address and "::*" every IPv6 address.
		optional := strings.HasPrefix(host, "-")
		host = strings.TrimPrefix(host, "-")
		switch host {
		case "*":
			host = "0.0.0.0"
		case "::*":
			host = "::"
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(s.cfg.Port)))
		if err != nil {
			if optional {
				s.log.Warn("skipping optional bind address", "addr", host, "error", err)
				continue
			}
			return fmt.Errorf("server: listen: %w", err)
		}
		s.serve(ln)
	}
	if len(s.lns) == 0 {
		return errors.New("server: listen: no bind address could be used")
	}
	return s.listenUnix()
}

func (s *Server) serve(ln net.Listener) {
	s.lns = append(s.lns, ln)
	s.addrs = append(s.addrs, ln.Addr().String())
	s.log.Info("listening", "addr", ln.Addr().String())
	s.serveWG.Add(1)
	go func() {
		defer s.serveWG.Done()
		if err := s.serveListener(&guardListener{Listener: ln, s: s}); err != nil && !s.closing() {
			s.fatal(fmt.Errorf("serving %s: %w", ln.Addr(), err))
		}
	}()
}

// Addr returns the first address the server listens on (host:port).
func (s *Server) Addr() string {
	if len(s.addrs) == 0 {
		return ""
	}
	return s.addrs[0]
}

// Close stops the node at once: Shutdown with reason "closed", without
// handing the node's cluster slots over first.
func (s *Server) Close() error { return s.stopNode("closed", false) }

// Shutdown stops the node gracefully: in cluster mode with replication it
// first hands the node's slots over to their next owners while still
// serving (at most cluster-shutdown-handoff-timeout, see handoff.go); then
// it stops accepting, closes every client connection, stops background
// goroutines and waits for them, logging why (reason: "SIGTERM", "SHUTDOWN
// command", …) before and once stopped. It is idempotent.
func (s *Server) Shutdown(reason string) error { return s.stopNode(reason, true) }

// stopNode is Shutdown; handOff says whether to hand the slots over first.
func (s *Server) stopNode(reason string, handOff bool) error {
	s.closeMu.Lock()
	if s.isClosed {
		s.closeMu.Unlock()
		return nil
	}
	s.isClosed = true
	s.closeMu.Unlock()
	s.log.Warn("cached stopping", "reason", reason) // warning, as Redis logs SIGTERM
	defer s.logStopped(reason)
	if handOff {
		s.handOff(reason) // handoff.go: hand the slots over while still serving
	}
	s.stopHTTP()
	s.closeUnix()
	for _, ln := range s.lns {
		_ = ln.Close()
	}
	s.closeRepl() // repl.go: WAITs return, replication links close
	if s.cl != nil {
		s.cl.close() // leave the cluster; forwarded requests in flight fail
	}
	s.serveWG.Wait()
	s.scripts.Close() // running scripts stop: their clients can go
	s.clients.waitEmpty()
	s.loops.Stop() // package eventloop
	close(s.stop)
	s.wg.Wait()
	if s.store != nil {
		s.store.Close()
	}
	return nil
}

// ShutdownRequested is closed when the node asks its owner to stop it: a
// client sent SHUTDOWN, or serving failed. The owner then reads
// ShutdownReason and calls Shutdown.
func (s *Server) ShutdownRequested() <-chan struct{} { return s.shutdown }

// ShutdownReason tells, once ShutdownRequested is closed, why: a reason for
// the log, and the error when the node cannot go on (nil for SHUTDOWN).
func (s *Server) ShutdownReason() (string, error) {
	select {
	case <-s.shutdown:
		return s.shutdownReason, s.shutdownFatal
	default:
		return "", nil
	}
}

func (s *Server) requestShutdown(reason string, fatal error) {
	s.shutdownOnce.Do(func() {
		s.shutdownReason, s.shutdownFatal = reason, fatal
		close(s.shutdown)
	})
}

// fatal logs an error the node cannot serve on with and asks its owner to stop it.
func (s *Server) fatal(err error) {
	s.log.Error("fatal error", "error", err)
	s.requestShutdown("fatal error: "+err.Error(), err)
}

// closing reports whether Shutdown has begun.
func (s *Server) closing() bool {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	return s.isClosed
}

// accept runs on the accept loop (serveListener) for each new connection.
func (s *Server) accept(conn redcon.Conn) bool {
	s.stats.connectionsReceived.Add(1)
	if int64(s.clients.count()) >= s.maxClients.Load() {
		s.stats.rejectedConnections.Add(1)
		_, _ = conn.NetConn().Write([]byte("-ERR max number of clients reached\r\n"))
		return false
	}
	c := s.newClient(conn)
	conn.SetContext(c)
	s.clients.add(c)
	return true
}

// closed runs when a connection's goroutine (serveConn) ends.
func (s *Server) closed(conn redcon.Conn, err error) {
	c, ok := conn.Context().(*client)
	if !ok {
		return
	}
	if c.monitoring.Load() { // a monitor (monitor.go) owns the detached client: it starts now
		if c.mon != nil {
			c.mon.handoff()
		}
		return
	}
	if c.detached.Load() { // the connection loop let go of it: its session (session.go) starts
		c.sess.handoff()
		return
	}
	var pe errProtocolClosed
	if err != nil && !errors.As(err, &pe) && !errors.Is(err, net.ErrClosed) {
		s.log.Debug("client closed", "addr", conn.RemoteAddr(), "error", err)
	}
	s.clients.remove(c)
}

// cron runs periodic work: the instantaneous metrics sampler, slab
// compaction, the memory overhead that counts against maxmemory, the memory
// peak, the snapshot Pacer's view of client activity, and when manage
// (Config.ManageRuntime, passed in: s.cfg is CONFIG SET's) the GC tuner and
// the binary's pages in RSS (exepages_linux.go).
func (s *Server) cron(manage bool) {
	defer s.wg.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	gc := newGCTuner()
	var startup int64     // live heap before the first key: not the data's
	var unaccounted int64 // live heap and off-heap bytes beyond the keys and the store's freed items and records, as of the last GC
	var seenCycles uint64
	var exe *exePages // the binary's pages in RSS (exepages_linux.go)
	if manage {
		startup = gc.readLive()
		seenCycles = gc.cycles
		exe = newExePages()
		s.store.SetCountSlabFreed(true)
	}
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.stats.sample(now)
			// Slabs that deletes and evictions left sparse go back
			// (store/compact.go): INFO stats' active_defrag_hits. Not
			// while slots move: a join's drops leave every old node
			// sparse, and compacting then lengthened the new node's waits
			// for seals (docs/performance.md "Slab compaction").
			if !s.slotsMoving() {
				s.store.CompactSlabs()
			}
			over := s.overheadMemory()
			if manage {
				// The whole live heap is this server's: what the key
				// accounting misses counts too. The live heap is as of the
				// last GC, so the difference is taken once per cycle (not
				// against keys evicted since), and at most a quarter of
				// maxmemory counts, so that it can never leave eviction
				// nothing to free (OOM under an allkeys policy).
				// The keys' memory off the Go heap (store.OffHeapBytes)
				// is data the live heap does not show.
				// The slabs' freed items (store.SlabFreedBytes) are left
				// out here: the store counts them itself, in full and as
				// of each check (SetCountSlabFreed). They change without
				// a GC (the slabs are off the heap). Counted once per GC
				// cycle and capped, a shift from 200-byte to 1 KB values
				// under maxmemory 64mb held 129 MiB of RSS. The chunks'
				// freed records (store.RecordFreedBytes) are left out
				// too, and not counted: keys written later take them back
				// (as Redis's used_memory leaves out what the allocator
				// keeps). Counted here after a GC cycle, they left no room
				// for new keys after deleting half of them under
				// noeviction (docs/performance.md "Refilling after deletes
				// under noeviction"). Two more parts of the off-heap bytes
				// change without a GC cycle, as keys are written: the
				// newest slabs' and chunks' unwritten tails
				// (store.UnwrittenBytes), left out, and the slabs' spares
				// and the tails of slabs made from them
				// (store.SlabIdleBytes), which the store counts itself,
				// as of each check. Counted here, keys written after the
				// cycle that filled them were counted twice until the
				// next one (same document, "Spare slabs and unwritten
				// tails").
				if live := gc.readLive(); gc.cycles != seenCycles {
					seenCycles = gc.cycles
					// The replication buffer kept for lagging replicas is
					// on the heap and, as in Redis, not counted (replBuffer).
					held, backlog := s.replBuffer()
					unaccounted = live + s.store.OffHeapBytes() - startup - s.store.UsedMemory() -
						s.store.SlabFreedBytes() - s.store.SlabIdleBytes() - s.store.RecordFreedBytes() - s.store.UnwrittenBytes() -
						(held - backlog)
				}
				if mm := s.store.MaxMemory(); mm > 0 {
					unaccounted = min(unaccounted, mm/4)
				}
				over = max(over, unaccounted)
				gc.collectReleased(s.store.ReleasedBytes())
				gc.tune(s.gcMinHeap.Load(), s.store.MaxMemory(), s.store.OffHeapBytes())
				exe.tick()
			}
			s.store.SetOverhead(over)
			// Over the limit with no write coming (the overhead grew, or
			// a GC cycle showed more heap), the keys are evicted now:
			// Redis evicts before every command, a read or INFO too, so
			// its used_memory does not stay over maxmemory either. Not
			// while clients are paused (store.Config.Paused).
			if s.maxMemory.Load() > 0 {
				_ = s.store.FreeMemory() // ErrOOM: nothing may be evicted; the next write is refused
			}
			dataset, overhead := s.usedMemory()
			s.stats.notePeak(dataset + overhead)
			if rs := s.repl.Load(); rs != nil {
				rs.pacer.Poll() // dates the clients' last command (repl.Pacer.SetActivity)
			}
		}
	}
}

// slotsMoving reports whether this node takes part in moving slots: its
// table stages some, it is leaving, it waits for seals of slots it takes
// over, or it has lost slots' keys still to drop.
func (s *Server) slotsMoving() bool {
	if s.cl == nil {
		return false
	}
	if v := s.cl.view.Load(); v != nil && v.t.Staged() > 0 {
		return true
	}
	if n := s.cl.node.Load(); n != nil && n.Leaving() {
		return true
	}
	if rs := s.repl.Load(); rs != nil && rs.gated.Load() > 0 {
		return true
	}
	return s.cl.drops.pendingSlots() > 0
}

// Store returns the node's store (for tests and embedding).
func (s *Server) Store() *store.Store { return s.store }
