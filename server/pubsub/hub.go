// Package pubsub owns Redis Pub/Sub's registry: which subscriber listens on
// which channel, pattern and shard channel, and the delivery of a published
// message to them. The commands (SUBSCRIBE, PUBLISH, PUBSUB …), the RESP2
// subscribed context and cluster-wide PUBLISH are the server's; a
// subscriber is anything that takes a pushed frame without blocking (a
// client session).
//
// Locking: the hub's lock guards its maps and every Member's subscriptions.
// It may be taken with a store shard lock held (keyspace events publish
// from inside a commit); nothing is locked under it except what a
// Subscriber's Deliver takes.
package pubsub

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/cached/cached/protocol"
)

// Kind selects one of the three subscription spaces.
type Kind int

// The subscription spaces.
const (
	Channel Kind = iota // SUBSCRIBE / PUBLISH
	Pattern             // PSUBSCRIBE: a glob over Channel's names
	Shard               // SSUBSCRIBE / SPUBLISH
	numKinds
)

// Subscriber receives the messages of its subscriptions. Deliver is called
// from the publisher's goroutine with the hub's read lock held and must not
// block: a subscriber that does not read is cut off by its own output
// limit. WantsRESP3 picks the frame's encoding (a RESP3 push or a RESP2
// array); it may change between calls.
type Subscriber interface {
	Deliver(frame []byte)
	WantsRESP3() bool
}

// Member is one subscriber's registration: its subscriptions in the three
// spaces. It is created by Hub.Join and guarded by that hub's lock.
type Member struct {
	sub   Subscriber
	names [numKinds]map[string]struct{}
}

// Hub holds a node's channels, patterns and shard channels.
type Hub struct {
	mu     sync.RWMutex
	spaces [numKinds]map[string]map[*Member]struct{} // name -> subscribers
	// sizes[k] is len(spaces[k]), read without the lock (INFO, metrics,
	// the keyspace notification fast path).
	sizes [numKinds]atomic.Int64
}

// Join registers s with no subscriptions yet. A subscriber joins once and
// keeps its Member until it leaves (LeaveAll leaves it reusable).
func (h *Hub) Join(s Subscriber) *Member { return &Member{sub: s} }

// Subscribe adds m to name in kind's space; false if it already was there.
func (h *Hub) Subscribe(m *Member, kind Kind, name []byte) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	mine := &m.names[kind]
	if _, ok := (*mine)[string(name)]; ok {
		return false
	}
	if *mine == nil {
		*mine = make(map[string]struct{})
	}
	(*mine)[string(name)] = struct{}{}
	space := &h.spaces[kind]
	if *space == nil {
		*space = make(map[string]map[*Member]struct{})
	}
	subs := (*space)[string(name)]
	if subs == nil {
		subs = make(map[*Member]struct{})
		(*space)[string(name)] = subs
		h.sizes[kind].Add(1)
	}
	subs[m] = struct{}{}
	return true
}

// Unsubscribe removes m from name in kind's space; false if it was not
// there.
func (h *Hub) Unsubscribe(m *Member, kind Kind, name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.unsubscribeLocked(m, kind, name)
}

func (h *Hub) unsubscribeLocked(m *Member, kind Kind, name string) bool {
	if _, ok := m.names[kind][name]; !ok {
		return false
	}
	delete(m.names[kind], name)
	if subs := h.spaces[kind][name]; subs != nil {
		delete(subs, m)
		if len(subs) == 0 {
			delete(h.spaces[kind], name)
			h.sizes[kind].Add(-1)
		}
	}
	return true
}

// LeaveAll removes every subscription of m (RESET, a session's end).
func (h *Hub) LeaveAll(m *Member) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for kind := range numKinds {
		for name := range m.names[kind] {
			h.unsubscribeLocked(m, kind, name)
		}
	}
}

