package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cached/cached/protocol"
)

// This file holds node-to-node traffic: pooled, pipelined connections to
// peers, forwarding in proxy mode (a command relayed to its slot's owner and
// the reply bytes relayed back unchanged), splitting multi-key commands
// across owners, and PUBLISH fan-out.

const (
	peerLanes       = 4                      // connections per peer and protocol
	peerDialTimeout = 2 * time.Second        // connecting and setting up a peer connection
	peerReplyWait   = 10 * time.Second       // longest wait for one reply
	peerQueue       = 4096                   // requests in flight per connection
	peerRedialAfter = 500 * time.Millisecond // after a failed dial, fail at once for this long
)

// errPeerBroken is returned for requests on a connection that failed.
var errPeerBroken = errors.New("peer connection broken")

// peerKey names one pooled connection.
type peerKey struct {
	addr  string
	resp3 bool
	lane  uint8
}

// peerSet owns the pooled node-to-node connections.
type peerSet struct {
	cs     *clusterState
	mu     sync.RWMutex // guards m and closed
	m      map[peerKey]*peerSlot
	closed bool
	wg     sync.WaitGroup // read loops
}

// peerSlot holds one pooled connection; dialMu makes one caller dial it
// while others to the same peer wait, and callers to other peers do not.
type peerSlot struct {
	dialMu   sync.Mutex
	pc       atomic.Pointer[peerConn]
	failedAt time.Time // last failed dial; guarded by dialMu
	failErr  error     // its error
}

func (ps *peerSet) init(cs *clusterState) {
	ps.cs = cs
	ps.m = map[peerKey]*peerSlot{}
}

// live returns the slot's connection unless it failed or has been idle for
// more than half of the idle timeout (timeout seconds, 0 = none): the peer,
// configured alike, may be about to close it, so it is replaced first.
func (sl *peerSlot) live(timeout int64) *peerConn {
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

// get returns a live connection to addr speaking RESP3 or RESP2, dialing it
// if needed.
func (ps *peerSet) get(addr string, resp3 bool, lane uint8) (*peerConn, error) {
	k := peerKey{addr, resp3, lane}
	timeout := ps.cs.s.idleTimeout.Load()
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
			sl = &peerSlot{}
			ps.m[k] = sl
		}
		ps.mu.Unlock()
	}
	sl.dialMu.Lock()
	defer sl.dialMu.Unlock()
	if pc := sl.live(timeout); pc != nil {
		return pc, nil
	}
	if time.Since(sl.failedAt) < peerRedialAfter {
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
		return nil, errPeerBroken
	}
	ps.wg.Add(1)
	go pc.readLoop(&ps.wg, bufio.NewReaderSize(pc.conn, 32<<10))
	sl.pc.Store(pc)
	return pc, nil
}

// dial connects and prepares a peer connection (its read loop is not
// started yet): AUTH, HELLO 3 if asked,
// and CLUSTER X-PEER so the peer never forwards what it receives.
func (ps *peerSet) dial(addr string, resp3 bool) (*peerConn, error) {
	cl, err := protocol.Dial(addr, peerDialTimeout)
	if err != nil {
		return nil, err
	}
	setup := [][]string{{"CLUSTER", "X-PEER"}}
	if pass := ps.cs.s.password(); pass != "" {
		setup = append([][]string{{"AUTH", pass}}, setup...)
	}
	if resp3 {
		setup = append(setup, []string{"HELLO", "3"})
	}
	for _, cmd := range setup {
		v, err := cl.DoStrings(cmd...)
		if err == nil {
			err = v.Err()
		}
		if err != nil {
			_ = cl.Close()
			return nil, err
		}
	}
	conn := cl.Conn()
	_ = conn.SetDeadline(time.Time{})
	pc := &peerConn{conn: conn, bw: bufio.NewWriterSize(conn, 32<<10),
		pending: make(chan *peerCall, peerQueue), dead: make(chan struct{})}
	pc.lastUse.Store(time.Now().UnixNano())
	return pc, nil
}

