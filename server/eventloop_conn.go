package server

import (
	"fmt"
	"net"
	"runtime"
	"time"

	"github.com/cached/cached/server/eventloop"
	"github.com/cached/cached/server/peer"
)

// The server's side of the event loops (package eventloop): loopHost
// gives the loops the server's byte counters, idle timeout and socket
// wrapper; loopConn serves one connection on a loop through the same
// runBuffered and runRequest as a goroutine does.

// loopsPerServer, when above 0, is how many event loops a server started
// from now on runs instead of GOMAXPROCS: a test's knob (GOMAXPROCS is
// the whole process's), set only while no server starts.
var loopsPerServer int

// startLoops starts the event loops if io-event-loop is on: one per
// GOMAXPROCS (none on systems other than Linux). Called by Start before
// the listeners serve.
func (s *Server) startLoops() error {
	if !s.cfg.IOEventLoop {
		return nil
	}
	n := runtime.GOMAXPROCS(0)
	if loopsPerServer > 0 {
		n = loopsPerServer
	}
	s.loopPeers = make([][]*peer.Conn, n)
	s.loopBatches = make([]loopBatch, n)
	s.prefetchFrom = prefetchFromBytes
	ls, err := eventloop.Start(n, loopHost{s})
	if err != nil {
		return fmt.Errorf("server: io-event-loop: %w", err)
	}
	s.loops = ls
	return nil
}

// adoptLoop takes c's socket out of Go's poller for an event loop, if c
// is a TCP connection and the loops run; it returns the loop socket (then
// c.nc is it), or nil: a goroutine serves c. Called on the accept loop
// before the client is registered; the caller Starts the socket once c is
// ready.
func (s *Server) adoptLoop(c *conn) *eventloop.Conn {
	if s.loops == nil {
		return nil
	}
	g, ok := c.nc.(*guardConn)
	if !ok {
		return nil
	}
	tc, ok := g.Conn.(*net.TCPConn)
	if !ok {
		return nil
	}
	h := &loopConn{s: s, c: c}
	k, err := s.loops.Adopt(tc, h)
	if err != nil {
		return nil
	}
	h.loop = k.Loop()
	c.nc, c.onLoop, c.lb = k, true, &s.loopBatches[h.loop]
	return k
}

// loopOutput is the output an event loop keeps for c's connection, not
// yet written (CLIENT LIST omem); 0 for other connections. Safe from any
// goroutine.
func loopOutput(c *client) int64 {
	if cn, ok := c.Conn.(*conn); ok {
		if k, ok := cn.nc.(*eventloop.Conn); ok {
			return k.Pending()
		}
	}
	return 0
}

// loopHost is the server as the event loops' Host.
type loopHost struct{ s *Server }

// Wrap puts a handed-off socket in a guardConn, as an accepted one.
func (h loopHost) Wrap(nc net.Conn) net.Conn { return &guardConn{Conn: nc, s: h.s} }

// CountRead counts network input (total_net_input_bytes).
func (h loopHost) CountRead(n int) { h.s.stats.netInput.Add(uint64(n)) }

// CountWrite counts network output (total_net_output_bytes).
func (h loopHost) CountWrite(n int) { h.s.stats.netOutput.Add(uint64(n)) }

// IdleTimeout is the timeout directive.
func (h loopHost) IdleTimeout() time.Duration {
	return time.Duration(h.s.idleTimeout.Load()) * time.Second
}

// Fatal asks the node's owner to stop it.
func (h loopHost) Fatal(err error) { h.s.fatal(err) }

// Idle writes the requests the loop's suspended connections queued on
// peer connections (owedReplies.suspend), from the loop, without waiting
// (peer.Conn.FlushNow: what the socket does not take goes to the
// connection's writer): once per loop wake-up rather than once per
// connection, so that one peer write carries the requests of every
// client the loop served.
func (h loopHost) Idle(loop int) {
	h.s.loopBatches[loop].countWakeup()
	later := &h.s.loopPeers[loop]
	for i, pc := range *later {
		pc.FlushNow()
		(*later)[i] = nil
	}
	*later = (*later)[:0]
}

// loopConn serves c on an event loop (eventloop.Handler): runBuffered
// stops before a request loopActionOf does not run on the loop, with
// c.handArgs or c.parkArgs set.
type loopConn struct {
	s      *Server
	c      *conn
	loop   int    // the socket's loop (eventloop.Conn.Loop)
	resume func() // the socket's Resume, made once: the owed replies' Group calls it
	// prepped: Prepare read for the coming Serve(true), with error
	// prepErr (eventloop_prefetch.go).
	prepped bool
	prepErr error
}

