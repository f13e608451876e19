package server

// Event loops (directive io-event-loop, Linux only): package eventloop
// owns the sockets and their scheduling; this file and eventloop_conn.go
// are the server's side, what is about commands.
//
// A loop must never wait: one waiting connection would stall all the
// others of its loop. So before a request that may wait or take the
// connection away (loopActionOf: blocking commands, WAIT, MULTI,
// subscriptions, MONITOR, scripts, DEBUG, a CLIENT PAUSE in force…),
// runBuffered stops and the loop hands the connection to a goroutine of
// its own (serveHandedOff), for the rest of its life. Unix socket
// connections, and every connection on other systems, are served by
// goroutines.
//
// Proxy routing stays on the loop: a forwarded request is queued on the
// peer connection and its reply owed (cluster_proxy_batch.go); at the end
// of the read's requests the loop suspends the connection
// (eventloop.Suspend) until the last owed reply is in, instead of
// waiting for it, and serves its other connections meanwhile. Before a
// request that needs the owed replies in place (a command without keys,
// one that leaves the loop or parks) runBuffered stops the same way
// (loopSettle). The forwards that would wait (a cross-slot command split
// over owners, a connection with CLIENT REPLY OFF or SKIP, PUBLISH, which
// may dial every peer) are parked.
//
// A request that may hold store locks for long (longCommand: EXEC, a
// script, KEYS, FLUSHALL…; longArgs: SETBIT or SETRANGE far into a
// string), every request while such a command runs anywhere
// (Server.longRunning counts them), and a request that routing may hold
// for a slot hand-over (routeMayWait, repl_flip.go) is parked instead:
// the loop lets go of the socket, a goroutine runs that one request
// (waiting for the locks if it must), and gives the connection back to
// the loop, which writes the reply and serves the connection on. The
// loop's other connections go on meanwhile. A command that ran on the
// loop and waited on a lock the long command took a moment after the
// loop looked at the count still stalls the loop: that window is the few
// instructions between the look and the lock.

import (
	"github.com/cached/cached/protocol"
)

// offLoopCommand reports whether cmd may wait or take the connection away,
// so that it must not run on an event loop: blocking commands, the ones
// that wait for replicas, subscriptions and MONITOR (which detach the
// connection), transactions (EXEC may wait for exclusive access), scripts
// (which may run long), DEBUG (SLEEP), shutdown and replication commands,
// and the CLUSTER subcommands that do more than read the slot table.
func offLoopCommand(c *command) bool {
	if c.flags&flagBlocking != 0 {
		return true
	}
	name := c.name
	if c.parent != nil {
		name = c.parent.name
	}
	switch name {
	case "wait", "waitaof", "monitor", "replsync", "sync", "psync", "failover",
		"subscribe", "psubscribe", "ssubscribe", "multi",
		"eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro",
		"debug", "shutdown":
		return true
	case "cluster":
		if c.parent == nil {
			return false // CLUSTER alone: an arity error
		}
		switch c.name {
		case "info", "myid", "slots", "shards", "nodes", "keyslot", "countkeysinslot", "getkeysinslot",
			"x-peer": // a node-to-node connection stays on the loop
			return false
		}
		return true
	}
	return false
}

// longCommand reports whether cmd may hold store locks (or the loop) for
// long whatever its arguments: EXEC (its whole transaction under the
// locks), scripts, KEYS, FLUSHALL/FLUSHDB, SWAPDB, SORT, SAVE and DEBUG.
// While one runs, anywhere, the loops park their requests (loopPark).
func longCommand(c *command) bool {
	name := c.name
	if c.parent != nil {
		name = c.parent.name
	}
	switch name {
	case "exec", "eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "fcall_ro",
		"keys", "flushall", "flushdb", "swapdb", "sort", "sort_ro", "save", "debug":
		return true
	}
	return false
}

// longArgsBytes is the size past which a SETBIT or SETRANGE offset makes
// the command long: growing a string to it zeroes that many bytes (SETBIT
// k 4294967295 1 zeroes 512 MB under the key's lock).
const longArgsBytes = 1 << 20

