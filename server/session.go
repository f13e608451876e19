package server

// Sessions: a connection detached from the connection loop (conn.go).
//
// The connection loop (conn.go) serves each connection on its own
// goroutine and writes replies into a private buffer it flushes after each
// batch of pipelined commands, so no other goroutine may write to the
// connection. A client that must receive
// pushes from other goroutines (pub/sub messages, keyspace events) or must
// wait (blocking commands) is detached (redcon.Conn.Detach) and served by a
// session for the rest of its life. Three goroutines, counted in Server.wg,
// own it:
//
//   - reader:   reads commands (copying their arguments out of the
//     connection's read buffer) and hands them to the executor; a read error
//     ends the session.
//   - executor: runs each command through Server.dispatch, then moves the
//     reply bytes to the output queue; it runs the functions runBlocked
//     schedules before it takes the next command.
//   - writer:   writes the output queue to the socket.
//
// c.Conn stays the same connection: handlers running on the executor keep
// writing replies with c.Conn.Write* into its reply buffer, which the executor
// empties into the output queue after each command (collect), so replies and
// pushes (push, from any goroutine) reach the client in order. Swapping
// c.Conn would race with client.close on other goroutines.
//
// The session starts when the connection's goroutine has finished with the
// connection (Server.closed calls handoff): until then the detaching
// command's arguments still live in the connection's read buffer. When the
// session ends (peer gone, CLIENT KILL, QUIT, output buffer limit, Server.Close) the
// last of its goroutines unsubscribes the client and removes it from the
// client registry, which is what Server.Close waits for.

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cached/cached/server/kernel"
	"github.com/tidwall/redcon"
)

// sessionInLen is how many commands the reader may read ahead of the
// executor (while a command is blocked the reader keeps reading, so that a
// disconnect is seen).
const sessionInLen = 256

// sessionMaxKeep is the largest write buffer the writer keeps between bursts.
const sessionMaxKeep = 1 << 20

// session serves a connection detached from the connection loop (conn.go) (pub/sub, blocked
// clients): it reads commands, runs them and queues replies and pushes that
// a writer sends, under the client's output buffer limit.
type session struct {
	s  *Server
	c  *client
	dc redcon.DetachedConn
	w  replyBuffer // the connection's reply buffer, written by handlers on the executor
	nc net.Conn

	in      chan [][]byte // commands, reader -> executor
	start   chan struct{} // closed by handoff: the connection loop is done with it
	goneCh  chan struct{} // closed by end
	endOnce sync.Once
	live    atomic.Int32 // goroutines still running; the last one calls finish
	busy    atomic.Bool  // the executor runs a blocked function
	// subscribed is set while the client has subscriptions (pubsub.go):
	// its output buffer limit class is then pubsub.
	subscribed atomic.Bool

	blocked []func() // scheduled by runBlocked; owner (the connection's goroutine, then executor) only

	mu        sync.Mutex
	out       []byte        // queued output the writer has not taken yet
	inflight  int           // bytes the writer is writing now
	closing   bool          // close once out is written (CLIENT KILL of oneself)
	dead      bool          // ended: further output is dropped
	softSince time.Time     // when the output first went over the soft limit
	wake      chan struct{} // cap 1: out became non-empty, or closing was set
	drained   chan struct{} // closed by the writer when out is empty again (waitDrained)
}

// errMonitorDetached refuses MONITOR on a connection a session serves.
const errMonitorDetached = "ERR MONITOR is not allowed on a subscribed or blocked connection"

// errOutputLimit is why a client over its output buffer limit is closed.
var errOutputLimit = errors.New("client output buffer limit reached")

// detach moves c off the connection loop onto a session (idempotent: returns the
// existing one). It runs on c's owner goroutine, during a command. Replies
// written after it (c.Conn.Write*) still reach the client in order. The
// session's goroutines start once the connection's goroutine has let go of the
// connection (Server.closed -> handoff); the pipelined commands the connection had
// read are handed to the session.
func (c *client) detach() *session {
	if c.sess != nil {
		return c.sess
	}
	ss := &session{
		s:      c.s,
		c:      c,
		in:     make(chan [][]byte, sessionInLen),
		start:  make(chan struct{}),
		goneCh: make(chan struct{}),
		wake:   make(chan struct{}, 1),
	}
	ss.w = replyBufferOf(c.Conn)
	ss.nc = c.Conn.NetConn()
	c.detached.Store(true) // before Detach: Server.closed then leaves c registered
	ss.dc = c.Conn.Detach()
	c.sess = ss
	c.sessView.Store(ss) // CLIENT LIST omem (client.go)
	ss.live.Store(3)
	c.s.wg.Add(3)
	go ss.read()
	go ss.execute()
	go ss.write()
	return ss
}

