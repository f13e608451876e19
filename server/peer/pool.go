// Package peer owns node-to-node client connections: a pool of pipelined
// RESP connections to other nodes, one per address and protocol, on
// which the requests of many callers are written in order and their
// replies read back in the same order, as raw bytes (a proxy relays them
// unchanged). What a node says on a new connection (AUTH, its peer
// marker) is the caller's.
package peer

import (
	"bufio"
	"errors"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cached/cached/protocol"
)

const (
	dialTimeout = 2 * time.Second        // connecting and setting up a connection
	replyWait   = 10 * time.Second       // longest wait for one reply
	queueLen    = 4096                   // requests in flight per connection past which Send and SendBatch wait (Queue does not)
	redialAfter = 500 * time.Millisecond // after a failed dial, fail at once for this long
)

// ErrBroken is returned for requests on a connection that failed.
var ErrBroken = errors.New("peer connection broken")

// key names one pooled connection.
type key struct {
	addr  string
	resp3 bool
}

// Options are what a Pool asks of its owner.
type Options struct {
	// IdleTimeout returns the peers' idle timeout in seconds (0: none). A
	// connection idle for more than half of it is replaced before use: the
	// peer, configured alike, may be about to close it.
	IdleTimeout func() int64
	// Setup returns the commands a new connection sends, in order, before
	// its first request (AUTH, HELLO 3 for a RESP3 connection …); any
	// error reply fails the dial.
	Setup func(resp3 bool) [][]string
	// Watch, if set, hands a connection's replies to an event loop: fd is
	// a duplicate of the socket, which the loop owns from then on, and w
	// reads it on the loop (eventloop.Set.Watch). An error (no loops)
	// leaves fd the pool's, and a goroutine reads the replies.
	Watch func(fd int, w Watcher) error
}

// Pool owns the pooled node-to-node connections. Its zero value is not
// usable: make one with NewPool.
type Pool struct {
	opts   Options
	mu     sync.RWMutex // guards m and closed
	m      map[key]*slot
	closed bool
	wg     sync.WaitGroup // read and write loops
}

// slot holds one pooled connection; dialMu makes one caller dial it
// while others to the same peer wait, and callers to other peers do not.
type slot struct {
	dialMu   sync.Mutex
	pc       atomic.Pointer[Conn]
	failedAt time.Time // last failed dial; guarded by dialMu
	failErr  error     // its error
}

// NewPool returns an empty pool.
func NewPool(opts Options) *Pool {
	return &Pool{opts: opts, m: map[key]*slot{}}
}

// live returns the slot's connection unless it failed or has been idle for
// more than half of the idle timeout (timeout seconds, 0 = none): the peer,
// configured alike, may be about to close it, so it is replaced first.
func (sl *slot) live(timeout int64) *Conn {
	pc := sl.pc.Load()
	if pc == nil || pc.broken.Load() {
		return nil
	}
	if timeout > 0 && time.Since(time.Unix(0, pc.lastUse.Load())) > time.Duration(timeout)*time.Second/2 {
		pc.markBroken() // idle: nothing is in flight on it
		return nil
	}
	return pc
}

