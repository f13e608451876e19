package server

// Forwarding a pipeline (proxy mode): while the connection loop runs the
// requests of one read (client.batching), a request for another node's
// slot is written to the owner's peer connection without a flush and
// without waiting for its reply; the connection owes that reply at the
// current end of its reply buffer. Before the replies are written (Flush),
// handed to anyone else (Buffer, SetBuffer, Detach, Close), or before a
// command without keys runs here (routeCluster: it may look at the whole
// node, or change the connection, as HELLO does), the connection settles:
// it flushes the peer connections it wrote to (waking their writers), waits
// once for all the owed replies (a peer.Group) and splices each into its
// place. A client's pipelined requests so cost it no peer write and one
// wake-up per read instead of one write and a round trip each; the peer
// connections' writers write many clients' requests at once. Requests for
// this node's own slots run meanwhile, in order with the forwarded ones on
// each peer (a client's requests to one peer go on one connection, which
// keeps their order); they touch other slots, so only the order of the
// replies matters, and the splice keeps it.
//
// On an event loop the connection never waits for the replies: at the end
// of the read's requests (or at maxOwed, or before a request that needs
// them settled: loopSettle in eventloop.go) it flushes the peer
// connections, arms the Group to resume the connection when the last
// reply is in, and the loop suspends it (eventloop.Suspend) and serves
// its other connections; once resumed, the splice finds every reply in.
// A request to a peer with no live connection is sent by a goroutine of
// the pool that dials (peer.Pool.SendLater), and the batch ends there.

import (
	"slices"

	"github.com/tidwall/redcon"

	"github.com/cached/cached/server/peer"
)

// maxOwed is how many forwarded replies a connection may owe before it
// settles: it bounds the replies held per client.
const maxOwed = 64

// owedReply is a forwarded request whose reply goes at offset at of the
// connection's reply buffer.
type owedReply struct {
	call *peer.Call
	at   int
	addr string
}

// owedReplies are the replies a connection waits for from peers, and the
// peer connections it wrote to without flushing. Owner only.
type owedReplies struct {
	cs        *clusterState
	list      []owedReply
	group     *peer.Group // the calls of list; made at the first forward
	armed     bool        // group armed (suspend): every reply of list is in once resumed
	unflushed []unflushedConn
	spare     []byte // the previous reply buffer, reused by the splice
}

// unflushedConn is a peer connection a connection queued requests on
// since it last settled, and what it was looked up by.
type unflushedConn struct {
	pc    *peer.Conn
	addr  string
	resp3 bool
}

// deferrable returns the client's connection when a forwarded reply may be
// owed rather than waited for: the connection loop is running a read's
// requests and every reply is kept (no CLIENT REPLY OFF/SKIP).
func (c *client) deferrable() *conn {
	cn, ok := c.Conn.(*conn)
	if !ok || !c.batching || c.reply != 0 || cn.detached || cn.closed {
		return nil
	}
	return cn
}

// forwardLater queues the command to addr on the peer connection, unflushed,
// and leaves its reply owed by cn.
func (cs *clusterState) forwardLater(cn *conn, c *client, args [][]byte, addr string) {
	o := &cn.owed
	if o.group == nil {
		o.cs, o.group = cs, peer.NewGroup()
	}
	call := peer.NewCall()
	queue := func(pc *peer.Conn) error {
		o.group.Add(call)
		err := pc.Queue(call, args)
		if err != nil {
			o.group.Cancel(call)
		}
		return err
	}
	owe := func() {
		cs.sent.Add(1)
		o.list = append(o.list, owedReply{call: call, at: len(cn.out), addr: addr})
	}
	resp3 := c.RESP3.Load()
	used := o.lastUsed(addr, resp3)
	err := peer.ErrBroken
	if used != nil {
		err = queue(used) // the connection this read already uses: no pool look-up
	}
	loop := cn.onLoop && !cn.inPark
	if err == peer.ErrBroken && loop { // never dial (or wait) on a loop
		if used = cs.peers.Live(addr, resp3); used != nil {
			err = queue(used)
		}
		if err == peer.ErrBroken {
			o.group.Add(call)
			cs.peers.SendLater(addr, resp3, call, args)
			owe()
			cn.owedFull = true // the rest after its reply: their order on the new connection
			return
		}
	}
	if err == peer.ErrBroken {
		used = nil
		err = cs.onPeer(c, addr, func(pc *peer.Conn) error {
			used = pc
			return queue(pc)
		})
	}
	if err != nil {
		call.Release()
		c.Err(proxyError(addr, err))
		return
	}
	owe()
	if !slices.ContainsFunc(o.unflushed, func(u unflushedConn) bool { return u.pc == used }) {
		o.unflushed = append(o.unflushed, unflushedConn{pc: used, addr: addr, resp3: resp3})
	}
	if len(o.list) >= maxOwed {
		if loop {
			cn.owedFull = true // the loop suspends the connection
		} else {
			cn.settle()
		}
	}
}

// lastUsed returns the peer connection to addr (RESP3 or not) that the
// connection has queued requests on since it last settled, or nil.
func (o *owedReplies) lastUsed(addr string, resp3 bool) *peer.Conn {
	for _, u := range o.unflushed {
		if u.addr == addr && u.resp3 == resp3 {
			return u.pc
		}
	}
	return nil
}

// flushPeers has the writers of the peer connections written to write.
func (o *owedReplies) flushPeers() {
	for i, u := range o.unflushed {
		u.pc.Flush()
		o.unflushed[i] = unflushedConn{}
	}
	o.unflushed = o.unflushed[:0]
}

// suspend arms the group to call resume once every owed reply is in,
// without waiting, and leaves the peer connections written to in later,
// for the loop to flush once it has served all its ready connections
// (loopHost.Idle); it reports false if the replies are all in already
// (then resume is not called). Either way settle then finds them all
// in. An event loop's connection only, on its loop.
func (o *owedReplies) suspend(resume func(), later *[]*peer.Conn) (waiting bool) {
	for i, u := range o.unflushed {
		if !slices.Contains(*later, u.pc) {
			*later = append(*later, u.pc)
		}
		o.unflushed[i] = unflushedConn{}
	}
	o.unflushed = o.unflushed[:0]
	o.armed = true
	return !o.group.Arm(resume)
}

// settle writes every owed reply into its place in the reply buffer: it
// flushes the peer connections written to, then waits for all the replies
// at once (none after suspend: they are in). An unreachable owner's reply
// is the TRYAGAIN error forward gives.
func (c *conn) settle() {
	o := &c.owed
	if len(o.list) == 0 {
		return
	}
	if o.armed {
		o.armed = false
		o.group.Reset()
	} else {
		o.flushPeers()
		o.group.Wait()
	}
	o.cs.received.Add(uint64(len(o.list)))
	buf, prev := o.spare[:0], 0
	for i := range o.list {
		w := &o.list[i]
		buf = append(buf, c.out[prev:w.at]...)
		prev = w.at
		if w.call.Err != nil {
			msg := proxyError(w.addr, w.call.Err)
			o.cs.s.stats.countError("TRYAGAIN")
			buf = redcon.AppendError(buf, msg)
		} else {
			buf = append(buf, w.call.Reply...)
		}
		w.call.Release()
		*w = owedReply{}
	}
	buf = append(buf, c.out[prev:]...)
	o.list = o.list[:0]
	o.spare, c.out = c.out[:0], buf
	if cap(o.spare) > outMaxKeep {
		o.spare = nil
	}
}
