// Package eventloop serves client sockets from a few epoll event loops
// (directive io-event-loop, Linux only) instead of a goroutine each. It
// owns sockets and scheduling, nothing about commands: the loops and
// their set (start, stop, picking a loop for a new socket), the
// non-blocking socket type that is the connection's net.Conn (Conn), the
// raw system calls, idle sweeping, and the mechanics of parking a
// connection and of handing it off to a goroutine for good.
//
// Go's net package reads a socket until it finds it empty before the
// goroutine parks, so a request that comes alone costs two reads and a
// goroutine wake-up. Here each loop is a goroutine with its own
// level-triggered epoll instance (itself in Go's poller, so an idle loop
// parks like any goroutine); on readiness it asks the connection's
// Handler to read once and serve what is buffered, and the replies go out
// with one write (a Handler that returns Flush has them written once every
// ready connection of the wake-up was served: the writes of a wake-up go
// out together). A write the socket cannot take whole is kept and written
// on EPOLLOUT, and the connection is not read meanwhile (the back-pressure
// a goroutine blocked in Write gives).
//
// # What it asks of its user
//
// A Host, for the whole set: the wrapper a handed-off socket gets, the
// network byte counters, the idle timeout, and what to do when a loop
// fails. A Handler per connection, which runs the requests: Serve says
// what the loop does next (Next). A loop must never wait, so before a
// request that may wait or take the connection away the handler answers
// HandOff: the socket leaves the loop, is re-wrapped as a net.Conn in Go's
// poller, and Handler.HandedOff gets the output the loop still kept; the
// handler serves the connection on a goroutine of its own from then on.
// Before a request that may hold locks for long it answers Park: the
// socket leaves the epoll set, Handler.Park runs the request on a
// goroutine, and calls Conn.Resume; the loop then calls Serve again
// (read false) for the rest of the buffer. A handler that started
// something that completes elsewhere (a proxy's forwarded requests)
// answers Suspend and calls Conn.Resume when it has completed: the
// connection keeps its place on the loop and no goroutine runs for it. Handler.Closed tells the
// handler the socket is closed. A socket of the user's own (a connection
// to a peer whose replies complete such requests) can be read on a loop
// too (Set.Watch, a Watcher): a Resume it makes there, or any Resume
// while the loop is awake, is served before the loop waits again, with
// no eventfd write.
//
// # Usage
//
//	set, err := eventloop.Start(runtime.GOMAXPROCS(0), host)
//	...
//	k, err := set.Adopt(tcpConn, handler) // tcpConn is closed: k is the socket
//	k.Start()                             // the loop serves it from now on
//	...
//	set.Stop() // closes the connections still on the loops
//
// The Conn stays the connection's net.Conn for its whole life: Close is
// safe from any goroutine (on a loop it asks the loop to close), and after
// a hand-off Read, Write and the deadlines forward to the new socket.
// Elsewhere than Linux, Start returns a nil Set and every method of a nil
// Set is a no-op: the user serves every connection with goroutines.
package eventloop

import (
	"errors"
	"net"
	"time"
)

// ErrWouldBlock is what a Conn's Read on a loop returns when no byte is
// waiting (EAGAIN): the Handler returns Wait and the loop waits for
// readiness.
var ErrWouldBlock = errors.New("eventloop: socket read would block")

// ErrIdleTimeout is the error Handler.Closed gets for a connection idle
// longer than Host.IdleTimeout.
var ErrIdleTimeout = errors.New("eventloop: client idle timeout")

// Next is what a loop does with a connection once Handler.Serve returns.
type Next uint8

const (
	// Wait: wait for readiness again (what Write could not write is
	// written first, before any read).
	Wait Next = iota
	// Park: let go of the socket and call Handler.Park; the handler gives
	// the connection back with Conn.Resume. The handler wrote its replies
	// so far before it returns Park.
	Park
	// HandOff: give the socket to Go's poller for good and call
	// Handler.HandedOff.
	HandOff
	// End: close the connection once what it wrote has gone out (QUIT, a
	// protocol error answered); Serve's error is the reason.
	End
	// Close: close the connection now (a read or write failed); Serve's
	// error is the reason.
	Close
	// Suspend: the handler waits for something of its own (a peer's
	// replies to requests it forwarded) without the loop: the socket
	// stays the loop's, but it is not served (not read; what Write kept
	// is still written) until the handler calls Conn.Resume, from any
	// goroutine; then the loop calls Serve(false). Bytes that arrive
	// meanwhile take the socket out of the epoll set until then, so a
	// suspended connection costs the loop nothing.
	Suspend
	// Flush: Wait, but the handler has not written its replies yet: the
	// loop calls its Flush (the Handler must be a Flusher) once it has
	// served every connection of this wake-up. As Redis writes its
	// clients' replies just before it sleeps, the replies of a wake-up go
	// out together, so a peer with many connections (a load generator, a
	// pooled client) is woken once for many of them rather than once per
	// write.
	Flush
)

// Flusher is a Handler that may return Flush from Serve.
type Flusher interface {
	// Flush writes the replies Serve left (a Write on a loop never
	// waits); an error closes the connection.
	Flush() error
}