// Get returns the live connection to addr speaking RESP3 or RESP2, dialing
// it if needed; all callers share it (its writer writes their requests
// together). A dial that failed less than half a second ago fails again at
// once, with the same error.
func (ps *Pool) Get(addr string, resp3 bool) (*Conn, error) {
	k := key{addr, resp3}
	timeout := ps.idleTimeout()
	ps.mu.RLock()
	sl := ps.m[k]
	ps.mu.RUnlock()
	if sl != nil {
		if pc := sl.live(timeout); pc != nil {
			return pc, nil
		}
	} else {
		ps.mu.Lock()
		if sl = ps.m[k]; sl == nil {
			sl = &slot{}
			ps.m[k] = sl
		}
		ps.mu.Unlock()
	}
	sl.dialMu.Lock()
	defer sl.dialMu.Unlock()
	if pc := sl.live(timeout); pc != nil {
		return pc, nil
	}
	if time.Since(sl.failedAt) < redialAfter {
		return nil, sl.failErr // fail fast while gossip has not yet dropped a dead peer
	}
	pc, err := ps.dial(addr, resp3)
	if err != nil {
		sl.failedAt, sl.failErr = time.Now(), err
		return nil, err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.closed {
		_ = pc.conn.Close()
		return nil, ErrBroken
	}
	ps.wg.Add(2)
	if !ps.watchOnLoop(pc) { // the loop's Stopped calls ps.wg.Done
		go pc.readLoop(&ps.wg, bufio.NewReaderSize(pc.conn, 32<<10))
	}
	go pc.writeLoop(&ps.wg)
	sl.pc.Store(pc)
	return pc, nil
}

// dial connects and prepares a connection (its read loop is not started
// yet) with the owner's setup commands.
func (ps *Pool) dial(addr string, resp3 bool) (*Conn, error) {
	var setup [][]string
	if ps.opts.Setup != nil {
		setup = ps.opts.Setup(resp3)
	}
	conn, err := protocol.DialSetup(addr, dialTimeout, setup)
	if err != nil {
		return nil, err
	}
	pc := &Conn{conn: conn, kick: make(chan struct{}, 1), avail: make(chan struct{}, 1),
		space: make(chan struct{}, 1), dead: make(chan struct{})}
	pc.lastUse.Store(time.Now().UnixNano())
	return pc, nil
}

// Live returns the live connection to addr speaking RESP3 or RESP2, or
// nil if there is none: unlike Get it never dials, so it never waits on
// the peer (an event loop forwards through it).
func (ps *Pool) Live(addr string, resp3 bool) *Conn {
	ps.mu.RLock()
	sl := ps.m[key{addr, resp3}]
	ps.mu.RUnlock()
	if sl == nil {
		return nil
	}
	return sl.live(ps.idleTimeout())
}

// idleTimeout is the owner's idle timeout for slot.live (0: none).
func (ps *Pool) idleTimeout() int64 {
	if ps.opts.IdleTimeout == nil {
		return 0
	}
	return ps.opts.IdleTimeout()
}

// SendLater sends one request to addr for call, which must be in a
// Group, from a goroutine of the pool's own: it dials the connection if
// need be (Get), so the caller never waits on the peer. If the request
// cannot be sent, the call ends with the error. args is the caller's
// until SendLater returns (it is copied).
func (ps *Pool) SendLater(addr string, resp3 bool, call *Call, args [][]byte) {
	own := make([][]byte, len(args))
	for i, a := range args {
		own[i] = append([]byte(nil), a...)
	}
	ps.mu.Lock()
	if ps.closed {
		ps.mu.Unlock()
		call.Err = ErrBroken
		call.finish()
		return
	}
	ps.wg.Add(1)
	ps.mu.Unlock()
	go func() {
		defer ps.wg.Done()
		var err error
		for try := 0; try < 2; try++ { // a connection broken before the write is replaced once
			var pc *Conn
			if pc, err = ps.Get(addr, resp3); err == nil {
				err = pc.Send(call, own)
			}
			if err != ErrBroken {
				break
			}
		}
		if err != nil {
			call.Err = err
			call.finish()
		}
	}()
}

// Close closes every connection and waits for their read and write loops
// (an event loop that reads one fails its calls once it sees the socket
// shut); later Gets fail with ErrBroken.
func (ps *Pool) Close() {
	ps.mu.Lock()
	ps.closed = true
	for _, sl := range ps.m {
		if pc := sl.pc.Load(); pc != nil {
			pc.markBroken()
		}
	}
	ps.mu.Unlock()
	ps.wg.Wait()
}

// Conn is one pipelined connection to a peer: requests of many callers
// are written in order and their replies read back in the same order.
// Callers only append requests to a buffer; the connection's writer
// goroutine writes what has gathered, once per wake-up, so the requests
// of many callers (and of one caller to several peers) share writes, and
// no caller waits for a write syscall or holds a lock during one. An
// event loop writes what has gathered itself, without waiting
// (FlushNow). Its replies are read by a goroutine of its own, or with
// Options.Watch on an event loop (loopread.go).
type Conn struct {
	conn    net.Conn
	bmu     sync.Mutex // guards out, the requests not yet handed to the writer
	out     []byte
	wmu     sync.Mutex    // held from taking out to writing it (writeLoop, FlushNow): keeps the writes in order
	wbuf    []byte        // the buffer last written, out's next; guarded by wmu
	wraw    rawWriter     // FlushNow's non-blocking write; guarded by wmu
	kick    chan struct{} // wakes the writer; capacity 1
	qmu     sync.Mutex    // guards calls, and orders requests: held from the check of broken until the request is in out (bmu inside it)
	calls   []*Call
	avail   chan struct{} // capacity 1: calls became non-empty (wakes the read loop)
	space   chan struct{} // capacity 1: the read loop took calls (wakes a sender waiting for room)
	lastUse atomic.Int64  // UnixNano of the last write, or of a call queued when none was
	broken  atomic.Bool
	dead    chan struct{} // closed when broken is set
	onLoop  bool          // an event loop reads the replies (loopReader); set before first use
}

// Call is one request in flight and, once Wait returns (or its Group's
// Wait), its reply: the reply's RESP bytes, or the error that broke the
// connection first.
type Call struct {
	Reply []byte
	Err   error
	done  chan struct{} // nil: fire-and-forget
	group *Group        // set by Group.Add: the group is told instead of done
}

// discard stands for a fire-and-forget request in a connection's queue.
var discard = &Call{}

var callPool = sync.Pool{New: func() any { return &Call{done: make(chan struct{}, 1)} }}

// NewCall returns a Call to Send, from a pool; Release gives it back.
func NewCall() *Call { return callPool.Get().(*Call) }

// Wait waits for the call's reply (Reply or Err); Send must have returned
// nil for it, and the call must not be in a Group.
func (c *Call) Wait() { <-c.done }

// Release returns the call to the pool; its Reply must not be used after.
func (c *Call) Release() {
	c.Reply, c.Err, c.group = c.Reply[:0], nil, nil
	callPool.Put(c)
}

// finish reports the call's reply (or error) to whoever waits for it. The
// read loop calls it.
func (c *Call) finish() {
	switch {
	case c.group != nil:
		c.group.finish()
	case c.done != nil:
		c.done <- struct{}{}
	}
}

// Group waits for many calls, on any connections, with one wake-up when
// the last reply is in rather than one per call: Wait blocks for it, or
// Arm has a function called then. Its zero value is not usable: make one
// with NewGroup. A Group is owned by one goroutine, which adds calls and
// waits (or arms); the connections' read loops finish them.
type Group struct {
	n    atomic.Int64  // calls in flight, plus one until Wait or Arm
	done chan struct{} // capacity 1: the last finish
	fn   func()        // set by Arm: called by the last finish instead of done
}

// NewGroup returns an empty group.
func NewGroup() *Group {
	g := &Group{done: make(chan struct{}, 1)}
	g.n.Store(1)
	return g
}

// Add puts call (fresh from NewCall, not yet sent) in the group: Wait
// then covers it, and its own Wait must not be used. Call Add just
// before Queue or Send, and Cancel if they fail.
func (g *Group) Add(call *Call) {
	call.group = g
	g.n.Add(1)
}

// Cancel takes back an Add whose call was not queued (Queue or Send
// returned an error).
func (g *Group) Cancel(call *Call) {
	call.group = nil
	g.n.Add(-1)
}

func (g *Group) finish() {
	if g.n.Add(-1) == 0 {
		if fn := g.fn; fn != nil {
			fn()
		} else {
			g.done <- struct{}{}
		}
	}
}

// Arm is Wait without waiting: once every call added since the last
// Wait or Reset has its reply or error, fn is called, on the goroutine
// of the read loop that finished the last one (so fn must not block).
// Arm returns true, and fn is not called, if they all have theirs
// already. Either way Reset must be called, after fn ran or Arm
// returned true, before the group is used again. The connections the
// calls were queued on must have been flushed.
func (g *Group) Arm(fn func()) (done bool) {
	g.fn = fn
	return g.n.Add(-1) == 0
}

// Reset makes an armed group (Arm) usable again, once all its calls
// are finished.
func (g *Group) Reset() {
	g.fn = nil
	g.n.Store(1)
}

// Wait waits until every call added since the last Wait has its reply or
// error. The connections the calls were queued on must have been flushed.
// The group may be used again after.
func (g *Group) Wait() {
	if g.n.Add(-1) != 0 {
		<-g.done
	}
	g.n.Store(1)
}

// Send writes one request and queues call for its reply; a nil call sends
// the request without waiting for its reply (which is read and dropped).
// The request is written at the writer's next wake-up, with whatever
// other senders have added meanwhile.
func (pc *Conn) Send(call *Call, args [][]byte) error {
	if call == nil {
		call = discard
	}
	return pc.add(call, args, true)
}

// Queue writes one request and queues call (not nil) for its reply, like
// Send, but leaves the request buffered: the caller must call Flush
// before it waits for the reply. (Another sender's flush or a full
// buffer may write it earlier.) A client's pipelined requests to one
// peer then cost it no write at all. Queue never waits, not even for
// room among the calls in flight (queueLen): the caller bounds how many
// it queues (a proxied client owes at most a few dozen replies), so an
// event loop may queue.
func (pc *Conn) Queue(call *Call, args [][]byte) error {
	return pc.add(call, args, false)
}

// add buffers one request and queues call for its reply (Send, Queue); it
// wakes the writer when flush is set or the buffer passed 16 KiB. A Send
// first waits while queueLen calls are in flight.
func (pc *Conn) add(call *Call, args [][]byte, flush bool) error {
	if flush && !pc.waitRoom(1) {
		return ErrBroken
	}
	// One lock of qmu and one of bmu per request (a third lock that
	// only ordered them was ≈1 % of a forwarding node's CPU).
	pc.qmu.Lock()
	if pc.broken.Load() {
		pc.qmu.Unlock()
		return ErrBroken
	}
	// The call is queued before its request can be written: a reader on
	// an event loop (loopReader), which never waits for a call, must find
	// it there when the reply comes.
	first := pc.enqueueLocked(call)
	pc.bmu.Lock()
	pc.out = protocol.AppendCommand(pc.out, args...)
	flush = flush || len(pc.out) > 16<<10
	pc.bmu.Unlock()
	pc.qmu.Unlock()
	if first {
		// The first call in the queue: the connection may have been idle.
		// Later ones need no clock read (one per request was 2 % of a
		// forwarding node's CPU): while calls are queued it is in use,
		// and the writer notes each write.
		pc.lastUse.Store(time.Now().UnixNano())
		pc.tellReader()
	}
	if flush {
		pc.wake()
	}
	return nil
}

// wake tells the writer there is something to write.
func (pc *Conn) wake() {
	select {
	case pc.kick <- struct{}{}:
	default: // already told
	}
}

// enqueueLocked queues call for the next reply; qmu is held. It never
// waits. It reports whether the queue was empty: then the caller calls
// tellReader once it released qmu.
func (pc *Conn) enqueueLocked(call *Call) (first bool) {
	pc.calls = append(pc.calls, call)
	return len(pc.calls) == 1
}

// tellReader wakes the read loop waiting for calls (takeCalls).
func (pc *Conn) tellReader() {
	select {
	case pc.avail <- struct{}{}:
	default: // already told
	}
}

// waitRoom waits until n more calls fit in queueLen beside those queued
// and not yet taken by the read loop (or none are queued); false if the
// connection broke meanwhile. It does not hold mu, so Queue never waits
// behind it; the bound is loose (senders that wait together may all go
// on together). It first wakes the writer: the replies the read loop
// waits for may be those of requests still buffered (Queue leaves some
// there).
func (pc *Conn) waitRoom(n int) bool {
	for {
		pc.qmu.Lock()
		queued := len(pc.calls)
		pc.qmu.Unlock()
		if queued == 0 || queued+n <= queueLen {
			return true
		}
		pc.wake()
		select {
		case <-pc.space:
		case <-pc.dead:
			return false
		}
	}
}

// takeCalls waits for queued calls and returns them all in buf's place
// (buf, emptied, becomes the queue); nil once the connection broke.
func (pc *Conn) takeCalls(buf []*Call) []*Call {
	for {
		pc.qmu.Lock()
		if len(pc.calls) > 0 {
			buf, pc.calls = pc.calls, buf[:0]
			pc.qmu.Unlock()
			select {
			case pc.space <- struct{}{}:
			default:
			}
			return buf
		}
		pc.qmu.Unlock()
		select {
		case <-pc.avail:
		case <-pc.dead:
			return nil
		}
	}
}

// Flush has the writer write what Queue left buffered, without waiting
// for it. A failed write breaks the connection, which fails the calls in
// flight on it.
func (pc *Conn) Flush() { pc.wake() }

// writeLoop writes, at each wake-up, every request buffered since the
// last, in one write, until the connection breaks.
func (pc *Conn) writeLoop(wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-pc.kick:
		case <-pc.dead:
			return
		}
		runtime.Gosched() // let the senders that woke with ours add their requests first
		pc.wmu.Lock()
		pc.bmu.Lock()
		buf := pc.out
		pc.out = pc.wbuf[:0]
		pc.bmu.Unlock()
		if len(buf) > 0 {
			if _, err := pc.conn.Write(buf); err != nil {
				pc.wmu.Unlock()
				pc.markBroken() // the read loop fails the queued calls
				return
			}
			pc.lastUse.Store(time.Now().UnixNano())
		}
		pc.keepBuf(buf)
		pc.wmu.Unlock()
	}
}

