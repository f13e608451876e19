package server

// Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH, with Redis 7.0's
// semantics.
//
// A client's transaction state (multiState) exists while it watches keys or
// has a MULTI open; the registry holds it by client ID, and c.multi points
// to it while MULTI is open (nil otherwise: dispatch pays one nil check for
// every other client). Inside MULTI, dispatch hands each command that
// passed its checks to queueMulti, which queues it (+QUEUED) or, for EXEC,
// runs the transaction: EXEC locks the store shards of every key its
// commands name and of every watched key (every shard if one of them walks
// or changes the whole keyspace, spec.keyspace), so that no other command,
// expiry or eviction touches those keys while the queued ones run, and runs
// each of them with Server.call under that one Tx (blocking commands answer
// at once); the Tx commits all their changes and effects as one unit
// (write.go). A queuing error (reject) marks the transaction
// aborted: EXEC then answers EXECABORT; a refused EXEC aborts at once.
//
// WATCH registers (db, key) → watching states in the server's
// watch.Registry (server/watch); every committed change to a key touches it
// there (write.go) and marks the watchers dirty; EXEC of a dirty
// transaction answers a null array.
// A watched key that had a TTL at WATCH and whose TTL has passed by EXEC
// fails the EXEC too, even if nothing deleted it yet; a key already expired
// at WATCH does not (both checked against redis-server 7.0.15).
//
// The server's txRegistry maps client IDs to their states for CLIENT LIST
// (multi=N) from other goroutines. A client that disconnects while watching never
// calls UNWATCH: a cleanup attached to the client (runtime.AddCleanup)
// drops its state once the client is garbage, so nothing leaks.

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/watch"
	"github.com/cached/cached/store"
)

// Transaction error replies, as Redis words them.
const (
	errMultiNested     = "ERR MULTI calls can not be nested"
	errExecNoMulti     = "ERR EXEC without MULTI"
	errDiscardNoMulti  = "ERR DISCARD without MULTI"
	errWatchInMulti    = "ERR WATCH inside MULTI is not allowed"
	errNotInMulti      = "ERR Command not allowed inside a transaction"
	errExecAbort       = "EXECABORT Transaction discarded because of previous errors."
	errExecAbortPrefix = "EXECABORT Transaction discarded because of: "
	errMonitorInExec   = "ERR MONITOR isn't allowed for DENY BLOCKING client"
)

// txCommands declares MULTI, EXEC, DISCARD, WATCH and UNWATCH.
func txCommands() []spec {
	return []spec{
		spec{name: "multi", arity: 1, flags: "noscript loading stale fast allow_busy", group: "transactions", since: "1.2.0",
			summary: "Mark the start of a transaction block", complexity: "O(1)", fn: multiCommand}.withRole(roleTxAnswerNow),
		spec{name: "exec", arity: 1, flags: "noscript loading stale skip_slowlog", group: "transactions", since: "1.2.0",
			summary: "Execute all commands issued after MULTI", complexity: "Depends on commands in the transaction", fn: execCommand}.withRole(roleTxExec),
		spec{name: "discard", arity: 1, flags: "noscript loading stale fast allow_busy", group: "transactions", since: "2.0.0",
			summary: "Discard all commands issued after MULTI", complexity: "O(N), when N is the number of queued commands", fn: discardCommand}.withRole(roleTxRunNow),
		spec{name: "watch", arity: -2, flags: "noscript loading stale fast allow_busy", first: 1, last: -1, step: 1, group: "transactions", since: "2.2.0",
			summary: "Watch the given keys to determine execution of the MULTI/EXEC block", complexity: "O(1) for every key.", fn: watchCommand}.withRole(roleTxAnswerNow | roleConnState),
		{name: "unwatch", arity: 1, flags: "noscript loading stale fast allow_busy", group: "transactions", since: "2.2.0",
			summary: "Forget about all watched keys", complexity: "O(1)", fn: unwatchCommand},
	}
}