// longArgs reports whether the request args of cmd is long because of its
// arguments: a SETBIT or SETRANGE far into the string.
func longArgs(cmd *command, args [][]byte) bool {
	switch {
	case len(args) < 4:
		return false
	case cmd.name == "setbit":
		n, ok := protocol.ParseInt(args[2])
		return !ok || n/8 > longArgsBytes
	case cmd.name == "setrange":
		n, ok := protocol.ParseInt(args[2])
		return !ok || n+int64(len(args[3])) > longArgsBytes
	}
	return false
}

// loopAction is what an event loop does with a request (loopActionOf).
type loopAction uint8

const (
	loopRun     loopAction = iota // run it on the loop
	loopHandOff                   // hand the connection to a goroutine of its own for good
	loopPark                      // run it on a goroutine, then bring the connection back
	loopSettle                    // suspend the connection until its owed forwarded replies are in, then decide again
)

// loopActionOf decides how the request args of cl, about to run on an
// event loop, runs. The connection leaves the loop for good (loopHandOff)
// when its state or the command needs a goroutine of its own: MULTI, a
// session, offLoop commands, a CLIENT PAUSE holding it.
// It is parked (loopPark) when the command may run long (longCommand,
// longArgs) or while a long command runs anywhere (Server.longRunning):
// then a request on the loop might wait for a store lock the long command
// holds, and the loop with all its other connections would wait with it;
// and in proxy mode when it would wait for a peer (proxyWaits).
// Forwarded replies the connection owes are settled first (loopSettle)
// before a request that does not simply run here, and before one without
// keys: routing settles them for it (routeCluster), and it may look at
// the whole node or change the connection. A loop never waits for a
// peer's reply (TestEventLoopProxyNeverWaitsForPeer).
func (s *Server) loopActionOf(cl *client, args [][]byte) loopAction {
	owes := false
	if cn, ok := cl.Conn.(*conn); ok {
		owes = len(cn.owed.list) > 0
	}
	act := s.loopActionOfCmd(cl, args, owes)
	if owes && act != loopRun {
		return loopSettle
	}
	return act
}

// loopActionOfCmd is loopActionOf before the owed replies; owes: the
// connection owes some (then a command that may have no keys gets
// loopSettle).
func (s *Server) loopActionOfCmd(cl *client, args [][]byte, owes bool) loopAction {
	if cl.multi != nil || cl.sess != nil {
		return loopHandOff
	}
	cmd := cl.lookup(args[0])
	if cmd == nil {
		return loopRun
	}
	if cmd.subs != nil && len(args) > 1 {
		if sub := cmd.lookupSub(args[1]); sub != nil {
			cmd = sub
		}
	}
	if cmd.offLoop || s.pause.holds(cmd) { // a CLIENT PAUSE holds it: waitPause
		return loopHandOff
	}
	if cmd.long || s.longRunning.Load() > 0 || longArgs(cmd, args) || s.routeMayWait(cl, cmd, args) {
		return loopPark
	}
	if cs := s.cl; cs != nil && cs.proxy && !cl.clu.peer {
		if cs.proxyWaits(cl, cmd, args) {
			return loopPark
		}
		if owes && (cmd.first <= 0 || cmd.flags&flagMovableKeys != 0) { // no keys, or maybe none: routing would settle
			return loopSettle
		}
	}
	return loopRun
}

// proxyWaits reports whether cmd, run by cl in proxy mode, may wait for a
// peer: PUBLISH (it sends to every peer, dialing if need be), and keyed
// commands that forward and wait (a cross-slot command split over owners,
// any forward while CLIENT REPLY is OFF or SKIP).
func (cs *clusterState) proxyWaits(cl *client, cmd *command, args [][]byte) bool {
	switch {
	case cmd.name == "publish":
		return true
	case cmd.first <= 0 && cmd.flags&flagMovableKeys == 0: // no keys
		return false
	case cl.reply != 0:
		return true
	case cmd.split != splitNone:
		_, _, cross := cs.commandSlot(cmd, args)
		return cross
	}
	return false
}
