package server

// Pub/Sub's connection side: a client as a subscriber of the hub
// (server/pubsub), its subscribed state and publishing from this node. The
// commands are in pubsub_cmd.go.
//
// A client's first subscription detaches it (session.go); from then on
// messages are pushed to its session from the publisher's goroutine, which
// never blocks: a subscriber that does not read is closed by its output
// buffer limit (outbuf.go).

import "github.com/cached/cached/server/pubsub"

// Deliver pushes a published message's frame to the client's session
// (pubsub.Subscriber).
func (c *client) Deliver(frame []byte) { c.sess.push(frame) }

// WantsRESP3 reports whether the client speaks RESP3 (pubsub.Subscriber).
func (c *client) WantsRESP3() bool { return c.RESP3.Load() }

// member returns the client's registration with the hub, joining it first
// if needed (owner goroutine).
func (c *client) member() *pubsub.Member {
	m := c.ps.Load()
	if m == nil {
		m = c.s.pubsub.Join(c)
		c.ps.Store(m)
	}
	return m
}

// leaveAll removes every subscription of c, without replies (RESET, and a
// session's end). Called on c's owner goroutine, or once it has stopped.
func (c *client) leaveAll() {
	if m := c.ps.Load(); m != nil {
		c.s.pubsub.LeaveAll(m)
	}
	if c.sess != nil {
		c.sess.subscribed.Store(false)
	}
}

// subCounts reports the client's channel, pattern and shard-channel
// subscriptions for CLIENT LIST (safe from any goroutine).
func (c *client) subCounts() (sub, psub, ssub int) { return c.s.pubsub.Counts(c.ps.Load()) }

// subscribed reports whether c has any subscription (owner goroutine).
func (c *client) subscribed() bool {
	if c.ps.Load() == nil {
		return false
	}
	sub, psub, ssub := c.subCounts()
	return sub+psub+ssub > 0
}

// publishLocal delivers msg on channel to this node's subscribers (channel
// and pattern) and returns how many received it. Safe from any goroutine,
// never blocks.
func (s *Server) publishLocal(channel, msg []byte) int64 { return s.pubsub.Publish(channel, msg) }