// queuedCmd is one command waiting for EXEC; args are a private copy.
type queuedCmd struct {
	cmd  *command
	args [][]byte
}

// multiState is a client's transaction state. The owner goroutine uses
// every field but n and mem freely; n and mem are read from other
// goroutines; watches belongs to the server's watch registry.
type multiState struct {
	active    bool        // MULTI is open (c.multi is set exactly while it is)
	aborted   bool        // a command failed to queue: EXEC answers EXECABORT
	executing bool        // EXEC is running the queue: commands must not block
	queue     []queuedCmd // commands queued since MULTI (not kept once aborted)

	n   atomic.Int32 // queued commands for CLIENT LIST, -1 outside MULTI
	mem atomic.Int64 // bytes the queue holds, for CLIENT LIST multi-mem

	watches watch.State // its WATCHed keys (Server.watch)

	cleanup runtime.Cleanup // drops the state if the client is collected first
}

// txRegistry maps client IDs to their transaction states.
type txRegistry struct {
	mu     sync.RWMutex // protects states
	states map[int64]*multiState
}

// txState returns c's transaction state, creating and registering it if
// create is set (nil otherwise, if c has none).
func (s *Server) txState(c *client, create bool) *multiState {
	if c.multi != nil {
		return c.multi
	}
	r := &s.txs
	r.mu.Lock()
	m := r.states[c.id]
	if m == nil && create {
		if r.states == nil {
			r.states = make(map[int64]*multiState)
		}
		m = &multiState{}
		m.n.Store(-1)
		r.states[c.id] = m
		m.cleanup = runtime.AddCleanup(c, s.forgetTx, c.id)
	}
	r.mu.Unlock()
	return m
}

// forgetTx drops the transaction state of client id: its watches and its
// CLIENT LIST entry. It runs when the client ends its transaction, or as the
// cleanup of a client collected with one open.
func (s *Server) forgetTx(id int64) {
	r := &s.txs
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.states[id]; m != nil {
		s.watch.Unwatch(&m.watches)
		delete(r.states, id)
	}
}

// endTx discards c's transaction and watches and drops its state (EXEC,
// DISCARD, UNWATCH outside MULTI, RESET). Owner goroutine only.
func (s *Server) endTx(c *client) {
	m := s.txState(c, false)
	if m == nil {
		return
	}
	m.cleanup.Stop()
	s.forgetTx(c.id)
	m.active = false
	c.multi = nil
}

// multiLen is CLIENT LIST's multi field: queued commands, -1 outside MULTI.
// Safe from any goroutine.
func (c *client) multiLen() int {
	r := &c.s.txs
	r.mu.RLock()
	defer r.mu.RUnlock()
	if m := r.states[c.id]; m != nil {
		return int(m.n.Load())
	}
	return -1
}

// multiMem is the bytes c's MULTI queue holds (CLIENT LIST multi-mem).
// Safe from any goroutine.
func (c *client) multiMem() int64 {
	r := &c.s.txs
	r.mu.RLock()
	defer r.mu.RUnlock()
	if m := r.states[c.id]; m != nil {
		return m.mem.Load()
	}
	return 0
}

// queuedSize is the memory a queued command holds: its queue entry, the
// argument slice headers and the argument bytes (copyArgs).
func queuedSize(args [][]byte) int64 {
	n := int64(unsafe.Sizeof(queuedCmd{})) + int64(len(args))*int64(unsafe.Sizeof([]byte(nil)))
	for _, a := range args {
		n += int64(len(a))
	}
	return n
}

// inExec reports whether c is running the commands of an EXEC or is a
// script's internal client (where commands must not block). Owner
// goroutine only.
func (c *client) inExec() bool {
	if c.multi != nil && c.multi.executing {
		return true
	}
	_, scripted := c.Conn.(*scriptConn)
	return scripted
}

func multiCommand(c *client, args [][]byte) {
	if c.multi != nil {
		c.Err(errMultiNested)
		return
	}
	m := c.s.txState(c, true)
	m.active, m.aborted, m.queue = true, false, nil
	m.n.Store(0)
	c.multi = m
	c.OK()
}

