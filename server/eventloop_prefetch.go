package server

// Cross-request warming on the event loops (issue 13). A GET or SET on a
// large key space waits for memory three times in a row (the index slot,
// the record, the key's item: store/prefetch.go), and one request's misses
// cannot overlap the next one's. So when a loop wakes, every ready
// connection reads first (loopConn.Prepare, eventloop.Preparer), then
// Prepared walks the complete requests they buffered (RequestReader.Peek,
// which parses without taking), collects the keys of the single-key
// commands among them (of the first 128 requests) and warms them in
// batches of prefetch-batch-max-size keys (Redis 8's directive, default
// 16; store.Warm: three passes over a batch's keys, one link of each
// chain per pass, so the misses of a pass are in flight together); then
// the loop runs the requests as always. A connection with more requests
// buffered than that (a deep pipeline, or a loop that fell behind: a
// wake-up then holds thousands) warms the rest as it runs them, the next
// prefetch-batch-max-size requests at a time (warmAhead, from
// runBuffered), as Redis warms each batch before running it.
//
// Warming is a hint: it changes nothing in the store, and a key it warmed
// for nothing (a request that ends up parked, a SELECT before it, a
// protocol error) costs only the touch. A wake-up with a single request
// warms nothing, and neither does a store whose data is small enough to
// stay in the processor's caches (below prefetchFromBytes off the Go
// heap): there, the lookups do not miss and the warm would be pure cost.

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/cached/cached/store"
)

// prefetchFromBytes is the store size (store.OffHeapBytes: its slabs,
// record chunks and indexes) from which event loops warm their requests'
// keys: about a large last-level cache; below it the lookups mostly hit
// the caches. A test's knob (tests set 0 to warm whatever the size), read
// when a server starts its loops.
var prefetchFromBytes int64 = 32 << 20

// loopBatch is one event loop's state for warming its wake-ups' requests,
// and its counters.
type loopBatch struct {
	// The loop's goroutine only.
	prepared []*loopConn     // connections that read this wake-up (Prepare)
	keys     []store.WarmKey // the keys to warm
	args     [][]byte        // Peek's
	ran      int             // requests run on the loop this wake-up (runBuffered)

	// Written by the loop, read by INFO.
	wakeups  atomic.Uint64    // wake-ups that ran at least one request
	requests atomic.Uint64    // the requests they ran
	hist     [6]atomic.Uint64 // wake-ups by requests run: 1, 2-3, 4-7, 8-15, 16-31, 32 or more
	walked   atomic.Uint64    // requests the warm looked at (Peek)
	batches  atomic.Uint64    // batches of keys warmed (store.Warm calls)
	warmed   atomic.Uint64    // keys warmed (store.Warm's count)

	_ [64]byte // keep the loops' counters apart
}

// prefetchOn reports whether the loops warm their requests' keys now.
func (s *Server) prefetchOn() bool {
	return s.prefetchMax.Load() > 1 && s.store.OffHeapBytes() >= s.prefetchFrom
}

// Prepare reads once (eventloop.Preparer), if the loop warms keys now;
// Serve(true) then takes what it read instead of reading.
func (h *loopConn) Prepare() {
	if !h.s.prefetchOn() {
		return
	}
	h.prepped, h.prepErr = true, h.c.rd.Fill()
	lb := &h.s.loopBatches[h.loop]
	lb.prepared = append(lb.prepared, h)
}

// Prepared warms the keys of the requests the loop's connections read
// this wake-up (eventloop.Preparing), before any of them runs.
func (h loopHost) Prepared(loop int) {
	lb := &h.s.loopBatches[loop]
	h.s.warmPrepared(lb)
	clear(lb.prepared)
	lb.prepared = lb.prepared[:0]
}

// prefetchWalkMax is the most requests of one wake-up whose keys
// Prepared warms (prefetch-batch-max-size's maximum) before the first
// runs: the lines warmed for 128 keys (three each) stay well within a
// core's second-level cache until their requests run. A connection's
// requests after those are warmed as it runs them (warmAhead).
const prefetchWalkMax = 128

// warmPrepared collects the keys of the complete requests buffered on
// lb's prepared connections, in order, up to prefetchWalkMax requests,
// and warms them in the store in batches of prefetch-batch-max-size keys
// (store.Warm), if there are two or more. Each connection's warmLeft is
// then the number of its requests looked at.
func (s *Server) warmPrepared(lb *loopBatch) {
	if len(lb.prepared) == 1 { // one connection: a single request warms nothing
		c := lb.prepared[0].c
		c.warmLeft = 0
		if n, _ := c.rd.Peek(0, lb.args); n == 0 || n == c.rd.Buffered() {
			return
		}
	}
	reqs := 0
	keys := lb.keys[:0]
	for _, h := range lb.prepared {
		c := h.c
		c.warmLeft = 0
		cl, _ := c.ctx.(*client)
		if cl == nil || h.prepErr != nil {
			continue
		}
		db := int(cl.Selected.Load())
		for pos := 0; reqs < prefetchWalkMax; reqs++ {
			n, args := c.rd.Peek(pos, lb.args)
			if n == 0 {
				break
			}
			pos, lb.args = n, args
			c.warmLeft++
			keys = appendWarmKey(keys, cl, db, args)
		}
	}
	lb.walked.Add(uint64(reqs))
	s.warmKeys(lb, keys)
}