// Handler is the user's side of one connection: its request processing.
// The loop calls it on its goroutine, one call at a time, except where
// said otherwise; none of its methods may wait.
type Handler interface {
	// Serve runs the connection's complete buffered requests, reading
	// once from the Conn first if read is true (false: the connection is
	// back from Park or Suspend), and writes their replies to the Conn (a Write on a
	// loop never waits: what the socket does not take, the loop keeps).
	// Its error goes with End and Close.
	Serve(read bool) (Next, error)
	// Park is called once the loop has let go of the socket after Serve
	// returned Park: the handler runs the request it stopped before on a
	// goroutine of its own (which may wait), then calls Conn.Resume.
	Park()
	// HandedOff is called once the socket has left the loop for good
	// after Serve returned HandOff: Read and Write now go to the socket
	// in Go's poller (wrapped by Host.Wrap), and pending is the output the
	// loop kept, to go before anything else. If err is not nil the socket
	// could not be re-wrapped: every read and write fails.
	HandedOff(pending []byte, err error)
	// Closed is called once the socket is closed, with the reason (nil
	// for an orderly end, a reset or Close; ErrIdleTimeout). It is called
	// on the goroutine that calls Conn.Resume when the loops have stopped.
	Closed(err error)
}

// Host is what the loops ask of their user as a whole.
type Host interface {
	// Wrap returns the net.Conn a handed-off socket is read and written
	// through from now on; called on the loop.
	Wrap(nc net.Conn) net.Conn
	// CountRead and CountWrite count the bytes a Conn read and wrote on a
	// loop; called by whoever reads or writes, so they must be safe for
	// concurrent use.
	CountRead(n int)
	CountWrite(n int)
	// IdleTimeout is how long a connection may send nothing before the
	// loop closes it; 0 for no limit. Each loop asks once a second.
	IdleTimeout() time.Duration
	// Fatal is told of a loop that failed (epoll_wait); the loop then
	// closes its connections and ends.
	Fatal(err error)
	// Idle is called by loop number loop (Conn.Loop) each time it has
	// served every connection that was ready, before it waits for more:
	// the user may do there, once for all of them, what their requests
	// gathered (a proxy wakes the writers of the peer connections they
	// queued on). Called on the loop; it must not wait.
	Idle(loop int)
}

// Preparer is an optional interface of a Handler. When a loop wakes with
// connections ready to read, it calls Prepare on each of them that is a
// Preparer before it serves any (then Preparing.Prepared, if the Host is
// one), so that the user sees every request of the wake-up before the
// first runs (the server warms their keys in the store together).
type Preparer interface {
	// Prepare reads once from the Conn, as Serve(true) would, and keeps
	// what it read and the read's error for the Serve(true) the loop calls
	// next for this connection in the same wake-up, which then does not
	// read again. It runs no request. If the connection is closed before
	// that Serve (a Close from another goroutine), Closed is called
	// instead and what Prepare read is dropped with the connection.
	Prepare()
}

// Preparing is an optional interface of a Host: Prepared is called by
// loop number loop once per wake-up, after Prepare ran for the ready
// connections whose Handler is a Preparer (at least one) and before any
// of them is served. Called on the loop; it must not wait.
type Preparing interface {
	Prepared(loop int)
}

// Watcher is the user's side of a socket of its own that a loop reads
// for it (Set.Watch), such as a connection to another server whose
// replies complete requests of the loop's connections: read on the loop,
// they resume those connections in the same wake-up (Conn.Resume from
// the loop's goroutine writes no eventfd). Its methods are called on the
// loop's goroutine and must not wait.
type Watcher interface {
	// Ready is called when the socket has bytes to read, or has failed
	// (level-triggered: again while bytes are left). The watcher reads
	// it without waiting; done stops the watching.
	Ready() (done bool)
	// Tick is called about once a second with the loop's clock: a
	// watcher may give up on a peer that owes replies for too long.
	Tick(now time.Time) (done bool)
	// Stopped is called once when the watching ends: Ready or Tick
	// reported done, or the loops stopped. The loop closes the socket
	// after it returns.
	Stopped()
}

// NoHost is the Host that wraps nothing, counts nothing, has no idle
// timeout and ignores a loop's failure.
type NoHost struct{}

// Wrap returns nc.
func (NoHost) Wrap(nc net.Conn) net.Conn { return nc }

// CountRead does nothing.
func (NoHost) CountRead(int) {}

// CountWrite does nothing.
func (NoHost) CountWrite(int) {}

// IdleTimeout returns 0: no limit.
func (NoHost) IdleTimeout() time.Duration { return 0 }

// Fatal does nothing.
func (NoHost) Fatal(error) {}

// Idle does nothing.
func (NoHost) Idle(int) {}

// State is where a Conn's socket stands.
type State uint8

const (
	StateNew       State = iota // adopted, not yet started on its loop
	StateLoop                   // its loop serves it
	StateParked                 // a goroutine runs one of its requests (Park)
	StateHandedOff              // handed off: it forwards to the new socket
	StateClosed                 // closed
)
