package server

// Transactions in proxy mode (cluster-route proxy): a MULTI whose keyed
// commands all name one slot that another node owns is queued here as
// usual and, at EXEC, sent whole to the slot's owner as MULTI, the queued
// commands and EXEC, back to back on one peer connection (peer.SendBatch),
// so it runs there as one transaction; EXEC's reply is the owner's. A plain
// client can then use MULTI on every slot, not only on this node's.
//
// Not forwarded (the client gets MOVED, as without proxying): a
// transaction of a client that WATCHes keys (the watches live on this
// connection), and one that queued a connection command other than PING
// and ECHO (SELECT, CLIENT, HELLO, … would change the shared peer
// connection). Keys of two slots in one transaction are CROSSSLOT, as
// always in cluster mode.

import (
	"github.com/cached/cached/protocol"
	"github.com/cached/cached/server/peer"
)

// queueRemote reports whether, inside MULTI in proxy mode, cmd (whose keys
// another node owns) may be queued for a transaction EXEC forwards.
func (cs *clusterState) queueRemote(c *client, cmd *command) bool {
	return cs.proxy && !c.clu.peer && c.inMulti() && cmd.role&roleConnState == 0 &&
		!c.s.watch.Watching(&c.multi.watches)
}

// txForwardable reports whether every queued command may run on a peer's
// connection.
func txForwardable(m *multiState) bool {
	for _, q := range m.queue {
		root := q.cmd
		if root.parent != nil {
			root = root.parent
		}
		if q.cmd.role&roleConnState != 0 ||
			root.group == "connection" && root.name != "ping" && root.name != "echo" {
			return false
		}
	}
	return true
}

// execElsewhere handles EXEC of a transaction whose slot another node
// owns now: forwarded in proxy mode, else discarded with MOVED (its keyed
// commands were queued while the slot was this node's, or for forwarding).
// It reports false when the slot is this node's (or has no owner): EXEC
// runs here.
func (s *Server) execElsewhere(c *client, cmd *command, m *multiState) bool {
	cs := s.cl
	if cs == nil || m.aborted || !c.clu.txKeyed {
		return false
	}
	v := cs.view.Load()
	owner := v.t.OwnerIndex(c.clu.txSlot)
	if owner == v.self || owner < 0 {
		return false
	}
	addr := v.addrs[owner]
	if !cs.proxy || s.watch.Watching(&m.watches) || !txForwardable(m) {
		s.endTx(c)
		cmd.rejected.Add(1)
		c.Err(protocol.Moved(c.clu.txSlot, addr))
		return true
	}
	reqs := make([][][]byte, 0, len(m.queue)+2)
	reqs = append(reqs, [][]byte{[]byte("MULTI")})
	for _, q := range m.queue {
		reqs = append(reqs, q.args)
	}
	reqs = append(reqs, [][]byte{[]byte("EXEC")})
	s.endTx(c) // the queue's args stay valid: the transaction state is only dropped
	cs.forwardBatch(c, addr, reqs)
	return true
}

// forwardBatch sends reqs to addr back to back on the peer connection and
// relays the reply to the last one.
func (cs *clusterState) forwardBatch(c *client, addr string, reqs [][][]byte) {
	calls := make([]*peer.Call, len(reqs))
	for i := range calls {
		calls[i] = peer.NewCall()
	}
	defer func() {
		for _, call := range calls {
			call.Release()
		}
	}()
	queued := 0
	err := cs.onPeer(c, addr, func(pc *peer.Conn) (err error) {
		queued, err = pc.SendBatch(calls, reqs)
		return err
	})
	for _, call := range calls[:queued] {
		call.Wait()
	}
	cs.sent.Add(uint64(queued))
	cs.received.Add(uint64(queued))
	last := calls[len(calls)-1]
	switch {
	case err != nil:
		c.Err(proxyError(addr, err))
	case last.Err != nil:
		c.Err(proxyError(addr, last.Err))
	default:
		c.Raw(last.Reply)
	}
}
