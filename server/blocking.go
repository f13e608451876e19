package server

// Blocking commands (BLPOP, BLMOVE, BZPOPMIN …): a command that finds
// nothing to serve calls blockFor, which makes dispatch park the client.
// park detaches it onto a session (session.go); on the session's executor
// the client is registered on its keys and waits, so that the connection's
// goroutine is free and a disconnect is seen while blocked.
//
// The blocking layer knows a command only through its blockSpec in the
// command table (spec.block): the keys it waits on (a repeated key counts
// once), where its timeout is, the value type it serves from, how to serve
// it from one ready key, and its timeout and no-wait replies.
//
// Wake-ups are FIFO per key, as in Redis: signalReady (called by notifyDB
// for every change to a key, with a store lock possibly held) only marks the
// key ready for the first client blocked on it and wakes that client's
// executor, which serves the command from its signalled keys, in the order
// they were signalled, as Redis serves its ready keys in order (one EXEC
// that fills b then a serves a client in BLPOP a b from b). A client
// served passes the key on to the next client blocked on it (the key may
// hold more) as the signal it was, numbered when it was made (readyKey), so
// that a key signalled while the first client was served (its BLMOVE's
// destination) comes after it, as in Redis's list of ready keys; a client
// holding a later signal waits while one ahead of it on one of its keys
// still holds an earlier signal of that key (takeReady). A client
// that finds the key empty keeps waiting, keeping its place; a client that
// finds the key holding another type than its command wants (a string
// where BLPOP waits for a list) keeps waiting too, as Redis 7.0 does, and
// passes the key on to the next client, which may want that type.
// signalReady costs one atomic load when nobody is blocked.

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/kernel"
)

// CLIENT UNBLOCK modes (blockState.unblock).
const (
	unblockTimeout = 1 + iota // reply as on timeout
	unblockError              // reply errUnblocked
)

const errUnblocked = "UNBLOCKED client unblocked via CLIENT UNBLOCK"

// dbKey identifies a key in a database: what blocked clients wait on.
type dbKey struct {
	db  int
	key string
}

// blockRegistry tracks the clients blocked on keys.
type blockRegistry struct {
	n      atomic.Int64 // blocked clients: signalReady's fast path, INFO blocked_clients
	listen func()       // called when n leaves or reaches 0 (Server.updateListening)
	timed  atomic.Int64 // blocked clients with a timeout (INFO clients_in_timeout_table)
	mu     sync.Mutex   // protects keys, byID, seq and every blockState's ready
	keys   map[dbKey][]*blockState
	byID   map[int64]*blockState
	seq    uint64 // the last signal's number (readyKey.seq)
}

// readyKey is a key signalled to a blocked client, with the number of the
// signal it comes from: a key passed on from one client to the next keeps
// its signal's number, so that a client serves its keys in the order their
// signals were made, as Redis works through its ready keys in order.
// (BRPOPLPUSH d a served on an LPUSH to d signals a to a BLMPOP … d a
// behind it before d is passed on to it; Redis serves that BLMPOP from d,
// the key signalled first.)
type readyKey struct {
	key string
	seq uint64
}

// keysOf returns the keys of ready, in its order.
func keysOf(ready []readyKey) []string {
	out := make([]string, len(ready))
	for i, rk := range ready {
		out[i] = rk.key
	}
	return out
}

// blockState is a blocked client: what it waits for and how it is woken.
type blockState struct {
	c        *client
	db       int
	spec     *blockSpec // the command's: its type, how it is served, its replies
	keys     []string   // distinct, in the command's order
	deadline time.Time  // zero: no timeout

	wake     chan struct{} // cap 1: ready keys or an unblock request
	ready    []readyKey    // keys signalled to this client; guarded by blockRegistry.mu
	inflight []readyKey    // signals taken by takeReady, being handled; guarded by blockRegistry.mu
	unblock  atomic.Int32  // CLIENT UNBLOCK mode, 0 if none

	rerun bool // owner only: spec.serve runs (rerunning)
}

