package server

import (
	"fmt"
	"iter"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/bitcmd"
	"github.com/cached/cached/server/hashcmd"
	"github.com/cached/cached/server/kernel"
	"github.com/cached/cached/server/keycmd"
	"github.com/cached/cached/server/keyspec"
	"github.com/cached/cached/server/latency"
	"github.com/cached/cached/server/listcmd"
	"github.com/cached/cached/server/setcmd"
	"github.com/cached/cached/server/stringcmd"
	"github.com/cached/cached/server/zsetcmd"
	"github.com/cached/cached/store"
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
	flagNoMandatoryKeys
	flagNoMulti
	flagAllowBusy
	flagMovableKeys
	flagNoAsyncLoading
)

// flagNames are Redis's spellings, in the order COMMAND INFO lists them.
var flagNames = []string{"write", "readonly", "denyoom", "admin", "pubsub", "noscript",
	"blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "fast", "no_auth",
	"may_replicate", "no_mandatory_keys", "no_multi", "allow_busy", "movablekeys", "no_async_loading"}

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
//
// The entry is all the server knows about a command besides its handler:
// adding a command is its handler plus its entry. Beyond name, arity,
// flags and the legacy key range (first/last/step), an entry declares, when
// they apply:
//   - withKeys: Redis 7's key specs (keyspec.go) where they differ from the
//     one built from first/last/step; they answer COMMAND INFO and
//     GETKEYS and find movable keys (numkeys forms) for cluster routing;
//   - withKeyFlags: the key's flags for a variable_flags spec (SET, BITFIELD);
//   - withTips: the command tips cluster clients route by;
//   - withSplit: how proxy mode splits a cross-slot call (cluster_split.go);
//   - withRole: MULTI queuing, the RESP2 subscribed context, and keeping
//     state on the connection (never forwarded in proxy mode);
//   - withClusterRefusal: the error cluster mode answers for some arguments.
//
// newCommandTable checks every entry and panics on an inconsistent one.
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
	kfn        kernel.Handler // a family handler (fromKernel); fn is nil then
	subs       []spec         // subcommands (CONFIG GET, CLIENT LIST …); fn of the parent is unused then

	keySpecs []string // Redis 7 key specs (server/keyspec); none: one built from first/last/step
	// keyFlags gives the flags of the key of a command whose key spec has
	// variable_flags (SET with GET, BITFIELD with writes), for COMMAND
	// GETKEYSANDFLAGS.
	keyFlags func(args [][]byte) []string
	tips     string // command tips, space-separated (COMMAND INFO's 8th field)
	split    splitKind
	role     cmdRole
	// clusterRefusal is the error of a command that cluster mode refuses
	// for these arguments (MOVE, SWAPDB, COPY … DB n), or "".
	clusterRefusal func(args [][]byte) string
	// keyspace: the command reads or changes keys it does not name (FLUSHDB,
	// SWAPDB, KEYS, SCAN, RANDOMKEY, CONFIG SET's eviction …): an EXEC
	// that queues it locks every shard.
	keyspace bool

	// Blocking (blocking.go): how the command waits and is served; nil
	// for a command that never blocks. Set exactly for the commands
	// flagged "blocking" (checked when the table is built).
	block *blockSpec
}

// withKeyspace marks sp as reading or changing keys it does not name
// (spec.keyspace).
func (sp spec) withKeyspace() spec {
	sp.keyspace = true
	return sp
}

// withKeys declares Redis 7's key specs (keyspec.go) of an entry.
func (sp spec) withKeys(specs ...string) spec {
	sp.keySpecs = specs
	return sp
}

// withTips declares an entry's command tips, space-separated.
func (sp spec) withTips(tips string) spec {
	sp.tips = tips
	return sp
}

// withKeyFlags declares the function giving the key's flags of a command
// whose key spec has variable_flags.
func (sp spec) withKeyFlags(fn func(args [][]byte) []string) spec {
	sp.keyFlags = fn
	return sp
}

// withRole declares what the command is to connection state.
func (sp spec) withRole(r cmdRole) spec {
	sp.role = r
	return sp
}

// splitKind is kernel.SplitKind (the command table's).
type splitKind = kernel.SplitKind

const (
	splitNone   = kernel.SplitNone
	splitCount  = kernel.SplitCount
	splitValues = kernel.SplitValues
	splitPairs  = kernel.SplitPairs
)