// keepBuf keeps buf, written, for the next write's buffer swap (not a
// burst's); wmu is held.
func (pc *Conn) keepBuf(buf []byte) {
	if cap(buf) > 1<<20 {
		buf = nil
	}
	pc.wbuf = buf[:0]
}

// SendBatch writes the requests back to back, with no other sender's
// request between them, flushes them, and queues calls[i] for the reply to
// reqs[i] (every call non-nil, none in a Group). It returns how many
// calls were queued, which get a reply or an error and may be waited
// for: all of them, or none with ErrBroken (nothing was sent). A MULTI …
// EXEC sent this way is one transaction on the peer's connection.
func (pc *Conn) SendBatch(calls []*Call, reqs [][][]byte) (queued int, err error) {
	if !pc.waitRoom(len(calls)) {
		return 0, ErrBroken
	}
	pc.qmu.Lock() // the whole batch: no other request between its requests
	if pc.broken.Load() {
		pc.qmu.Unlock()
		return 0, ErrBroken
	}
	pc.lastUse.Store(time.Now().UnixNano())
	for _, call := range calls { // before the requests can be written, as in add
		pc.enqueueLocked(call)
	}
	pc.bmu.Lock()
	for _, args := range reqs {
		pc.out = protocol.AppendCommand(pc.out, args...)
	}
	pc.bmu.Unlock()
	pc.qmu.Unlock()
	pc.tellReader()
	pc.wake()
	return len(calls), nil
}