// Names returns m's subscriptions of kind, sorted (UNSUBSCRIBE without
// arguments leaves them in this order).
func (h *Hub) Names(m *Member, kind Kind) []string {
	h.mu.RLock()
	out := make([]string, 0, len(m.names[kind]))
	for name := range m.names[kind] {
		out = append(out, name)
	}
	h.mu.RUnlock()
	sort.Strings(out)
	return out
}

// Counts returns m's channel, pattern and shard channel subscriptions; a
// nil m has none. Safe from any goroutine (CLIENT LIST).
func (h *Hub) Counts(m *Member) (sub, psub, ssub int) {
	if m == nil {
		return 0, 0, 0
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(m.names[Channel]), len(m.names[Pattern]), len(m.names[Shard])
}

// Size returns how many names of kind have subscribers (PUBSUB NUMPAT,
// INFO's pubsub_channels …), without the lock.
func (h *Hub) Size(kind Kind) int64 { return h.sizes[kind].Load() }

// Active lists the names of kind's space (Channel or Shard) that have
// subscribers and match pattern (nil: all), sorted.
func (h *Hub) Active(kind Kind, pattern []byte) []string {
	h.mu.RLock()
	out := make([]string, 0, len(h.spaces[kind]))
	for name := range h.spaces[kind] {
		if pattern == nil || protocol.Match(pattern, []byte(name), false) {
			out = append(out, name)
		}
	}
	h.mu.RUnlock()
	sort.Strings(out)
	return out
}

// NumSub returns the subscriber count of each name in kind's space.
func (h *Hub) NumSub(kind Kind, names [][]byte) []int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]int, len(names))
	for i, n := range names {
		out[i] = len(h.spaces[kind][string(n)])
	}
	return out
}

// Publish delivers msg on channel to the channel's subscribers and to
// those of every matching pattern, and returns how many deliveries it made
// (a subscriber of the channel and of a matching pattern counts twice, as
// in Redis). Safe from any goroutine; it never blocks on a subscriber.
func (h *Hub) Publish(channel, msg []byte) int64 {
	if h.sizes[Channel].Load() == 0 && h.sizes[Pattern].Load() == 0 {
		return 0
	}
	var f frames
	n := int64(0)
	h.mu.RLock()
	defer h.mu.RUnlock()
	for m := range h.spaces[Channel][string(channel)] {
		m.sub.Deliver(f.message(m.sub, "message", nil, channel, msg))
		n++
	}
	for pat, subs := range h.spaces[Pattern] {
		if !protocol.Match([]byte(pat), channel, false) {
			continue
		}
		f.p2, f.p3 = nil, nil // one pmessage frame per pattern
		for m := range subs {
			m.sub.Deliver(f.message(m.sub, "pmessage", []byte(pat), channel, msg))
			n++
		}
	}
	return n
}

// PublishShard delivers msg to the subscribers of shard channel channel
// (SPUBLISH) and returns how many received it.
func (h *Hub) PublishShard(channel, msg []byte) int64 {
	if h.sizes[Shard].Load() == 0 {
		return 0
	}
	var f frames
	n := int64(0)
	h.mu.RLock()
	defer h.mu.RUnlock()
	for m := range h.spaces[Shard][string(channel)] {
		m.sub.Deliver(f.message(m.sub, "smessage", nil, channel, msg))
		n++
	}
	return n
}

// frames builds a message's frame once per protocol version.
type frames struct {
	m2, m3 []byte // message / smessage
	p2, p3 []byte // pmessage of the current pattern
}

// message returns the frame for s: a RESP2 array or a RESP3 push of kind,
// [pattern,] channel, msg.
func (f *frames) message(s Subscriber, kind string, pattern, channel, msg []byte) []byte {
	resp3 := s.WantsRESP3()
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
		*slot = AppendMessage(b, resp3, kind, pattern, channel, msg)
	}
	return *slot
}

// AppendMessage appends a Pub/Sub message frame to b: a RESP3 push or a
// RESP2 array of kind ("message", "pmessage", "smessage"), the pattern if
// not nil, the channel and the message.
func AppendMessage(b []byte, resp3 bool, kind string, pattern, channel, msg []byte) []byte {
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
