package server

import (
	"errors"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/tidwall/redcon"

	"github.com/cached/cached/protocol"
)

// The connection loop. Each accepted connection gets one goroutine
// (serveConn) that reads into a protocol.RequestReader, runs every complete
// request in the buffer with its arguments parsed in place (no copy, no
// allocation per request), then writes all their replies with one write
// before it reads again: a pipeline of n requests costs one read and one
// write. Connections are redcon.Conn values for the handlers (conn), so
// detaching one (sessions, MONITOR, REPLSYNC) works as with redcon's own
// loop: the detached connection reads on from the same buffer. With
// io-event-loop yes, TCP connections are served by event loops instead
// (package eventloop, eventloop_conn.go) through the same runBuffered and
// runRequest, and come back to a goroutine of their own (serveHandedOff)
// before a request that may wait.

// conn is a client connection served by serveConn. The serving goroutine
// owns it until Detach; then the detached connection's owner does.
type conn struct {
	nc       net.Conn // the guardConn around the socket
	addr     string
	rd       *protocol.RequestReader
	out      []byte // replies not yet written
	ctx      any
	detached bool
	closed   bool

	// onLoop is set while an event loop (eventloop_conn.go) serves the
	// connection; handArgs is then the request the loop stopped before
	// because it must run on a goroutine of the connection's own, parkArgs
	// the one it stopped before to run it on a goroutine and take the
	// connection back after (their arguments point into rd's buffer).
	// Owner only.
	onLoop   bool
	lb       *loopBatch // its loop's (eventloop_prefetch.go)
	warmLeft int        // requests buffered whose keys were warmed and have not run; loop only
	handArgs [][]byte
	parkArgs [][]byte
	// waitArgs is the request the loop stopped before to settle the
	// forwarded replies owed first (loopSettle); owedFull says the batch
	// stopped because they reached maxOwed or one needs a dial. inPark is
	// set while a goroutine runs a parked request (then forwarding may
	// wait). Owner only.
	waitArgs [][]byte
	owedFull bool
	inPark   bool

	// owed are forwarded requests' replies not yet in out (proxy mode,
	// cluster_proxy_batch.go); settle puts them in. Owner only.
	owed owedReplies
}

var _ redcon.Conn = (*conn)(nil)

// outMaxKeep is the largest reply buffer a connection keeps between batches.
const outMaxKeep = 1 << 20

func (c *conn) RemoteAddr() string          { return c.addr }
func (c *conn) Context() any                { return c.ctx }
func (c *conn) SetContext(v any)            { c.ctx = v }
func (c *conn) SetReadBuffer(int)           {}
func (c *conn) NetConn() net.Conn           { return c.nc }
func (c *conn) WriteError(msg string)       { c.out = redcon.AppendError(c.out, msg) }
func (c *conn) WriteString(str string)      { c.out = redcon.AppendString(c.out, str) }
func (c *conn) WriteBulk(bulk []byte)       { c.out = protocol.AppendBulk(c.out, bulk) }
func (c *conn) WriteBulkString(bulk string) { c.out = redcon.AppendBulkString(c.out, bulk) }
func (c *conn) WriteInt(num int)            { c.out = redcon.AppendInt(c.out, int64(num)) }
func (c *conn) WriteInt64(num int64)        { c.out = redcon.AppendInt(c.out, num) }
func (c *conn) WriteUint64(num uint64)      { c.out = redcon.AppendUint(c.out, num) }
func (c *conn) WriteArray(count int)        { c.out = redcon.AppendArray(c.out, count) }
func (c *conn) WriteNull()                  { c.out = redcon.AppendNull(c.out) }
func (c *conn) WriteRaw(data []byte)        { c.out = append(c.out, data...) }
func (c *conn) WriteAny(v any)              { c.out = redcon.AppendAny(c.out, v) }

// WriteBulkFrom writes a bulk string of n bytes read from rb.
func (c *conn) WriteBulkFrom(n int64, rb io.Reader) {
	c.out = append(c.out, '$')
	c.out = strconv.AppendInt(c.out, n, 10)
	c.out = append(c.out, '\r', '\n')
	start := len(c.out)
	c.out = append(c.out, make([]byte, n)...)
	if _, err := io.ReadFull(rb, c.out[start:]); err != nil {
		clear(c.out[start:])
	}
	c.out = append(c.out, '\r', '\n')
}