// blockSpec is kernel.BlockSpec.
type blockSpec = kernel.BlockSpec

// blockFor tells dispatch that the running blocking command (args, whose
// timeout the handler has checked) found nothing to serve and must wait
// until one of its keys (in the client's database) may serve it, or until
// the timeout passes (0: forever). The handler writes no reply then. When a
// key is signalled (signalReady), the command's blockSpec.serve runs for
// it; on timeout, blockSpec.timedOut writes the reply. Inside MULTI/EXEC
// blockSpec.noWait replies at once, as Redis does.
func (c *client) blockFor(args [][]byte) {
	cmd := c.lastCmd.Load()
	bs := cmd.block
	if c.inExec() {
		bs.NoWait(&c.Ctx)
		return
	}
	b := &blockState{c: c, db: int(c.Selected.Load()), spec: bs, wake: make(chan struct{}, 1)}
	if timeout, _ := protocol.ParseBlockTimeout(bs.TimeoutArg(args)); timeout > 0 {
		b.deadline = time.Now().Add(timeout)
	}
	for _, k := range bs.Keys(args) {
		if indexOf(b.keys, string(k)) < 0 {
			b.keys = append(b.keys, string(k))
		}
	}
	c.block = b // park registers it, on the session's executor
}

// rerunning reports whether the running code serves a woken blocking
// command (blockSpec.serve). The lookups of list and sorted set handlers
// then treat a key of another type as missing instead of answering
// WRONGTYPE (Redis 7.0 serves blocked clients only from keys that hold the
// type they wait for).
func (c *client) rerunning() bool { return c.block != nil && c.block.rerun }

func (r *blockRegistry) add(b *blockState) {
	r.mu.Lock()
	if r.keys == nil {
		r.keys = make(map[dbKey][]*blockState)
		r.byID = make(map[int64]*blockState)
	}
	for _, k := range b.keys {
		wk := dbKey{b.db, k}
		r.keys[wk] = append(r.keys[wk], b)
		// A key filled since the handler looked is served by one look in
		// waitBlocked's loop, as a signal of its own. Only on the keys b
		// is first on: a client ahead on a key is served from it first and
		// passes it on (FIFO per key, even if b's executor is slow).
		if r.keys[wk][0] == b {
			b.signalLocked(r.signalFresh(k))
		}
	}
	r.byID[b.c.id] = b
	r.mu.Unlock()
	if r.n.Add(1) == 1 {
		r.listen()
	}
	if !b.deadline.IsZero() {
		r.timed.Add(1)
	}
}

// remove unregisters b and passes the keys signalled to it on to the clients
// now first on them.
func (r *blockRegistry) remove(b *blockState) { r.removePassing(b, nil) }

// removePassing is remove for a client that was served: in the same step
// it signals the keys of served, as the signals they are, to the clients
// now first on them, so that a client behind b never finds b gone and its
// signal not yet passed on (takeReady).
func (r *blockRegistry) removePassing(b *blockState, served []readyKey) {
	r.mu.Lock()
	for _, k := range b.keys {
		wk := dbKey{b.db, k}
		list := r.keys[wk]
		if i := blockIndex(list, b); i >= 0 {
			list = append(list[:i], list[i+1:]...)
		}
		if len(list) == 0 {
			delete(r.keys, wk)
		} else {
			r.keys[wk] = list
		}
	}
	delete(r.byID, b.c.id)
	r.passFirstLocked(b.db, b.ready)
	b.ready = nil
	r.passFirstLocked(b.db, served)
	r.wakeOnLocked(b)
	r.mu.Unlock()
	if r.n.Add(-1) == 0 {
		r.listen()
	}
	if !b.deadline.IsZero() {
		r.timed.Add(-1)
	}
}

func blockIndex(list []*blockState, b *blockState) int {
	for i, o := range list {
		if o == b {
			return i
		}
	}
	return -1
}

