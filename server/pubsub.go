package server

// Pub/Sub: the hub of channels, patterns and shard channels, and message
// delivery. The commands are in pubsub_cmd.go.
//
// A client's first subscription detaches it (session.go); from then on
// messages are pushed to its session from the publisher's goroutine, which
// never blocks: a subscriber that does not read is closed by its output
// buffer limit (outbuf.go).
//
// Locking: hub.mu guards the maps and every client's pubsubState (c.ps is
// set under it too, so CLIENT LIST may read it from any goroutine). It may be
// taken with a store shard lock held (keyspace events) and nothing is locked
// under it, except a session's output mutex by push.

import (
	"sync"
	"sync/atomic"

	"github.com/cached/cached/protocol"
)

// pubsubHub holds the server's channels and patterns.
type pubsubHub struct {
	mu       sync.RWMutex
	channels map[string]map[*client]struct{} // channel -> subscribers
	patterns map[string]map[*client]struct{} // pattern -> subscribers
	shard    map[string]map[*client]struct{} // shard channel -> subscribers

	// Sizes of the maps, read without the lock (INFO, metrics, the
	// keyspace notification fast path).
	nChannels atomic.Int64
	nPatterns atomic.Int64
	nShard    atomic.Int64

	limits     atomic.Pointer[OutputBufferLimits] // client-output-buffer-limit (outbuf.go)
	notify     atomic.Uint32                      // notify-keyspace-events flags (notify.go)
	limitDrops atomic.Int64                       // clients closed over their output buffer limit
}

// pubsubState is a client's subscriptions. Guarded by hub.mu.
type pubsubState struct {
	channels map[string]struct{}
	patterns map[string]struct{}
	shard    map[string]struct{}
}

// subKind selects one of the three subscription spaces.
type subKind int

const (
	kindChannel subKind = iota
	kindPattern
	kindShard
)

// configure copies the directives the hub reads on the hot path. Called by
// Server.applyHotConfig.
func (h *pubsubHub) configure(c *Config) {
	lim := c.ClientOutputBufferLimit
	h.limits.Store(&lim)
	flags, _ := parseNotifyFlags(c.NotifyKeyspaceEvents)
	h.notify.Store(uint32(flags))
}

// space returns the hub's map and the client's set for kind. h.mu is held.
func (h *pubsubHub) space(ps *pubsubState, kind subKind) (hub *map[string]map[*client]struct{}, mine *map[string]struct{}, n *atomic.Int64) {
	switch kind {
	case kindPattern:
		return &h.patterns, &ps.patterns, &h.nPatterns
	case kindShard:
		return &h.shard, &ps.shard, &h.nShard
	}
	return &h.channels, &ps.channels, &h.nChannels
}

// subscribe adds c to name in kind's space; false if it already was.
// Called on c's owner goroutine.
func (h *pubsubHub) subscribe(c *client, kind subKind, name []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c.ps == nil {
		c.ps = &pubsubState{}
	}
	hub, mine, n := h.space(c.ps, kind)
	if _, ok := (*mine)[string(name)]; ok {
		return false
	}
	if *mine == nil {
		*mine = make(map[string]struct{})
	}
	(*mine)[string(name)] = struct{}{}
	if *hub == nil {
		*hub = make(map[string]map[*client]struct{})
	}
	subs := (*hub)[string(name)]
	if subs == nil {
		subs = make(map[*client]struct{})
		(*hub)[string(name)] = subs
		n.Add(1)
	}
	subs[c] = struct{}{}
	return true
}

// unsubscribe removes c from name in kind's space; false if it was not there.
func (h *pubsubHub) unsubscribe(c *client, kind subKind, name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.unsubscribeLocked(c, kind, name)
}

func (h *pubsubHub) unsubscribeLocked(c *client, kind subKind, name string) bool {
	if c.ps == nil {
		return false
	}
	hub, mine, n := h.space(c.ps, kind)
	if _, ok := (*mine)[name]; !ok {
		return false
	}
	delete(*mine, name)
	if subs := (*hub)[name]; subs != nil {
		delete(subs, c)
		if len(subs) == 0 {
			delete(*hub, name)
			n.Add(-1)
		}
	}
	return true
}