// ReadPipeline and PeekPipeline return nothing: requests are parsed one at
// a time, when they run (Buffered says how many bytes wait).
func (c *conn) ReadPipeline() []redcon.Command { return nil }

// PeekPipeline returns nothing: see ReadPipeline.
func (c *conn) PeekPipeline() []redcon.Command { return nil }

// Buffer returns a copy of the replies not yet written.
func (c *conn) Buffer() []byte {
	c.settle()
	return append([]byte(nil), c.out...)
}

// SetBuffer replaces the replies not yet written with a copy of b.
func (c *conn) SetBuffer(b []byte) {
	c.settle()
	c.out = append(c.out[:0], b...)
}

// Flush writes the replies not yet written.
func (c *conn) Flush() error {
	c.settle()
	if len(c.out) == 0 {
		return nil
	}
	_, err := c.nc.Write(c.out)
	if cap(c.out) > outMaxKeep {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return err
}

// Close writes what is queued and closes the connection. On an event
// loop the loop closes it once the replies are written (loopConn.Serve).
func (c *conn) Close() error {
	_ = c.Flush()
	c.closed = true
	if c.onLoop {
		return nil
	}
	return c.nc.Close()
}

// Detach hands the connection to a new owner once the running request is
// done: serveConn lets go of it without closing it.
func (c *conn) Detach() redcon.DetachedConn {
	c.settle()
	c.detached = true
	return detachedConn{c}
}

// detachedConn reads the requests after the one that detached it, from the
// same buffer.
type detachedConn struct{ *conn }

// ReadCommand returns the next request; its arguments are a private copy
// (the new owner may keep them).
func (dc detachedConn) ReadCommand() (redcon.Command, error) {
	for {
		args, err := dc.rd.Next()
		if err != nil {
			if fe, ok := err.(protocol.FrameError); ok {
				err = framingFailed(dc.nc, fe)
			}
			return redcon.Command{}, err
		}
		if args != nil {
			cp := copyArgs(args)
			return redcon.Command{Args: cp}, nil
		}
		if err := dc.rd.Fill(); err != nil {
			return redcon.Command{}, err
		}
	}
}

// replyBuffer is the unwritten reply buffer of a connection (conn, or
// redcon's Writer for other redcon.Conn values): CLIENT REPLY OFF trims it,
// a session moves it to its queue.
type replyBuffer interface {
	Buffer() []byte
	SetBuffer(b []byte)
}

// replyBufferOf returns conn's reply buffer, nil if it has none.
func replyBufferOf(rc redcon.Conn) replyBuffer {
	if c, ok := rc.(*conn); ok {
		return c
	}
	if w := redcon.BaseWriter(rc); w != nil {
		return w
	}
	return nil
}

// serveListener accepts connections on ln until it is closed.
func (s *Server) serveListener(ln net.Listener) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing() || errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.log.Warn("accept failed", "error", err)
			select { // out of file descriptors, say: let some go first
			case <-s.stop:
				return nil
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		c := &conn{nc: nc, addr: nc.RemoteAddr().String()}
		lp := s.adoptLoop(c) // eventloop_conn.go: the socket is the loop's from here on
		if !s.accept(c) {
			_ = c.nc.Close()
			continue
		}
		c.rd = protocol.NewRequestReader(c.nc, 0)
		c.rd.Check(protocol.NewFrameChecker(s.frameLimits()))
		if lp != nil {
			lp.Start()
			continue
		}
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

// serveConn is a connection's goroutine: it runs the requests the client
// sends until the connection ends or is detached.
func (s *Server) serveConn(c *conn) {
	defer s.wg.Done()
	s.endConn(c, s.runConn(c))
}

// serveHandedOff is the goroutine of a connection an event loop let go of
// (loopConn.HandedOff): it runs first, the request the loop stopped
// before, and the rest of the buffer, then serves the connection as
// serveConn does.
func (s *Server) serveHandedOff(c *conn, first [][]byte) {
	defer s.wg.Done()
	cl, _ := c.ctx.(*client)
	stop, err := s.runBuffered(cl, c, first)
	if !stop && err == nil {
		err = c.Flush()
		if err == nil {
			err = c.rd.Fill()
		}
		if err == nil {
			err = s.runConn(c)
		}
	}
	s.endConn(c, err)
}

// endConn lets go of a connection whose serving ended with err: it is
// closed unless it was detached, and Server.closed is told.
func (s *Server) endConn(c *conn, err error) {
	if !c.detached {
		_ = c.nc.Close()
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	s.closed(c, err)
}

// runConn reads and runs requests, writing the replies of each batch (the
// requests one read brought) with one write.
func (s *Server) runConn(c *conn) error {
	cl, _ := c.ctx.(*client)
	for {
		if stop, err := s.runBuffered(cl, c, nil); stop || err != nil {
			return err
		}
		if err := c.Flush(); err != nil {
			return err
		}
		if err := c.rd.Fill(); err != nil {
			return err
		}
	}
}

// runBuffered runs first (if not nil: a request already taken from the
// read buffer), then every complete request in the read buffer. stop: the
// connection was detached or closed, or, on an event loop, it must leave
// the loop before c.handArgs or park before c.parkArgs; err: a protocol
// error, answered.
//
// On an event loop it also ends early, without stop, when the forwarded
// replies the connection owes must be settled first (the loop suspends
// it until they are in, eventloop_conn.go): before c.waitArgs, or when
// c.owedFull; and before a protocol error, which the reader returns again.
func (s *Server) runBuffered(cl *client, c *conn, first [][]byte) (stop bool, err error) {
	cl.batching = true
	defer func() { cl.batching, cl.batchClock = false, 0 }()
	for {
		args := first
		first = nil
		if args == nil {
			var stop bool
			if args, stop, err = s.nextRequest(c); stop || args == nil {
				return stop, err
			}
		}
		if c.onLoop {
			c.lb.ran++
			if c.warmLeft > 0 {
				c.warmLeft--
			} else if s.prefetchOn() {
				c.warmLeft = s.warmAhead(cl, c, args)
			}
			switch s.loopActionOf(cl, args) { // eventloop.go
			case loopHandOff:
				c.handArgs = args
				return true, nil
			case loopPark:
				c.parkArgs = args
				return true, nil
			case loopSettle:
				c.waitArgs = args
				return false, nil
			}
		}
		s.runRequest(cl, c, args)
		if c.detached || c.closed {
			return true, nil
		}
		if c.owedFull {
			c.owedFull = false
			return false, nil
		}
	}
}

// nextRequest takes the next complete request from the read buffer: nil
// if there is none. A protocol error is answered (stop and err set);
// on an event loop, while forwarded replies are owed, it is left for
// after them (nil, no error: the reader returns it again).
func (s *Server) nextRequest(c *conn) (args [][]byte, stop bool, err error) {
	args, err = c.rd.Next()
	switch {
	case err == nil:
		return args, false, nil
	case c.onLoop && !c.inPark && len(c.owed.list) > 0:
		return nil, false, nil
	}
	if fe, ok := err.(protocol.FrameError); ok {
		// The replies before it first, as when the error came with a
		// later read.
		if err := c.Flush(); err != nil {
			return nil, true, err
		}
		s.log.Debug("closing client after protocol error", "addr", c.addr, "error", string(fe))
		return nil, true, framingFailed(c.nc, fe)
	}
	c.WriteError(err.Error())
	_ = c.Flush()
	return nil, true, err
}

// runRequest runs one request of the client: the arguments point into the
// connection's read buffer.
func (s *Server) runRequest(cl *client, c *conn, args [][]byte) {
	if cl.killed.Load() {
		return
	}
	cl.qbuf.Store(int64(c.rd.Buffered() + c.rd.Last())) // this request and those read after it
	s.dispatchSafe(cl, args)
	if c.detached {
		// The new owner (a session, MONITOR's reader) holds what is left
		// and may be reading it already: the reader is no longer ours.
		cl.qbuf.Store(0)
		return
	}
	cl.qbuf.Store(int64(c.rd.Buffered()))
	if cl.closeAfterReply {
		_ = c.Close() // flushes the reply first
	}
}