// close closes every connection and waits for their read loops.
func (ps *peerSet) close() {
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

// peerConn is one pipelined connection to a peer: requests of many clients
// are written in order and their replies read back in the same order.
type peerConn struct {
	conn    net.Conn
	mu      sync.Mutex // orders writes and pending
	bw      *bufio.Writer
	wbuf    []byte
	waiting atomic.Int32 // senders between entering send and writing: the last one flushes
	pending chan *peerCall
	lastUse atomic.Int64 // UnixNano of the last send
	broken  atomic.Bool
	dead    chan struct{} // closed when broken is set
}

// peerCall is one request in flight; done is nil for fire-and-forget.
type peerCall struct {
	reply []byte
	err   error
	done  chan struct{}
}

var callPool = sync.Pool{New: func() any { return &peerCall{done: make(chan struct{}, 1)} }}

// send writes one request and queues call for its reply.
func (pc *peerConn) send(call *peerCall, args [][]byte) error {
	pc.waiting.Add(1)
	pc.mu.Lock()
	defer pc.mu.Unlock()
	last := pc.waiting.Add(-1) == 0
	if pc.broken.Load() {
		return errPeerBroken
	}
	pc.lastUse.Store(time.Now().UnixNano())
	pc.wbuf = protocol.AppendCommand(pc.wbuf[:0], args...)
	if _, err := pc.bw.Write(pc.wbuf); err != nil {
		pc.markBroken()
		return err
	}
	select {
	case pc.pending <- call:
	case <-pc.dead:
		return errPeerBroken
	}
	if last || pc.bw.Buffered() > 16<<10 {
		if err := pc.bw.Flush(); err != nil {
			pc.markBroken() // the read loop fails the queued calls
		}
	}
	return nil
}

// markBroken closes the connection once; any goroutine may call it.
func (pc *peerConn) markBroken() {
	if pc.broken.CompareAndSwap(false, true) {
		close(pc.dead)
		_ = pc.conn.Close()
	}
}

// readLoop reads replies in order and hands each to its call. When the
// connection fails it fails every queued call and returns.
func (pc *peerConn) readLoop(wg *sync.WaitGroup, br *bufio.Reader) {
	defer wg.Done()
	var scratch []byte
	for !pc.broken.Load() {
		var call *peerCall
		select {
		case call = <-pc.pending:
		case <-pc.dead:
			continue
		}
		_ = pc.conn.SetReadDeadline(time.Now().Add(peerReplyWait))
		var err error
		if call.done == nil {
			scratch, err = readRaw(br, scratch[:0])
		} else {
			call.reply, err = readRaw(br, call.reply[:0])
			call.err = err
			call.done <- struct{}{}
		}
		if err != nil {
			pc.markBroken()
		}
	}
	// A sender holds mu from its check of broken to its queuing: once we
	// had mu after broken was set, nothing more is queued.
	pc.mu.Lock()
	//lint:ignore SA2001 the empty critical section is the barrier
	pc.mu.Unlock()
	for {
		select {
		case call := <-pc.pending:
			if call.done != nil {
				call.err = errPeerBroken
				call.done <- struct{}{}
			}
		default:
			return
		}
	}
}

// readRaw appends one complete RESP2/RESP3 reply, as its bytes, to dst.
func readRaw(br *bufio.Reader, dst []byte) ([]byte, error) {
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

// proxyError is the reply when the owner of a slot cannot be reached.
func proxyError(addr string, err error) string {
	return "TRYAGAIN cluster proxy: owner " + addr + " unreachable: " + err.Error()
}

// sendTo queues one request to addr on the client's lane. A connection
// found broken before the request was written is replaced once.
func (cs *clusterState) sendTo(c *client, addr string, call *peerCall, args [][]byte) error {
	for try := 0; ; try++ {
		pc, err := cs.peers.get(addr, c.RESP3.Load(), uint8(c.id%peerLanes))
		if err != nil {
			return err
		}
		err = pc.send(call, args)
		if err == nil {
			cs.sent.Add(1)
			return nil
		}
		if err != errPeerBroken || try == 1 {
			return err
		}
	}
}

// forward sends the command to addr and relays its reply unchanged.
func (cs *clusterState) forward(c *client, args [][]byte, addr string) {
	call := callPool.Get().(*peerCall)
	if err := cs.sendTo(c, addr, call, args); err != nil {
		callPool.Put(call)
		c.Err(proxyError(addr, err))
		return
	}
	<-call.done
	cs.received.Add(1)
	if call.err != nil {
		c.Err(proxyError(addr, call.err))
	} else {
		c.Raw(call.reply)
	}
	call.reply, call.err = call.reply[:0], nil
	callPool.Put(call)
}

// broadcastPublish sends a PUBLISH to every other node, which delivers it to
// its own subscribers only (CLUSTER X-PUBLISH). Replies are not awaited.
func (cs *clusterState) broadcastPublish(channel, msg []byte) {
	v := cs.view.Load()
	if v == nil {
		return
	}
	args := [][]byte{[]byte("CLUSTER"), []byte("X-PUBLISH"), channel, msg}
	for i, addr := range v.addrs {
		if i == v.self {
			continue
		}
		pc, err := cs.peers.get(addr, false, 0)
		if err != nil {
			cs.s.log.Debug("publish: peer unreachable", "addr", addr, "error", err)
			continue
		}
		if pc.send(&peerCall{}, args) == nil {
			cs.sent.Add(1)
		}
	}
}