func discardCommand(c *client, args [][]byte) {
	if c.multi == nil {
		c.Err(errDiscardNoMulti)
		return
	}
	c.s.endTx(c)
	c.OK()
}

func watchCommand(c *client, args [][]byte) {
	if c.multi != nil {
		c.Err(errWatchInMulti)
		return
	}
	s := c.s
	m := s.txState(c, true)
	db := int(c.Selected.Load())
	for _, k := range args[1:] {
		s.watchKey(&m.watches, db, k)
	}
	c.OK()
}

// watchKey adds st's watch of k in db with k's expiry, read under k's
// shard lock and held until the watch is in place (watch.Registry.Watch).
// A key whose TTL has passed stays in place, as in Redis: DBSIZE still
// counts it, and its removal by expiry later does not fail the EXEC.
func (s *Server) watchKey(st *watch.State, db int, k []byte) {
	tx := s.store.Lock(k)
	defer tx.Unlock()
	at, _ := tx.ExpiryOf(db, k)
	s.watch.Watch(st, watch.Key{DB: db, Key: string(k)}, at, at != 0 && at <= tx.Now())
}

func unwatchCommand(c *client, args [][]byte) {
	if c.multi == nil { // inside MULTI, UNWATCH is queued (and EXEC unwatched already)
		c.s.endTx(c)
	}
	c.OK()
}

// queueMulti handles a command that passed dispatch's checks while c is
// inside MULTI (c.multi != nil). It returns false when dispatch must run the
// command as usual: MULTI, DISCARD, WATCH, QUIT and RESET (which also
// discards the transaction). It returns true when it answered: +QUEUED, a
// refusal, or EXEC, which it runs.
func (s *Server) queueMulti(c *client, cmd *command, args [][]byte, start int64) bool {
	m := c.multi
	switch {
	case cmd.role&roleTxReset != 0:
		s.endTx(c)
		return false
	case cmd.role&roleTxExec != 0:
		s.runExec(c, cmd, args, start)
		return true
	case cmd.role&roleTxRunNow != 0:
		return false
	}
	// Queuing may use memory without bound: under maxmemory every command
	// is refused inside MULTI (dispatch refused those flagged denyoom), as
	// Redis does.
	if cmd.flags&flagDenyOOM == 0 && s.maxMemory.Load() > 0 && s.store.FreeMemory() != nil {
		c.reject(cmd, protocol.ErrOOM)
		return true
	}
	if cmd.role&roleTxAnswerNow != 0 {
		return false // they answer their error at once
	}
	if cmd.flags&flagNoMulti != 0 {
		c.reject(cmd, errNotInMulti)
		return true
	}
	if !m.aborted { // an aborted transaction keeps nothing, as Redis
		m.queue = append(m.queue, queuedCmd{cmd: cmd, args: copyArgs(args)})
		m.mem.Add(queuedSize(args))
		m.n.Store(int32(len(m.queue)))
	}
	c.lastCmd.Store(cmd)
	c.Simple("QUEUED")
	return true
}

// abortExec answers an EXEC that dispatch refused (inside MULTI or not) as
// Redis's execCommandAbort does: the transaction, if any, is discarded and
// the refusal is wrapped in EXECABORT (without ERR, keeping other codes). It
// reports false for any other command.
func (c *client) abortExec(cmd *command, msg string) bool {
	if cmd == nil || cmd.role&roleTxExec == 0 {
		return false
	}
	cmd.rejected.Add(1)
	c.s.endTx(c)
	c.Err(errExecAbortPrefix + strings.TrimPrefix(msg, "ERR "))
	return true
}