// cmdRole is kernel.Role (the command table's).
type cmdRole = kernel.Role

const (
	roleTxRunNow    = kernel.RoleTxRunNow
	roleTxAnswerNow = kernel.RoleTxAnswerNow
	roleTxExec      = kernel.RoleTxExec
	roleTxReset     = kernel.RoleTxReset
	roleNotInExec   = kernel.RoleNotInExec
	roleSubscribed  = kernel.RoleSubscribed
	roleConnState   = kernel.RoleConnState
	rolePushReply   = kernel.RolePushReply
)

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
	fn         kernel.Handler
	keySpecs   []keyspec.Spec
	keyFlags   func(args [][]byte) []string
	tips       []string
	split      splitKind
	role       cmdRole
	refusal    func(args [][]byte) string
	keyspace   bool
	block      *blockSpec // blocking.go; nil if the command never blocks
	offLoop    bool       // runs on the connection's own goroutine, never on an event loop (eventloop.go)
	long       bool       // may hold store locks for long: counted in Server.longRunning, parked by event loops (eventloop.go)
	warm       bool       // one key, the first argument: event loops warm it before a batch runs (eventloop_prefetch.go)
	parent     *command
	subs       map[string]*command

	calls    atomic.Uint64
	nanos    atomic.Uint64
	rejected atomic.Uint64
	failed   atomic.Uint64
	latency  latency.Histogram // per-command latency histogram (metrics.go)
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
		fromKernel(stringcmd.Commands()),
		fromKernel(bitcmd.Commands()),
		fromKernel(keycmd.Commands()),
		dumpCommands(),
		serverCommands(),
		latencyCommands(),
		observabilityCommands(),
		fromKernel(hashcmd.Commands()),
		fromKernel(listcmd.Commands()),
		fromKernel(setcmd.Commands()),
		fromKernel(zsetcmd.Commands()),
		pubsubCommands(),
		txCommands(),
		clusterCommands(),
		replCommands(),
		scriptCommands(),
		functionCommands(),
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
		summary: sp.summary, complexity: sp.complexity, fn: pick(sp), parent: parent,
		keyFlags: sp.keyFlags, tips: strings.Fields(sp.tips), split: sp.split, role: sp.role,
		refusal: sp.clusterRefusal, keyspace: sp.keyspace, block: sp.block}
	if (c.flags&flagBlocking != 0) != (c.block != nil) {
		panic("server: command " + sp.name + ": the blocking flag and the block descriptor disagree")
	}
	if parent != nil {
		c.fullName = parent.name + "|" + sp.name
		if c.group == "" {
			c.group = parent.group
		}
	}
	c.buildKeySpecs(sp.keySpecs)
	c.offLoop = offLoopCommand(c)
	c.long = longCommand(c)
	c.warm = warmCommand(c)
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
	case "scripting":
		add("scripting")
	} // pub/sub commands are @pubsub by their flag, as in Redis (PUBSUB HELP is not)
	for _, e := range strings.Fields(extra) {
		add(e)
	}
	return out
}

// lookup finds a command by name, case-insensitively, without allocating.
func (t *commandTable) lookup(name []byte) *command { return lookupFold(t.m, name) }

func (c *command) lookupSub(name []byte) *command { return lookupFold(c.subs, name) }

// lookup finds the command a client names, case-insensitively: clients
// mostly send the same command again, so the client's last lookup is
// tried first.
func (c *client) lookup(name []byte) *command {
	if lc := c.lastLookup; lc != nil && len(name) == int(c.lastNameLen) {
		same := true
		for i, ch := range name {
			if 'A' <= ch && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			if ch != c.lastName[i] {
				same = false
				break
			}
		}
		if same {
			return lc
		}
	}
	cmd := c.s.cmds.lookup(name)
	if cmd != nil && len(name) <= len(c.lastName) {
		for i, ch := range name {
			if 'A' <= ch && ch <= 'Z' {
				ch += 'a' - 'A'
			}
			c.lastName[i] = ch
		}
		c.lastNameLen, c.lastLookup = uint8(len(name)), cmd
	}
	return cmd
}

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