// handoff starts the session: the connection's goroutine no longer touches the
// connection. Called by Server.closed for a detached client.
func (ss *session) handoff() { close(ss.start) }

// gone is closed when the peer disconnected or the client was
// killed/closed.
func (ss *session) gone() <-chan struct{} { return ss.goneCh }

// runBlocked schedules fn on the executor before it reads the next command.
// It must be called on the client's owner goroutine (a handler, or park):
// on the connection's goroutine for the command that detached the client, on the
// executor afterwards. fn should return when ss.gone() is closed.
func (ss *session) runBlocked(fn func()) { ss.blocked = append(ss.blocked, fn) }

// end closes the session from any goroutine: the connection is closed (the
// reader's read fails), the executor and the writer stop, output is dropped.
func (ss *session) end() {
	ss.endOnce.Do(func() {
		ss.mu.Lock()
		ss.dead = true
		ss.out = nil
		ss.mu.Unlock()
		ss.c.killed.Store(true)
		close(ss.goneCh)
		if ss.nc != nil {
			_ = ss.nc.Close()
		}
	})
}

func (ss *session) ended() bool {
	select {
	case <-ss.goneCh:
		return true
	default:
		return false
	}
}

// exit is deferred by each goroutine: the last one cleans up.
func (ss *session) exit() {
	if ss.live.Add(-1) == 0 {
		ss.finish()
	}
	ss.s.wg.Done()
}

// finish runs once every goroutine has stopped: the client leaves its
// channels and patterns and the registry.
func (ss *session) finish() {
	ss.end()
	ss.c.leaveAll()
	ss.s.clients.remove(ss.c)
}

// waitStart waits for handoff (always coming: serveConn calls Server.closed
// when its goroutine lets go of the connection), so that the session never
// finishes while the detaching command still runs; false if the session
// ended meanwhile.
func (ss *session) waitStart() bool {
	<-ss.start
	return !ss.ended()
}

// read is the reader goroutine.
func (ss *session) read() {
	defer ss.exit()
	if !ss.waitStart() {
		return
	}
	for {
		cmd, err := ss.dc.ReadCommand()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && !ss.ended() && ss.exemptFromTimeout() {
				continue
			}
			ss.end()
			return
		}
		if len(cmd.Args) == 0 {
			continue
		}
		select {
		case ss.in <- copyArgs(cmd.Args):
		case <-ss.goneCh:
			return
		}
	}
}

// exemptFromTimeout reports whether the idle timeout spares the client, as
// Redis spares subscribed and blocked clients.
func (ss *session) exemptFromTimeout() bool {
	return ss.subscribed.Load() || ss.busy.Load()
}

// copyArgs copies a command out of the connection's read buffer, which the next read
// reuses, into one allocation.
func copyArgs(args [][]byte) [][]byte {
	n := 0
	for _, a := range args {
		n += len(a)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(args))
	for i, a := range args {
		buf = append(buf, a...)
		out[i] = buf[len(buf)-len(a) : len(buf) : len(buf)]
	}
	return out
}

// execute is the executor goroutine: the client's owner once started.
func (ss *session) execute() {
	defer ss.exit()
	if !ss.waitStart() {
		return
	}
	ss.collect() // replies of the batch that detached the client
	ss.runScheduled()
	for !ss.ended() && !ss.c.killed.Load() {
		select {
		case args := <-ss.in:
			ss.run(args)
		case <-ss.goneCh:
			return
		}
	}
}

// run executes one command and queues its reply.
func (ss *session) run(args [][]byte) {
	c := ss.c
	if kernel.KeyWordIs(args[0], "quit") {
		// QUIT's handler flushes the reply buffer straight to the socket and
		// closes it: everything queued before must be written first.
		if !ss.waitDrained() {
			return
		}
	}
	switch {
	case kernel.KeyWordIs(args[0], "monitor"):
		// MONITOR would detach the connection a second time.
		c.Err(errMonitorDetached)
	case !c.inMulti() && len(args) <= 2 && kernel.KeyWordIs(args[0], "ping") && subscribedPing(c, args):
		if cmd := ss.s.cmds.lookup(args[0]); cmd != nil {
			cmd.calls.Add(1)
		}
	default:
		ss.s.dispatchSafe(c, args)
	}
	if kernel.KeyWordIs(args[0], "reset") {
		c.leaveAll() // RESET leaves every channel and pattern, silently
	}
	ss.collect()
	if c.closeAfterReply {
		ss.closeAfterFlush()
		return
	}
	ss.runScheduled()
}