// runExec runs EXEC for a client inside MULTI: it waits out a CLIENT PAUSE
// that holds one of the queued commands, refuses the transaction under
// maxmemory if one of them may grow memory (as Redis), then runs execCommand
// with the transaction's keys locked (execLock).
func (s *Server) runExec(c *client, cmd *command, args [][]byte, start int64) {
	m := c.multi
	for held := s.pausedTxCommand(m); held != nil; held = s.pausedTxCommand(m) {
		s.waitPause(c, held)
		if c.killed.Load() || s.stopping() { // killed or closing while paused: nothing runs
			s.endTx(c)
			return
		}
	}
	if s.execElsewhere(c, cmd, m) { // cluster_proxy_tx.go: another node owns its slot now
		return
	}
	if !m.aborted && s.maxMemory.Load() > 0 && txDeniesOOM(m) {
		if err := s.store.FreeMemory(); err != nil {
			c.abortExec(cmd, protocol.ErrOOM)
			return
		}
	}
	s.execLock(c, m)
	if !m.aborted && c.clu.txKeyed && s.store.SlotFenced(c.clu.txSlot) {
		// The slot was handed over since its commands were queued: as
		// Redis, the transaction is discarded and EXEC answers MOVED.
		c.ReleaseHeld()
		s.endTx(c)
		cmd.rejected.Add(1)
		c.Err(s.fencedError(c.clu.txSlot))
		return
	}
	s.call(c, cmd, args, start)
	c.ReleaseHeld()
}

// execLock locks, for the client's held Tx, the shards of every key the
// queued commands name and of every watched key, or every shard if a
// queued command walks or changes the whole keyspace.
func (s *Server) execLock(c *client, m *multiState) {
	all := false
	var keys [][]byte
	for _, q := range m.queue {
		if q.cmd.keyspace {
			all = true
			break
		}
		for _, p := range q.cmd.keyPositions(q.args) {
			keys = append(keys, q.args[p])
		}
	}
	if all {
		c.HoldExec(s.store.LockAll())
	} else {
		keys = append(keys, s.watch.Keys(&m.watches)...)
		c.HoldExec(s.store.Lock(keys...))
	}
}

// stopping reports whether Close has begun stopping background work.
func (s *Server) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// pausedTxCommand returns a queued command a CLIENT PAUSE holds, or nil.
func (s *Server) pausedTxCommand(m *multiState) *command {
	for _, q := range m.queue {
		if s.pause.holds(q.cmd) {
			return q.cmd
		}
	}
	return nil
}

func txDeniesOOM(m *multiState) bool {
	for _, q := range m.queue {
		if q.cmd.flags&flagDenyOOM != 0 {
			return true
		}
	}
	return false
}

// execCommand is EXEC. Inside MULTI it runs with the transaction's keys
// locked (runExec): each queued command runs through call, so it is
// accounted as if sent alone; their changes commit together.
func execCommand(c *client, args [][]byte) {
	m := c.multi
	if m == nil {
		c.Err(errExecNoMulti)
		return
	}
	s := c.s
	if m.aborted {
		s.endTx(c)
		c.Err(errExecAbort)
		return
	}
	if m.watches.Dirty() || s.watch.Expired(&m.watches, s.store.Now()) {
		s.endTx(c)
		c.NullArray()
		return
	}
	self := c.lastCmd.Load()
	s.watch.Unwatch(&m.watches) // its own writes must not dirty it
	m.executing = true
	c.Array(len(m.queue))
	for _, q := range m.queue {
		if c.panicked { // recover.go: the client is being closed
			c.Err(errExecPanicked)
			continue
		}
		if q.cmd.role&roleNotInExec != 0 {
			c.Err(errMonitorInExec) // as Redis: EXEC denies blocking
			continue
		}
		s.call(c, q.cmd, q.args, store.Mono())
	}
	m.executing = false
	c.lastCmd.Store(self)
	c.Failed = false // errors inside are the queued commands', not EXEC's
	s.endTx(c)
}

// txFlag is the CLIENT LIST flag of a client in MULTI ("x"), or "".
// Safe from any goroutine.
func (c *client) txFlag() string {
	if c.multiLen() >= 0 {
		return "x"
	}
	return ""
}
