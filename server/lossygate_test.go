package server

import (
	"net"
	"sync"
	"time"
)

// lossyGate withholds what a node's replication connections receive while
// it is closed, as readGate does, except that a connection that fails
// meanwhile (its peer closed or crashed) reports the failure at once and
// the bytes withheld are lost, as bytes in flight from a machine that
// dies are: the seal its old primary sent never arrives. Each wrapped
// connection has one goroutine that reads it ahead (pump); it ends when
// the connection fails or is closed.
type lossyGate struct {
	readGate
	addr string // the gate applies to connections to this address only

	mu    sync.Mutex // protects conns and cut
	conns []net.Conn // the wrapped connections
	cut   bool
}

// wrap returns c with its reads passing the gate if c goes to g.addr.
func (g *lossyGate) wrap(c net.Conn) net.Conn {
	if c.RemoteAddr().String() != g.addr {
		return c
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cut {
		_ = c.Close()
	}
	g.conns = append(g.conns, c)
	lc := &lossyConn{Conn: c, g: g, in: make(chan lossyChunk, 16), closed: make(chan struct{})}
	go lc.pump()
	return lc
}

// cutAll breaks every wrapped connection, now and later (a crashed
// machine's connections fail): their reads fail at once, and what the
// gate withheld is lost. The in-process node's Close, which the crash
// also does, can take tens of seconds on the loaded machine before it
// closes its replication links.
func (g *lossyGate) cutAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cut = true
	for _, c := range g.conns {
		_ = c.Close()
	}
}

type lossyChunk struct {
	b   []byte
	err error
}

// lossyConn is a connection behind a lossyGate. Read is called by one
// goroutine (the Replica's reader).
type lossyConn struct {
	net.Conn
	g      *lossyGate
	in     chan lossyChunk // what pump read, in order; the last one carries the error
	closed chan struct{}   // closed by Close
	once   sync.Once
	rest   []byte // read from in, not yet returned
	err    error  // the connection's failure, once read from in
}

// pump reads the connection until it fails (Close makes it fail).
func (c *lossyConn) pump() {
	for {
		b := make([]byte, 32<<10)
		n, err := c.Conn.Read(b)
		select {
		case c.in <- lossyChunk{b: b[:n], err: err}:
		case <-c.closed:
			return
		}
		if err != nil {
			return
		}
	}
}

func (c *lossyConn) Read(b []byte) (int, error) {
	for len(c.rest) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		select {
		case ch := <-c.in:
			c.rest, c.err = ch.b, ch.err
		case <-c.closed:
			return 0, net.ErrClosed
		}
		for open := c.g.wait(); open != nil; open = c.g.wait() {
			select {
			case <-open:
			case ch := <-c.in:
				if c.err == nil && ch.err == nil {
					c.rest = append(c.rest, ch.b...)
					continue
				}
				c.rest = nil // lost in flight
				if c.err == nil {
					c.err = ch.err
				}
				return 0, c.err
			case <-c.closed:
				return 0, net.ErrClosed
			}
		}
	}
	n := copy(b, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

// SetReadDeadline is a no-op: pump reads ahead, so a deadline the
// Replica sets would cut the link while the gate withholds its bytes
// (readGate's reads are blocked at the gate, past their deadline, too).
func (c *lossyConn) SetReadDeadline(time.Time) error { return nil }

func (c *lossyConn) SetDeadline(d time.Time) error { return c.Conn.SetWriteDeadline(d) }

func (c *lossyConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}