// forEach calls fn for every command and subcommand, in no order.
func (t *commandTable) forEach(fn func(*command)) {
	for _, c := range t.m {
		fn(c)
		for _, sub := range c.subs {
			fn(sub)
		}
	}
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

// buildKeySpecs parses the declared key specs, or builds the default one,
// and checks them against first/last/step (panicking on a disagreement: the
// table is checked at start-up).
func (c *command) buildKeySpecs(declared []string) {
	if len(declared) == 0 {
		if c.first > 0 {
			c.keySpecs = []keyspec.Spec{keyspec.Default(c.first, c.last, c.step, c.flags&flagWrite != 0, c.flags&flagReadonly != 0)}
		}
		return
	}
	for _, d := range declared {
		c.keySpecs = append(c.keySpecs, keyspec.Parse(c.fullName, d))
	}
	first, last, step, movable := keyspec.LegacyRange(c.keySpecs)
	if first != c.first || last != c.last || (first > 0 && step != c.step) {
		panic(fmt.Sprintf("server: %s: first/last/step %d/%d/%d disagree with its key specs (%d/%d/%d)",
			c.fullName, c.first, c.last, c.step, first, last, step))
	}
	if movable {
		c.flags |= flagMovableKeys
	}
	variable := false
	for i := range c.keySpecs {
		variable = variable || c.keySpecs[i].Has("variable_flags")
	}
	if variable != (c.keyFlags != nil) {
		panic("server: " + c.fullName + ": a variable_flags key spec and keyFlags go together")
	}
}

// keys yields the key arguments of args (those keyPositions names); for
// a command whose keys first, last and step describe it allocates
// nothing.
func (c *command) keys(args [][]byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		if c.flags&flagMovableKeys != 0 {
			for _, p := range c.keyPositions(args) {
				if !yield(args[p]) {
					return
				}
			}
			return
		}
		first, last, step := c.keyBounds(len(args))
		for i := first; i <= last; i += step {
			if !yield(args[i]) {
				return
			}
		}
	}
}

// keyBounds returns the index of the first and last key of a request of n
// arguments (the command name included) and the step between keys, as the
// command's first, last and step say; last < first when it has none.
func (c *command) keyBounds(n int) (first, last, step int) {
	if c.first <= 0 || n <= c.first {
		return 1, 0, 1
	}
	last = c.last
	if last < 0 {
		last += n
	}
	return c.first, min(last, n-1), max(c.step, 1)
}