// markBroken closes the connection once; any goroutine may call it.
func (pc *Conn) markBroken() {
	if pc.broken.CompareAndSwap(false, true) {
		close(pc.dead)
		if pc.onLoop {
			shutdownSocket(pc.conn) // the loop's duplicate sees the end
		}
		_ = pc.conn.Close()
	}
}

// readLoop reads replies in order and hands each to its call. When the
// connection fails it fails every queued call and returns.
func (pc *Conn) readLoop(wg *sync.WaitGroup, br *bufio.Reader) {
	defer wg.Done()
	var scratch []byte
	var batch []*Call // taken from calls at once (takeCalls): one lock per batch, not per call
	next := 0
	for !pc.broken.Load() {
		if next == len(batch) {
			if batch, next = pc.takeCalls(batch[:0]), 0; batch == nil {
				continue // broken
			}
		}
		call := batch[next]
		batch[next] = nil
		next++
		if br.Buffered() == 0 { // the reply is still to come: it has replyWait (a buffered one is here)
			_ = pc.conn.SetReadDeadline(time.Now().Add(replyWait))
		}
		var err error
		if call == discard {
			scratch, err = ReadRaw(br, scratch[:0])
		} else {
			call.Reply, err = ReadRaw(br, call.Reply[:0])
			call.Err = err
			call.finish()
		}
		if err != nil {
			pc.markBroken()
		}
	}
	pc.failQueued(batch[next:])
}

