package server

// Node-to-node traffic of proxy mode: a command relayed to its slot's
// owner over the pooled peer connections (server/peer) and the reply bytes
// relayed back unchanged, and PUBLISH fan-out. Splitting multi-key
// commands across owners is in cluster_split.go.

import "github.com/cached/cached/server/peer"

// peerSetup is what a node says on a new peer connection: AUTH if it has a
// password, CLUSTER X-PEER so the peer never forwards what it receives,
// and HELLO 3 for a RESP3 connection.
func (s *Server) peerSetup(resp3 bool) [][]string {
	var setup [][]string
	if pass := s.password(); pass != "" {
		setup = append(setup, []string{"AUTH", pass})
	}
	setup = append(setup, []string{"CLUSTER", "X-PEER"})
	if resp3 {
		setup = append(setup, []string{"HELLO", "3"})
	}
	return setup
}

// proxyError is the reply when the owner of a slot cannot be reached.
func proxyError(addr string, err error) string {
	return "TRYAGAIN cluster proxy: owner " + addr + " unreachable: " + err.Error()
}

// sendTo queues one request to addr on the peer connection (onPeer).
func (cs *clusterState) sendTo(c *client, addr string, call *peer.Call, args [][]byte) error {
	err := cs.onPeer(c, addr, func(pc *peer.Conn) error { return pc.Send(call, args) })
	if err == nil {
		cs.sent.Add(1)
	}
	return err
}

// onPeer runs send with the pooled connection to addr in the client's
// protocol: one per peer and protocol, shared by every client, so that
// their requests share its writes and its reads (on the event loops, or
// by its own goroutines without them; cheaper per request than the 4
// connections per peer used before: docs/cluster-mode.md, "Proxy against
// a cluster-aware client"). A
// connection found broken before anything was written (peer.ErrBroken)
// is replaced once.
func (cs *clusterState) onPeer(c *client, addr string, send func(pc *peer.Conn) error) error {
	for try := 0; ; try++ {
		pc, err := cs.peers.Get(addr, c.RESP3.Load())
		if err != nil {
			return err
		}
		if err = send(pc); err != peer.ErrBroken || try == 1 {
			return err
		}
	}
}

// forward sends the command to addr and relays its reply unchanged: at
// once, or, while the connection runs a pipeline, when it settles
// (forwardLater).
func (cs *clusterState) forward(c *client, args [][]byte, addr string) {
	if cn := c.deferrable(); cn != nil {
		cs.forwardLater(cn, c, args, addr)
		return
	}
	call := peer.NewCall()
	defer call.Release()
	if err := cs.sendTo(c, addr, call, args); err != nil {
		c.Err(proxyError(addr, err))
		return
	}
	call.Wait()
	cs.received.Add(1)
	if call.Err != nil {
		c.Err(proxyError(addr, call.Err))
	} else {
		c.Raw(call.Reply)
	}
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
		pc, err := cs.peers.Get(addr, false)
		if err != nil {
			cs.s.log.Debug("publish: peer unreachable", "addr", addr, "error", err)
			continue
		}
		if pc.Send(nil, args) == nil {
			cs.sent.Add(1)
		}
	}
}