// warmAhead warms, on an event loop, the key of the request args c is
// about to run together with those of the requests buffered after it, up
// to prefetch-batch-max-size requests in all (runBuffered calls it when
// the requests warmed before have run: a connection with more buffered
// than Prepared looked at). It returns how many requests after args it
// looked at, which then run without it.
func (s *Server) warmAhead(cl *client, c *conn, args [][]byte) int {
	lb := c.lb
	size := int(s.prefetchMax.Load())
	db := int(cl.Selected.Load())
	keys := lb.keys[:0]
	walked := 0
	for pos := 0; walked < size-1; walked++ {
		n, next := c.rd.Peek(pos, lb.args)
		if n == 0 {
			break
		}
		pos, lb.args = n, next
		keys = appendWarmKey(keys, cl, db, next)
	}
	if walked == 0 { // args is the last complete request: alone, nothing to overlap
		return 0
	}
	keys = appendWarmKey(keys, cl, db, args)
	lb.walked.Add(uint64(walked + 1))
	s.warmKeys(lb, keys)
	return walked
}

// appendWarmKey appends the key of request args, in database db, if its
// command is one to warm (command.warm).
func appendWarmKey(keys []store.WarmKey, cl *client, db int, args [][]byte) []store.WarmKey {
	if cmd := cl.lookup(args[0]); cmd != nil && cmd.warm && len(args) > 1 {
		keys = append(keys, store.WarmKey{DB: db, Key: args[1]})
	}
	return keys
}

// warmKeys warms keys in batches of prefetch-batch-max-size, if there are
// two or more, counts them in lb, and clears them (they point into the
// connections' buffers).
func (s *Server) warmKeys(lb *loopBatch, keys []store.WarmKey) {
	if len(keys) >= 2 {
		size := max(int(s.prefetchMax.Load()), 2)
		for b := keys; len(b) > 0; b = b[min(size, len(b)):] {
			lb.batches.Add(1)
			lb.warmed.Add(uint64(s.store.Warm(b[:min(size, len(b))])))
		}
	}
	clear(keys)
	lb.keys = keys[:0]
}

// countWakeup adds the requests the loop ran this wake-up to lb's counters.
func (lb *loopBatch) countWakeup() {
	if lb.ran == 0 {
		return
	}
	lb.wakeups.Add(1)
	lb.requests.Add(uint64(lb.ran))
	b := 0
	for n := lb.ran; n > 1 && b < len(lb.hist)-1; n >>= 1 {
		b++
	}
	lb.hist[b].Add(1)
	lb.ran = 0
}

// warmCommand reports whether cmd's key is worth warming before it runs:
// a command of exactly one key, the first argument (GET, SET, INCR,
// HGET, LPUSH…), whose lookup is the chain of misses warming overlaps.
func warmCommand(c *command) bool {
	return c.first == 1 && c.last == 1 && c.flags&flagMovableKeys == 0 && c.subs == nil
}

// infoLoopBatches writes the event loops' wake-up and warming counters
// (INFO stats, cached only): wake-ups that ran requests, the requests
// they ran, the wake-ups by requests run (1, 2-3, 4-7, 8-15, 16-31, 32+),
// the requests the warm looked at, the batches of keys warmed and the
// keys warmed.
func (s *Server) infoLoopBatches(b *strings.Builder) {
	var wakeups, requests, walked, batches, warmed uint64
	var hist [6]uint64
	for i := range s.loopBatches {
		lb := &s.loopBatches[i]
		wakeups += lb.wakeups.Load()
		requests += lb.requests.Load()
		walked += lb.walked.Load()
		batches += lb.batches.Load()
		warmed += lb.warmed.Load()
		for j := range hist {
			hist[j] += lb.hist[j].Load()
		}
	}
	field(b, "loop_wakeups", wakeups)
	field(b, "loop_wakeup_requests", requests)
	field(b, "loop_wakeup_hist", fmt.Sprintf("1=%d,2=%d,4=%d,8=%d,16=%d,32=%d", hist[0], hist[1], hist[2], hist[3], hist[4], hist[5]))
	field(b, "loop_prefetch_requests", walked)
	field(b, "loop_prefetch_batches", batches)
	field(b, "loop_prefetch_keys", warmed)
}
