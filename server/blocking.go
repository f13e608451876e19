package server

import "time"

// blockRegistry tracks the clients blocked on keys.
type blockRegistry struct{}

// blockState is what a blocked client waits for.
type blockState struct{}

// blockFor tells dispatch that the running blocking command found nothing
// to serve and must wait until one of keys (in the client's database) may
// serve it, or until timeout passes (0: forever). The handler writes no reply
// then. When a key is signalled (signalReady), the command's handler runs
// again with the same arguments; on timeout, timeoutReply writes the reply.
// Inside MULTI/EXEC, and for a client that cannot block, timeoutReply runs
// at once, as Redis does.
func (c *client) blockFor(keys [][]byte, timeout time.Duration, timeoutReply func(c *client)) {
	timeoutReply(c)
}

// signalReady tells clients blocked on key in db that it may serve them now
// (after a push, an add, a rename or a copy onto key). Safe to call with a
// store lock held: it does not block.
func (s *Server) signalReady(db int, key []byte) {}

// park takes over a client whose command called blockFor: it waits off the
// command's goroutine and re-runs the command when signalled.
func (s *Server) park(c *client, cmd *command, args [][]byte) {}

// signalDB wakes the clients blocked on any key of db so that they re-check
// their keys (SWAPDB changed every key of db at once).
func (s *Server) signalDB(db int) {}