// runScheduled runs the functions runBlocked scheduled, in order; each may
// schedule more.
func (ss *session) runScheduled() {
	for len(ss.blocked) > 0 && !ss.ended() {
		fn := ss.blocked[0]
		ss.blocked = ss.blocked[1:]
		ss.busy.Store(true)
		ss.runGuarded(fn)
		ss.busy.Store(false)
		ss.collect()
		if ss.c.closeAfterReply { // a recovered panic (recover.go)
			ss.closeAfterFlush()
			break
		}
	}
	ss.blocked = nil
}

// runGuarded runs fn, recovering a panic as at the command boundary.
func (ss *session) runGuarded(fn func()) {
	defer ss.s.recoverConn(ss.c, nil)
	fn()
}

// collect moves the replies handlers wrote into the reply buffer to the
// output queue.
func (ss *session) collect() {
	b := ss.w.Buffer()
	if len(b) == 0 {
		return
	}
	ss.w.SetBuffer(nil)
	ss.enqueue(b)
}

// push queues an out-of-band frame (pub/sub message, keyspace event) from
// any goroutine, in order with replies. It never blocks. Over the client's
// output buffer limit the client is closed and push returns false; it also
// returns false once the session has ended.
func (ss *session) push(frame []byte) bool { return ss.enqueue(frame) }

func (ss *session) enqueue(b []byte) bool {
	ss.mu.Lock()
	if ss.dead || ss.closing {
		ss.mu.Unlock()
		return false
	}
	ss.out = append(ss.out, b...)
	ok := ss.withinLimit(ss.limitClass())
	ss.mu.Unlock()
	if !ok {
		ss.s.log.Debug("closing client over its output buffer limit", "addr", ss.c.addr, "error", errOutputLimit)
		ss.s.outLimitDrops.Add(1)
		ss.end()
		return false
	}
	select {
	case ss.wake <- struct{}{}:
	default:
	}
	return true
}

// limitClass is the client's output buffer limit class: pubsub while it has
// subscriptions, normal otherwise.
func (ss *session) limitClass() outputClass {
	if ss.subscribed.Load() {
		return classPubSub
	}
	return classNormal
}

// withinLimit checks the queued bytes against the class's limits, as Redis's
// checkClientOutputBufferLimits: over the hard limit, or over the soft limit
// for more than soft-seconds, the client must be closed. ss.mu is held.
func (ss *session) withinLimit(class outputClass) bool {
	lim := ss.s.outputLimit(class)
	used := int64(len(ss.out) + ss.inflight)
	if lim.Hard > 0 && used >= lim.Hard {
		return false
	}
	if lim.Soft > 0 && used >= lim.Soft {
		now := time.Now()
		if ss.softSince.IsZero() {
			ss.softSince = now
			return true
		}
		// Whole seconds, as Redis compares against its unixtime clock.
		return int64(now.Sub(ss.softSince)/time.Second) <= lim.SoftSeconds
	}
	ss.softSince = time.Time{}
	return true
}

// closeAfterFlush makes the writer close the connection once everything
// queued is written, and drops later output.
func (ss *session) closeAfterFlush() {
	ss.mu.Lock()
	ss.closing = true
	ss.mu.Unlock()
	select {
	case ss.wake <- struct{}{}:
	default:
	}
}

// waitDrained waits until the writer has written everything queued; false
// if the session ended first.
func (ss *session) waitDrained() bool {
	for {
		ss.mu.Lock()
		if ss.dead {
			ss.mu.Unlock()
			return false
		}
		if len(ss.out) == 0 && ss.inflight == 0 {
			ss.mu.Unlock()
			return true
		}
		if ss.drained == nil {
			ss.drained = make(chan struct{})
		}
		ch := ss.drained
		ss.mu.Unlock()
		select {
		case <-ch:
		case <-ss.goneCh:
			return false
		}
	}
}

// write is the writer goroutine.
func (ss *session) write() {
	defer ss.exit()
	if !ss.waitStart() {
		return
	}
	var buf []byte
	for {
		ss.mu.Lock()
		for len(ss.out) == 0 {
			if ss.drained != nil {
				close(ss.drained)
				ss.drained = nil
			}
			if ss.closing || ss.dead {
				ss.mu.Unlock()
				ss.end()
				return
			}
			ss.mu.Unlock()
			select {
			case <-ss.wake:
			case <-ss.goneCh:
				return
			}
			ss.mu.Lock()
		}
		buf, ss.out = ss.out, buf[:0]
		ss.inflight = len(buf)
		ss.mu.Unlock()
		_, err := ss.nc.Write(buf)
		ss.mu.Lock()
		ss.inflight = 0
		if cap(buf) > sessionMaxKeep {
			buf = nil
		}
		ss.mu.Unlock()
		if err != nil {
			ss.end()
			return
		}
	}
}
