package server

// Event loops (directive io-event-loop, Linux only: eventloop_linux.go).
//
// By default each client connection has a goroutine of its own (conn.go).
// Go's net package reads a socket until it finds it empty before the
// goroutine parks, so a request that comes alone costs two reads and a
// goroutine wake-up. With io-event-loop yes, a few event loops (one per
// GOMAXPROCS), each a goroutine with its own level-triggered epoll
// instance, serve the plain TCP connections instead: on readiness one read
// into the connection's request reader, every complete request run through
// the same path as on a goroutine (runBuffered, runRequest), the replies
// written with one write. A write the socket cannot take whole keeps the
// rest and waits for EPOLLOUT, and the connection is not read meanwhile
// (the same back-pressure a goroutine blocked in Write gives).
//
// A loop must never wait: one waiting connection would stall all the
// others of its loop. So before a request that may wait or take the
// connection away (mustLeaveLoop: blocking commands, WAIT, MULTI,
// subscriptions, MONITOR, scripts, DEBUG, a CLIENT PAUSE in force, proxy
// routing…), the loop hands the connection to a goroutine of its own
// (serveHandedOff): the socket is re-wrapped as a net.Conn, the bytes read
// and the replies not yet written go with it, and the connection stays
// there for the rest of its life. Unix socket connections, and every
// connection on other systems, are served by goroutines.
//
// The loopSock stays the connection's net.Conn for its whole life (client
// .close reads it from other goroutines): after the hand-off it forwards
// to the new socket.

import "errors"

// errWouldBlock is what a loop socket's Read returns when no byte is
// waiting (EAGAIN): the loop waits for readiness.
var errWouldBlock = errors.New("server: socket read would block")

// errIdleTimeout ends a loop connection idle longer than the timeout
// directive.
var errIdleTimeout = errors.New("server: client idle timeout")

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
		case "info", "myid", "slots", "shards", "nodes", "keyslot", "countkeysinslot", "getkeysinslot":
			return false
		}
		return true
	}
	return false
}

// mustLeaveLoop reports whether the request args of cl, about to run on an
// event loop, must run on a goroutine of the connection's own instead.
func (s *Server) mustLeaveLoop(cl *client, args [][]byte) bool {
	if s.cl != nil && s.cl.proxy || cl.multi != nil || cl.sess != nil {
		return true
	}
	cmd := cl.lookup(args[0])
	if cmd == nil {
		return false
	}
	if cmd.subs != nil && len(args) > 1 {
		if sub := cmd.lookupSub(args[1]); sub != nil {
			cmd = sub
		}
	}
	return cmd.offLoop || s.pause.holds(cmd) // a CLIENT PAUSE holds it: waitPause
}