// ReadRaw appends one complete RESP2/RESP3 reply, as its bytes, to dst. It
// refuses malformed framing and lengths over protocol.DefaultMaxBulk.
func ReadRaw(br *bufio.Reader, dst []byte) ([]byte, error) {
	for pending := 1; pending > 0; pending-- {
		start := len(dst)
		for {
			chunk, err := br.ReadSlice('\n')
			dst = append(dst, chunk...)
			if err == nil {
				break
			}
			if err != bufio.ErrBufferFull {
				return dst, err
			}
		}
		line := dst[start:]
		if len(line) < 3 || line[len(line)-2] != '\r' {
			return dst, protocol.ErrProtocol
		}
		n, ok := protocol.ParseInt(line[1 : len(line)-2])
		if !ok && line[0] != '+' && line[0] != '-' && line[0] != ',' && line[0] != '#' && line[0] != '(' && line[0] != '_' {
			return dst, protocol.ErrProtocol
		}
		if n > protocol.DefaultMaxBulk {
			return dst, protocol.ErrReplyTooLarge
		}
		switch line[0] {
		case '+', '-', ':', '_', ',', '#', '(':
		case '$', '!', '=':
			if n >= 0 {
				at := len(dst)
				dst = append(dst, make([]byte, n+2)...)
				if _, err := io.ReadFull(br, dst[at:]); err != nil {
					return dst, err
				}
			}
		case '*', '~', '>':
			pending += max(int(n), 0)
		case '%':
			pending += 2 * max(int(n), 0)
		case '|':
			pending += 2*max(int(n), 0) + 1
		default:
			return dst, protocol.ErrProtocol
		}
	}
	return dst, nil
}
