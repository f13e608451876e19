package server

import (
	"errors"

	"github.com/cached/cached/server/peer"
)

// errNoLoops: the node runs no event loops (io-event-loop no, or not
// Linux), so a goroutine reads each peer connection's replies.
var errNoLoops = errors.New("server: no event loops")

// watchPeer has an event loop read a proxy's peer connection (the
// peer.Options.Watch of the node's pool): its replies finish the
// forwarded calls on the loop, and a suspended client connection of that
// loop is served again in the same wake-up, without a read goroutine's
// wake-up and an eventfd write in between (docs/cluster-mode.md, "Peer
// replies read on the event loops").
func (s *Server) watchPeer(fd int, w peer.Watcher) error {
	if s.loops == nil {
		return errNoLoops
	}
	return s.loops.Watch(fd, w)
}