// names returns c's subscriptions of kind (for UNSUBSCRIBE without
// arguments), in no particular order.
func (h *pubsubHub) names(c *client, kind subKind) []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if c.ps == nil {
		return nil
	}
	_, mine, _ := h.space(c.ps, kind)
	out := make([]string, 0, len(*mine))
	for name := range *mine {
		out = append(out, name)
	}
	return out
}

// counts returns c's channel, pattern and shard channel subscriptions.
func (h *pubsubHub) counts(c *client) (sub, psub, ssub int) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if c.ps == nil {
		return 0, 0, 0
	}
	return len(c.ps.channels), len(c.ps.patterns), len(c.ps.shard)
}

// leaveAll removes every subscription of c, without replies (RESET, and a
// session's end). Called on c's owner goroutine, or once it has stopped.
func (c *client) leaveAll() {
	h := &c.s.pubsub
	h.mu.Lock()
	if c.ps != nil {
		for _, kind := range []subKind{kindChannel, kindPattern, kindShard} {
			_, mine, _ := h.space(c.ps, kind)
			for name := range *mine {
				h.unsubscribeLocked(c, kind, name)
			}
		}
	}
	h.mu.Unlock()
	if c.sess != nil {
		c.sess.subscribed.Store(false)
	}
}

// subCounts reports the client's channel, pattern and shard-channel
// subscriptions for CLIENT LIST (safe from any goroutine).
func (c *client) subCounts() (sub, psub, ssub int) { return c.s.pubsub.counts(c) }

// subscribed reports whether c has any subscription (owner goroutine).
func (c *client) subscribed() bool {
	if c.ps == nil {
		return false
	}
	sub, psub, ssub := c.subCounts()
	return sub+psub+ssub > 0
}

// publishLocal delivers msg on channel to this node's subscribers (channel
// and pattern) and returns how many received it. Safe from any goroutine,
// never blocks (slow subscribers are cut off by their output buffer limit).
func (s *Server) publishLocal(channel, msg []byte) int64 {
	h := &s.pubsub
	if h.nChannels.Load() == 0 && h.nPatterns.Load() == 0 {
		return 0
	}
	var f frames
	n := int64(0)
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.channels[string(channel)] {
		c.sess.push(f.message(c, "message", nil, channel, msg))
		n++
	}
	for pat, subs := range h.patterns {
		if !protocol.Match([]byte(pat), channel, false) {
			continue
		}
		f.p2, f.p3 = nil, nil // one pmessage per pattern
		for c := range subs {
			c.sess.push(f.message(c, "pmessage", []byte(pat), channel, msg))
			n++
		}
	}
	return n
}

// publishShard delivers msg to the subscribers of shard channel channel
// (SPUBLISH) on this node and returns how many received it.
func (s *Server) publishShard(channel, msg []byte) int64 {
	h := &s.pubsub
	if h.nShard.Load() == 0 {
		return 0
	}
	var f frames
	n := int64(0)
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.shard[string(channel)] {
		c.sess.push(f.message(c, "smessage", nil, channel, msg))
		n++
	}
	return n
}

// frames builds a message frame once per protocol version.
type frames struct {
	m2, m3 []byte // message / smessage
	p2, p3 []byte // pmessage of the current pattern
}

// message returns the frame for c: a RESP2 array or a RESP3 push of kind,
// [pattern,] channel, msg.
func (f *frames) message(c *client, kind string, pattern, channel, msg []byte) []byte {
	resp3 := c.RESP3.Load()
	slot := &f.m2
	switch {
	case pattern != nil && resp3:
		slot = &f.p3
	case pattern != nil:
		slot = &f.p2
	case resp3:
		slot = &f.m3
	}
	if *slot == nil {
		b := make([]byte, 0, 64+len(pattern)+len(channel)+len(msg))
		*slot = appendMessage(b, resp3, kind, pattern, channel, msg)
	}
	return *slot
}

// appendMessage encodes a pub/sub message.
func appendMessage(b []byte, resp3 bool, kind string, pattern, channel, msg []byte) []byte {
	n := 3
	if pattern != nil {
		n = 4
	}
	if resp3 {
		b = protocol.AppendPush(b, n)
	} else {
		b = protocol.AppendArray(b, n)
	}
	b = protocol.AppendBulkString(b, kind)
	if pattern != nil {
		b = protocol.AppendBulk(b, pattern)
	}
	b = protocol.AppendBulk(b, channel)
	return protocol.AppendBulk(b, msg)
}
