package server

import (
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tidwall/redcon"

	"github.com/cached/cached/protocol"
)

// handlerFunc runs one command. args[0] is the command name as the client
// sent it; arity has been checked. It writes exactly one reply to c.
type handlerFunc func(c *client, args [][]byte)

// cmdFlags are a command's flags, as COMMAND INFO reports them.
type cmdFlags uint32

const (
	flagWrite cmdFlags = 1 << iota
	flagReadonly
	flagDenyOOM
	flagAdmin
	flagPubSub
	flagNoScript
	flagBlocking
	flagLoading
	flagStale
	flagSkipMonitor
	flagSkipSlowlog
	flagFast
	flagNoAuth
	flagMayReplicate
	flagNoMulti
	flagAllowBusy
	flagMovableKeys
	flagNoAsyncLoading
)

// flagNames are Redis's spellings, in the order COMMAND INFO lists them.
var flagNames = []string{"write", "readonly", "denyoom", "admin", "pubsub", "noscript",
	"blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "fast", "no_auth",
	"may_replicate", "no_multi", "allow_busy", "movablekeys", "no_async_loading"}

func parseFlags(s string) cmdFlags {
	var f cmdFlags
	for _, w := range strings.Fields(s) {
		i := indexOf(flagNames, w)
		if i < 0 {
			panic("server: unknown command flag " + w)
		}
		f |= 1 << i
	}
	return f
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// spec declares a command for the table. Handler files return []spec from
// one function each (connectionCommands, stringCommands, …).
type spec struct {
	name       string // lower case
	arity      int    // Redis arity: n exact, -n at least n (including the name)
	flags      string // space-separated Redis flags: "write denyoom fast"
	first      int    // first key position, 0 if none
	last       int    // last key position, -1 for the last argument
	step       int
	acl        string // extra ACL categories beyond those derived from flags and group, e.g. "dangerous"
	group      string // Redis doc group: string, generic, bitmap, connection, server, …
	since      string
	summary    string
	complexity string
	fn         handlerFunc
	subs       []spec                    // subcommands (CONFIG GET, CLIENT LIST …); fn of the parent is unused then
	keys       func(args [][]byte) []int // key positions for commands with movable keys
	// keyspace: the command reads or changes keys it does not name (FLUSHDB,
	// SWAPDB, KEYS, SCAN, RANDOMKEY, CONFIG SET's eviction …): an EXEC
	// that queues it locks every shard.
	keyspace bool
}

// wholeKeyspace marks sp as reading or changing keys it does not name
// (spec.keyspace).
func wholeKeyspace(sp spec) spec {
	sp.keyspace = true
	return sp
}

// command is a built table entry with its statistics.
type command struct {
	name       string // "get", or "get" for the subcommand CONFIG GET
	fullName   string // "get", "config|get"
	arity      int
	flags      cmdFlags
	first      int
	last       int
	step       int
	acl        []string
	group      string
	since      string
	summary    string
	complexity string
	fn         handlerFunc
	keysFn     func(args [][]byte) []int
	keyspace   bool
	parent     *command
	subs       map[string]*command

	calls    atomic.Uint64
	nanos    atomic.Uint64
	rejected atomic.Uint64
	failed   atomic.Uint64
	latency  latencyBuckets // per-command latency histogram (metrics.go)
}

// commandTable maps lower-case names to commands. It is built once and never
// modified, so lookups need no lock.
type commandTable struct {
	m map[string]*command
}

func newCommandTable() *commandTable {
	t := &commandTable{m: map[string]*command{}}
	for _, group := range [][]spec{
		connectionCommands(),
		stringCommands(),
		bitmapCommands(),
		keyCommands(),
		dumpCommands(),
		serverCommands(),
		latencyCommands(),
		observabilityCommands(),
		hashCommands(),
		listCommands(),
		setCommands(),
		zsetCommands(),
		pubsubCommands(),
		txCommands(),
		clusterCommands(),
		replCommands(),
	} {
		for _, sp := range group {
			if _, dup := t.m[sp.name]; dup {
				panic("server: command declared twice: " + sp.name)
			}
			t.m[sp.name] = build(sp, nil)
		}
	}
	return t
}

func build(sp spec, parent *command) *command {
	c := &command{name: sp.name, fullName: sp.name, arity: sp.arity, flags: parseFlags(sp.flags),
		first: sp.first, last: sp.last, step: sp.step, group: sp.group, since: sp.since,
		summary: sp.summary, complexity: sp.complexity, fn: sp.fn, keysFn: sp.keys, keyspace: sp.keyspace, parent: parent}
	if parent != nil {
		c.fullName = parent.name + "|" + sp.name
		if c.group == "" {
			c.group = parent.group
		}
	}
	if c.keysFn != nil {
		c.flags |= flagMovableKeys
	}
	if len(sp.subs) > 0 {
		// Redis gives containers @slow and only the categories they declare.
		c.acl = append([]string{"slow"}, strings.Fields(sp.acl)...)
	} else {
		c.acl = aclCategories(c, sp.acl)
	}
	if len(sp.subs) > 0 {
		c.subs = make(map[string]*command, len(sp.subs))
		for _, sub := range sp.subs {
			c.subs[sub.name] = build(sub, c)
		}
	}
	return c
}

// aclCategories derives a command's ACL categories as Redis does: from its
// flags, from its group, plus the extra ones declared.
func aclCategories(c *command, extra string) []string {
	var out []string
	add := func(s string) {
		if indexOf(out, s) < 0 {
			out = append(out, s)
		}
	}
	if c.flags&flagWrite != 0 {
		add("write")
	}
	if c.flags&flagReadonly != 0 && c.group != "scripting" {
		add("read")
	}
	if c.flags&flagAdmin != 0 {
		add("admin")
		add("dangerous")
	}
	if c.flags&flagPubSub != 0 {
		add("pubsub")
	}
	if c.flags&flagFast != 0 {
		add("fast")
	} else {
		add("slow")
	}
	if c.flags&flagBlocking != 0 {
		add("blocking")
	}
	switch c.group {
	case "string":
		add("string")
	case "generic":
		add("keyspace")
	case "bitmap":
		add("bitmap")
	case "connection":
		add("connection")
	case "list":
		add("list")
	case "hash":
		add("hash")
	case "set":
		add("set")
	case "sorted_set":
		add("sortedset")
	case "transactions":
		add("transaction")
	case "pubsub":
		add("pubsub")
	}
	for _, e := range strings.Fields(extra) {
		add(e)
	}
	return out
}

// lookup finds a command by name, case-insensitively, without allocating.
func (t *commandTable) lookup(name []byte) *command { return lookupFold(t.m, name) }

func (c *command) lookupSub(name []byte) *command { return lookupFold(c.subs, name) }

// lookupFold looks name up in m, whose keys are lower case, lower-casing it
// in a stack buffer: command names are short, so nothing is allocated.
func lookupFold(m map[string]*command, name []byte) *command {
	var buf [32]byte
	if len(name) > len(buf) {
		return nil
	}
	for i, ch := range name {
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		buf[i] = ch
	}
	return m[string(buf[:len(name)])]
}

// sorted returns the top-level commands ordered by name.
func (t *commandTable) sorted() []*command {
	out := make([]*command, 0, len(t.m))
	for _, c := range t.m {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// keyPositions returns the argument indexes that are keys, per the command's
// key spec (first, last, step) or its keys function.
func (c *command) keyPositions(args [][]byte) []int {
	if c.keysFn != nil {
		return c.keysFn(args)
	}
	if c.first <= 0 || len(args) <= c.first {
		return nil
	}
	last := c.last
	if last < 0 {
		last = len(args) + last
	}
	if last >= len(args) {
		last = len(args) - 1
	}
	step := c.step
	if step <= 0 {
		step = 1
	}
	var out []int
	for i := c.first; i <= last; i += step {
		out = append(out, i)
	}
	return out
}

func (c *command) arityOK(n int) bool {
	if c.arity >= 0 {
		return n == c.arity
	}
	return n >= -c.arity
}

// handle is redcon's handler: it runs every command of a connection, on that
// connection's goroutine.
func (s *Server) handle(conn redcon.Conn, rc redcon.Command) {
	c, ok := conn.Context().(*client)
	if !ok || len(rc.Args) == 0 {
		return
	}
	if c.killed.Load() {
		return
	}
	s.dispatch(c, rc.Args)
	if c.closeAfterReply {
		_ = c.conn.Close() // flushes the reply first
	}
}

func (s *Server) dispatch(c *client, args [][]byte) {
	start := time.Now()
	c.idleAt.Store(start.UnixNano())
	s.stats.totalCommands.Add(1)
	cmd := s.cmds.lookup(args[0])
	if cmd == nil {
		c.reject(nil, protocol.UnknownCommand(args[0], args[1:]))
		return
	}
	if cmd.subs != nil {
		if len(args) < 2 {
			if cmd.fn == nil { // a container that is nothing by itself
				c.reject(cmd, protocol.WrongArity(cmd.fullName))
				return
			}
		} else {
			sub := cmd.lookupSub(args[1])
			if sub == nil {
				// As Redis: no command was found, so no command's stats move.
				c.reject(nil, protocol.UnknownSubcommand(args[1], strings.ToUpper(cmd.name)))
				return
			}
			cmd = sub
		}
	}
	if !cmd.arityOK(len(args)) {
		c.reject(cmd, protocol.WrongArity(cmd.fullName))
		return
	}
	if !c.authed && cmd.flags&flagNoAuth == 0 {
		c.reject(cmd, protocol.ErrNoAuth)
		return
	}
	if s.cl != nil && s.routeCluster(c, cmd, args) { // cluster.go: MOVED, CROSSSLOT or proxied
		return
	}
	if cmd.flags&flagDenyOOM != 0 && s.maxMemory.Load() > 0 {
		if err := s.freeMemory(cmd, args); err != nil {
			c.reject(cmd, protocol.ErrOOM)
			return
		}
	}
	if c.ps != nil && pubsubRefuses(c, cmd) { // pubsub.go: RESP2 subscribed context
		return
	}
	if c.multi != nil && s.queueMulti(c, cmd, args, start) { // multi.go: queued, or EXEC run exclusively
		return
	}
	if s.pause.holds(cmd) {
		s.waitPause(c, cmd)
	}
	s.call(c, cmd, args, start)
	if c.block != nil { // blocking.go: the command waits for a key
		s.park(c, cmd, args)
	}
}

// call runs a command that passed dispatch's checks and accounts for it:
// commits its changes (write.go), MONITOR feed, commandstats, latency,
// slowlog. EXEC calls it for each queued command with the transaction's Tx
// held.
func (s *Server) call(c *client, cmd *command, args [][]byte, start time.Time) {
	c.lastCmd.Store(cmd)
	c.failed = false
	cmd.fn(c, args)
	if !c.execHeld { // EXEC commits its commands' changes as one unit (multi.go)
		c.releaseHeld()
	}
	if cmd.flags&flagWrite != 0 && s.repl.Load() != nil { // repl_cmds.go: for WAIT
		c.noteWrite(cmd, args)
	}
	if s.monitors.count.Load() > 0 { // after it ran, as Redis 7: EXEC follows its commands, SELECT shows the new db
		s.feedMonitors(c, cmd, args)
	}
	cmd.calls.Add(1)
	d := time.Since(start)
	cmd.nanos.Add(uint64(d))
	cmd.latency.observe(d)
	s.latmon.observe(cmd, d)
	if d >= time.Duration(s.slowlog.threshold.Load()) && cmd.flags&flagSkipSlowlog == 0 {
		s.slowlog.add(c, args, d)
	}
	if c.failed {
		cmd.failed.Add(1)
	}
}

// reject answers a command refused before it ran (Redis's rejected_calls).
func (c *client) reject(cmd *command, msg string) {
	if c.abortExec(cmd, msg) { // multi.go: a refused EXEC answers EXECABORT, as Redis
		return
	}
	if c.multi != nil { // a queuing error aborts the transaction (EXECABORT)
		c.multi.aborted = true
	}
	if cmd != nil {
		cmd.rejected.Add(1)
	}
	c.err(msg)
}

// freeMemory evicts under maxmemory before a command that may grow memory,
// starting with the shard of the command's first key, as the store prefers.
func (s *Server) freeMemory(cmd *command, args [][]byte) error {
	if cmd.first > 0 && cmd.first < len(args) {
		return s.store.FreeMemoryFor(args[cmd.first])
	}
	return s.store.FreeMemory()
}