// signalLocked marks rk's key ready for b (at the earlier of its signals,
// if it already is) and wakes b. The registry's mu is held.
func (b *blockState) signalLocked(rk readyKey) {
	i := slices.IndexFunc(b.ready, func(o readyKey) bool { return o.key == rk.key })
	switch {
	case i < 0:
		b.ready = append(b.ready, rk)
	case rk.seq < b.ready[i].seq:
		b.ready[i].seq = rk.seq
	}
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// takeReady returns and clears the keys signalled to b, in the order of
// their signals, and records them as b's signals in flight until settle or
// remove. It returns none, leaving them signalled, while a client ahead of
// b on one of b's keys holds an earlier signal of that key: Redis works
// through its ready keys in order, so that client is served first and b
// may then be served from that key. (BRPOPLPUSH d a, served on an LPUSH to
// d, signals a to a BLMPOP … d a behind it while it still holds d's
// signal; Redis serves that BLMPOP from d.) The client holding the earliest
// signal never waits, and settle or remove wakes those that did.
func (r *blockRegistry) takeReady(b *blockState) []readyKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	ready := b.ready
	if len(ready) == 0 {
		return nil
	}
	slices.SortStableFunc(ready, func(x, y readyKey) int { return cmp.Compare(x.seq, y.seq) })
	if r.earlierAheadLocked(b, ready[0].seq) {
		return nil
	}
	b.ready = nil
	b.inflight = ready
	return ready
}

// earlierAheadLocked reports whether a client ahead of b on one of b's keys
// holds a signal of that key made before seq, taken or not.
func (r *blockRegistry) earlierAheadLocked(b *blockState, seq uint64) bool {
	for _, k := range b.keys {
		for _, o := range r.keys[dbKey{b.db, k}] {
			if o == b {
				break
			}
			if signalBefore(o.ready, k, seq) || signalBefore(o.inflight, k, seq) {
				return true
			}
		}
	}
	return false
}

func signalBefore(sigs []readyKey, key string, seq uint64) bool {
	for _, rk := range sigs {
		if rk.key == key && rk.seq < seq {
			return true
		}
	}
	return false
}

// settle ends the handling of b's signals in flight (b keeps waiting) and
// wakes the clients that may have waited for them (takeReady).
func (r *blockRegistry) settle(b *blockState) {
	r.mu.Lock()
	r.wakeOnLocked(b)
	r.mu.Unlock()
}

// wakeOnLocked clears b's signals in flight and wakes every other client
// blocked on their keys. The registry's mu is held.
func (r *blockRegistry) wakeOnLocked(b *blockState) {
	for _, rk := range b.inflight {
		for _, o := range r.keys[dbKey{b.db, rk.key}] {
			if o != b {
				select {
				case o.wake <- struct{}{}:
				default:
				}
			}
		}
	}
	b.inflight = nil
}

// signalFresh returns a new signal of key. The registry's mu is held.
func (r *blockRegistry) signalFresh(key string) readyKey {
	r.seq++
	return readyKey{key, r.seq}
}

// passOn signals keys to the client blocked on each after b, for keys that
// b, first on them, could not use.
func (r *blockRegistry) passOn(b *blockState, keys []readyKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rk := range keys {
		list := r.keys[dbKey{b.db, rk.key}]
		if i := blockIndex(list, b); i >= 0 && i+1 < len(list) {
			list[i+1].signalLocked(rk)
		}
	}
}

// signalReady tells clients blocked on key in db that it may serve them now
// (after a push, an add, a rename or a copy onto key). Safe to call with a
// store lock held: it does not block.
func (s *Server) signalReady(db int, key []byte) {
	r := &s.blocks
	if r.n.Load() == 0 {
		return
	}
	r.mu.Lock()
	if list := r.keys[dbKey{db, string(key)}]; len(list) > 0 {
		list[0].signalLocked(r.signalFresh(string(key)))
	}
	r.mu.Unlock()
}