// Serve reads once (if read) and runs every complete request, leaving the
// replies for Flush (the loop writes every connection's replies of a
// wake-up at its end), or says why the loop must let go of the connection.
// When the requests forwarded to peers owe replies, it suspends the
// connection until they are all in (eventloop.Suspend) and goes on from
// there when the loop calls it again.
func (h *loopConn) Serve(read bool) (eventloop.Next, error) {
	c := h.c
	cl, _ := c.ctx.(*client)
	var stop bool
	var err error
	switch {
	case read:
		rerr := h.prepErr // Prepare read already
		if h.prepped {
			h.prepped, h.prepErr = false, nil
		} else {
			rerr = c.rd.Fill()
		}
		if rerr != nil {
			if rerr == eventloop.ErrWouldBlock {
				return eventloop.Wait, nil
			}
			return eventloop.Close, rerr
		}
		stop, err = h.s.runBuffered(cl, c, nil)
	case c.owed.armed: // resumed: the owed replies are in
		stop, err = h.settled(cl)
	case c.detached || c.closed: // the parked request detached or closed it
		stop = true
	default:
		stop, err = h.s.runBuffered(cl, c, nil)
	}
	for !stop && err == nil && len(c.owed.list) > 0 {
		if h.resume == nil {
			h.resume = c.nc.(*eventloop.Conn).Resume
		}
		if c.owed.suspend(h.resume, &h.s.loopPeers[c.nc.(*eventloop.Conn).Loop()]) {
			return eventloop.Suspend, nil
		}
		stop, err = h.settled(cl) // all in already
	}
	switch {
	case c.handArgs != nil || c.detached:
		return eventloop.HandOff, nil
	case c.parkArgs != nil:
		if err := c.Flush(); err != nil { // the replies before it go first
			c.parkArgs = nil
			return eventloop.Close, err
		}
		return eventloop.Park, nil
	}
	if stop || err != nil { // closed by its command (QUIT, a panic), or a protocol error answered
		_ = c.Flush()
		return eventloop.End, err
	}
	return eventloop.Flush, nil // the loop calls Flush once it served the wake-up's connections
}

// Flush writes the replies Serve left (eventloop.Flusher).
func (h *loopConn) Flush() error { return h.c.Flush() }

// settled splices the owed replies, all in, and runs the rest of the
// batch, from the request the batch stopped before (c.waitArgs) if any.
func (h *loopConn) settled(cl *client) (stop bool, err error) {
	c := h.c
	c.settle()
	first := c.waitArgs
	c.waitArgs = nil
	return h.s.runBuffered(cl, c, first)
}

// Park runs c.parkArgs on a goroutine, then gives c back to its loop.
func (h *loopConn) Park() {
	args := h.c.parkArgs
	h.c.parkArgs = nil
	h.s.wg.Add(1)
	go h.runParked(args)
}

// runParked is the goroutine of a parked connection: it runs one request
// (waiting for store locks if it must), then gives c back to the loop.
func (h *loopConn) runParked(args [][]byte) {
	defer h.s.wg.Done()
	h.s.stats.loopParks.Add(1)
	c := h.c
	cl, _ := c.ctx.(*client)
	cl.batching, c.inPark = true, true
	h.s.runRequest(cl, c, args)
	c.settle() // a forwarded reply: this goroutine may wait for it, the loop may not
	cl.batching, cl.batchClock, c.inPark = false, 0, false
	c.nc.(*eventloop.Conn).Resume()
}

// HandedOff gives c a goroutine of its own (serveHandedOff) that runs
// c.handArgs and the rest; for a connection a command detached, its
// session starts now (Server.closed). The output the loop kept goes
// before the replies of the batch.
func (h *loopConn) HandedOff(pending []byte, err error) {
	c := h.c
	if err != nil {
		h.s.log.Warn("event loop: hand-off failed: client closed", "addr", c.addr, "error", err)
	}
	if len(pending) > 0 {
		c.out = append(pending, c.out...)
	}
	c.onLoop = false
	h.s.stats.loopHandOffs.Add(1)
	args := c.handArgs
	c.handArgs = nil
	if c.detached {
		h.s.closed(c, nil)
		return
	}
	h.s.wg.Add(1)
	go h.s.serveHandedOff(c, args)
}

// Closed tells the server the connection is gone.
func (h *loopConn) Closed(err error) {
	h.c.closed = true
	h.c.parkArgs = nil
	h.s.closed(h.c, err)
}