// keyPositions returns the argument indexes that are keys (shard channels
// included): the legacy range first/last/step, or for commands with movable
// keys what their key specs find (none when the arguments are bad).
func (c *command) keyPositions(args [][]byte) []int {
	if c.flags&flagMovableKeys != 0 {
		refs, ok := keyspec.Find(c.keySpecs, args, true)
		if !ok {
			return nil
		}
		out := make([]int, len(refs))
		for i, r := range refs {
			out[i] = r.Pos
		}
		return out
	}
	first, last, step := c.keyBounds(len(args))
	var out []int
	for i := first; i <= last; i += step {
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

func (s *Server) dispatch(c *client, args [][]byte) {
	defer c.endCommand()
	if c.reply == 0 {
		s.dispatchCommand(c, args)
		if c.reply != 0 { // CLIENT REPLY SKIP ran
			c.replyCommandDone()
		}
		return
	}
	// CLIENT REPLY OFF or SKIP: the command's reply is written, then
	// dropped from the reply buffer unless the command turned replies on.
	w := replyBufferOf(c.Conn)
	mark := len(w.Buffer())
	c.pushReply = false
	s.dispatchCommand(c, args)
	if c.reply&(replyOff|replySkip) != 0 && !c.pushReply {
		if b := w.Buffer(); len(b) > mark {
			w.SetBuffer(b[:mark])
		}
	}
	c.replyCommandDone()
}

// endCommand clears what describes the running command once it is done.
func (c *client) endCommand() {
	c.argvMem.Store(0)
	c.CmdMs = 0
}

func (s *Server) dispatchCommand(c *client, args [][]byte) {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	c.argvMem.Store(int64(n)) // CLIENT LIST argv-mem: the running command's arguments
	start := c.batchClock     // the end of the batch's previous command (conn.go)
	if start == 0 {
		start = store.Mono() // the command's clock read (see call)
	}
	c.CmdMs = s.store.MsAt(start)
	c.idleAt.Store(store.MonoUnixNano(start))
	s.stats.totalCommands.Add(1)
	cmd := c.lookup(args[0])
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
	if s.cl != nil && s.routeCluster(c, cmd, args, start) { // cluster.go: MOVED, CROSSSLOT or proxied
		return
	}
	if cmd.flags&flagDenyOOM != 0 && s.maxMemory.Load() > 0 {
		if err := s.freeMemory(cmd, args); err != nil {
			c.reject(cmd, protocol.ErrOOM)
			return
		}
	}
	if c.ps.Load() != nil && pubsubRefuses(c, cmd) { // pubsub.go: RESP2 subscribed context
		return
	}
	if msg := s.busyRefusal(cmd); msg != "" { // scripting.go: a script runs past busy-reply-threshold
		c.reject(cmd, msg)
		return
	}
	if cmd.long || longArgs(cmd, args) { // eventloop.go: the loops park their requests meanwhile
		s.longRunning.Add(1)
		defer s.longRunning.Add(-1)
	}
	if c.multi != nil && s.queueMulti(c, cmd, args, start) { // multi.go: queued, or EXEC run exclusively
		return
	}
	if s.pause.holds(cmd) {
		s.waitPause(c, cmd)
		c.CmdMs = s.store.Now() // it runs now, not when it arrived
		// The pause let freeMemory above evict nothing; the command
		// goes through it again, as Redis processes a paused command
		// again once the pause ends.
		if cmd.flags&flagDenyOOM != 0 && s.maxMemory.Load() > 0 {
			if err := s.freeMemory(cmd, args); err != nil {
				c.reject(cmd, protocol.ErrOOM)
				return
			}
		}
	}
	c.pushReply = cmd.role&rolePushReply != 0
	s.call(c, cmd, args, start)
	if c.block != nil { // blocking.go: the command waits for a key
		s.park(c, cmd, args)
	}
}

// replyFlags are a client's CLIENT REPLY state, as Redis's
// CLIENT_REPLY_OFF, CLIENT_REPLY_SKIP_NEXT and CLIENT_REPLY_SKIP.
type replyFlags uint8

const (
	replyOff      replyFlags = 1 << iota // OFF: no replies until CLIENT REPLY ON
	replySkipNext                        // SKIP ran: the next command's reply is dropped
	replySkip                            // this command's reply is dropped
)

// replyCommandDone moves CLIENT REPLY SKIP on after a command, as Redis's
// resetClient: the skipped command is done, a SKIP just run skips the next.
func (c *client) replyCommandDone() {
	c.reply &^= replySkip
	if c.reply&replySkipNext != 0 {
		c.reply = c.reply&^replySkipNext | replySkip
	}
}

// call runs a command that passed dispatch's checks and accounts for it:
// commits its changes (write.go), MONITOR feed, commandstats, latency,
// slowlog. EXEC calls it for each queued command with the transaction's Tx
// held.
func (s *Server) call(c *client, cmd *command, args [][]byte, start int64) {
	c.lastCmd.Store(cmd)
	c.Failed = false
	s.runHandler(c, cmd, args) // recover.go: a panic is recovered here
	if !c.InExecTx() {         // EXEC commits its commands' changes as one unit (multi.go)
		c.ReleaseHeld()
	}
	if cmd.flags&flagWrite != 0 && s.repl.Load() != nil { // repl_cmds.go: for WAIT
		c.noteWrite(cmd, args)
	}
	// The slot routing found was this command's (cluster.go).
	c.clu.slotOf.args = nil
	if s.monitors.count.Load() > 0 { // after it ran, as Redis 7: EXEC follows its commands, SELECT shows the new db
		s.feedMonitors(c, cmd, args)
	}
	cmd.calls.Add(1)
	end := store.Mono()
	if c.batching {
		c.batchClock = end // the next command of the batch starts now
	}
	d := time.Duration(end - start)
	cmd.nanos.Add(uint64(d))
	if s.latTracking.Load() { // latency-tracking
		cmd.latency.Observe(d)
	}
	if cmd.flags&flagFast != 0 {
		s.latmon.Observe("fast-command", d)
	} else {
		s.latmon.Observe("command", d)
	}
	if d >= s.slowlog.Threshold() && cmd.flags&flagSkipSlowlog == 0 {
		s.slowlog.Add(args, d, c.addr, c.getName())
	}
	if c.Failed {
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
	c.Err(msg)
}

// freeMemory evicts under maxmemory before a command that may grow memory,
// starting with the shard of the command's first key, as the store prefers.
func (s *Server) freeMemory(cmd *command, args [][]byte) error {
	if cmd.first > 0 && cmd.first < len(args) {
		return s.store.FreeMemoryFor(args[cmd.first])
	}
	return s.store.FreeMemory()
}