// signalDB wakes the clients blocked on any key of db so that they re-check
// their keys (SWAPDB changed every key of db at once).
func (s *Server) signalDB(db int) {
	r := &s.blocks
	if r.n.Load() == 0 {
		return
	}
	r.mu.Lock()
	for wk, list := range r.keys {
		if wk.db == db {
			list[0].signalLocked(r.signalFresh(wk.key))
		}
	}
	r.mu.Unlock()
}

// park takes over a client whose command called blockFor: it waits off the
// command's goroutine and serves the command when a key is signalled.
func (s *Server) park(c *client, cmd *command, args [][]byte) {
	b := c.block
	c.block = nil
	args = copyArgs(args) // the connection reuses its read buffer
	ss := c.detach()
	ss.runBlocked(func() { s.waitBlocked(ss, b, cmd, args) })
}

// waitBlocked runs on the session's executor until b's command is served,
// times out, is unblocked, or the client goes.
func (s *Server) waitBlocked(ss *session, b *blockState, cmd *command, args [][]byte) {
	c := b.c
	var timeout <-chan time.Time
	if !b.deadline.IsZero() {
		t := time.NewTimer(time.Until(b.deadline))
		defer t.Stop()
		timeout = t.C
	}
	// Registered here, on the executor, so that a session that ends before
	// its executor starts leaves nothing behind. A key filled between the
	// handler's look and the registration is signalled by add.
	s.blocks.add(b)
	for {
		select {
		case <-ss.gone():
			s.blocks.remove(b)
			return
		case <-timeout:
			s.blocks.remove(b)
			b.spec.TimedOut(&c.Ctx)
			return
		case <-b.wake:
		}
		if s.unblocked(b) {
			return
		}
		ready := s.blocks.takeReady(b)
		if len(ready) == 0 { // none, or a client ahead is served first
			continue
		}
		// A key passed on to b (it held another type for a client ahead)
		// may since hold what that client wants: it is served first.
		ready = s.blocks.firstIn(b, ready)
		keys := keysOf(ready)
		switch s.blockedCanServe(b, keys) {
		case serveTry:
			// Served from the keys in the order they were signalled, as
			// Redis serves its ready keys in order.
			if s.serveFrom(b, cmd, args, keys) || c.killed.Load() {
				// Served (or gone): the keys may serve the next clients,
				// still as the signals they came with.
				s.blocks.removePassing(b, ready)
				return
			}
		case serveOtherType:
			s.blocks.passOn(b, ready)
		}
		s.blocks.settle(b)
	}
}

// unblocked answers a CLIENT UNBLOCK of b, if there was one, and reports
// whether there was.
func (s *Server) unblocked(b *blockState) bool {
	switch b.unblock.Load() {
	case unblockTimeout:
		s.blocks.remove(b)
		b.spec.TimedOut(&b.c.Ctx)
	case unblockError:
		s.blocks.remove(b)
		b.c.Err(errUnblocked)
	default:
		return false
	}
	return true
}

// firstIn returns the keys of ready on which no client blocked ahead of b
// wants the same type (FIFO per key, as Redis serves blocked clients). A key
// on which one does is dropped: the change that made it hold that type
// signalled the client first on the key, and the signal reaches the one
// ahead of b from there (passOn), so signalling it here would only bounce.
func (r *blockRegistry) firstIn(b *blockState, ready []readyKey) []readyKey {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := ready[:0]
	for _, k := range ready {
		ahead := false
		for _, o := range r.keys[dbKey{b.db, k.key}] {
			if o == b {
				break
			}
			if o.spec.Want == b.spec.Want {
				ahead = true
				break
			}
		}
		if !ahead {
			out = append(out, k)
		}
	}
	return out
}

// passFirstLocked signals the keys of ready, as the signals they are, to
// the clients now first on them. The registry's mu is held.
func (r *blockRegistry) passFirstLocked(db int, ready []readyKey) {
	for _, rk := range ready {
		if list := r.keys[dbKey{db, rk.key}]; len(list) > 0 {
			list[0].signalLocked(rk)
		}
	}
}

// What a blocked client may do with its signalled keys.
const (
	serveNone      = iota // every key is missing: keep waiting
	serveTry              // a key holds the type the command wants: try to serve it
	serveOtherType        // keys exist but hold another type: keep waiting, pass them on
)

// blockedCanServe looks at keys (without counting keyspace hits) to decide
// whether b's command may be served from one of them.
func (s *Server) blockedCanServe(b *blockState, keys []string) int {
	res := serveNone
	for _, k := range keys {
		kb := []byte(k)
		tx := s.store.Lock(kb)       // a look, not a command: not the client's held Tx
		t, ok := tx.TypeOf(b.db, kb) // an expired key stays: DBSIZE counts it, as in Redis
		tx.Unlock()
		switch {
		case !ok:
		case t == b.spec.Want:
			return serveTry
		default:
			res = serveOtherType
		}
	}
	return res
}

// serveFrom serves b's command from the first of keys that can serve it
// (blockSpec.serve), as dispatch runs a command (CLIENT PAUSE, the
// client's held Tx committed at the end), and reports whether it was served: replied, or gone. The
// command was counted in commandstats when it first ran; serving it is not
// counted again. A panic inside is recovered here (recover.go): the client
// gets an error reply and is closed.
func (s *Server) serveFrom(b *blockState, cmd *command, args [][]byte, keys []string) bool {
	c := b.c
	if s.pause.holds(cmd) { // CLIENT PAUSE holds blocked writers too
		s.waitPause(c, cmd)
	}
	if c.killed.Load() { // gone: take nothing from the key
		return false
	}
	b.rerun = true
	c.block = b
	c.Failed = false
	served := s.serveLocked(c, cmd, args, keys)
	c.block = nil
	b.rerun = false
	if c.Failed {
		cmd.failed.Add(1)
	}
	return served
}

// serveLocked is serveFrom's part that takes store locks (through the
// client's held Tx, committed and released when it returns).
func (s *Server) serveLocked(c *client, cmd *command, args [][]byte, keys []string) (served bool) {
	defer c.ReleaseHeld() // after the recovery below, which releases it itself
	defer func() {
		if r := recover(); r != nil {
			s.recovered(c, cmd.fullName, r)
			served = true
		}
	}()
	for _, k := range keys {
		if cmd.block.Serve(&c.Ctx, args, []byte(k)) {
			served = true
			break
		}
	}
	return served
}

// unblockClient is CLIENT UNBLOCK: it wakes the client id if it is blocked
// on keys, to reply as on timeout or with an error, and reports whether it
// was.
func (s *Server) unblockClient(id int64, mode int32) bool {
	r := &s.blocks
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.byID[id]
	if b == nil || !b.unblock.CompareAndSwap(0, mode) {
		return false
	}
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return true
}

// clientUnblockCommand is CLIENT UNBLOCK client-id [TIMEOUT|ERROR].
func clientUnblockCommand(c *client, args [][]byte) {
	id, ok := protocol.ParseInt(args[2])
	if !ok {
		c.Err(protocol.ErrNotInteger)
		return
	}
	mode := int32(unblockTimeout)
	if len(args) == 4 {
		switch {
		case kernel.KeyWordIs(args[3], "timeout"):
		case kernel.KeyWordIs(args[3], "error"):
			mode = unblockError
		default:
			c.Err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
			return
		}
	} else if len(args) > 4 {
		c.Err("ERR unknown subcommand or wrong number of arguments for '" + string(args[1]) + "'. Try CLIENT HELP.")
		return
	}
	c.BoolInt(c.s.unblockClient(id, mode))
}

// blocked reports whether c waits on keys (CLIENT LIST flag b). Safe from
// any goroutine.
func (c *client) blocked() bool {
	r := &c.s.blocks
	if r.n.Load() == 0 {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[c.id] != nil
}

// asyncFlags are the CLIENT LIST flags this file and multi.go own: b
// (blocked on keys) and x (inside MULTI). Safe from any goroutine.
func (c *client) asyncFlags() string {
	f := c.txFlag()
	if c.blocked() {
		f += "b"
	}
	return f
}
