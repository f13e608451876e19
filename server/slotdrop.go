package server

import (
	"runtime"
	"sync"
	"time"

	"github.com/cached/cached/cluster/repl"
	"github.com/cached/cached/store"
)

// Dropping the keys of slots this node no longer holds (slotDropper).
//
// A table that takes slots from this node leaves their keys behind: the
// slots it owned (cluster.Node.OnSlotsLost, dropLostSlots) and the replica
// copies it no longer follows (replState.applyLocked). A drop costs about a
// microsecond of CPU per key, and a join's flips make every old node drop
// tens of thousands of keys in the same few table steps (docs/cluster.md,
// "Pace and visibility"). So the drops run in the background, one slot at
// a time, paced with the process's snapshot work (repl.Pacer, the share of
// repl-snapshot-pace; unpaced while the node serves no client), instead of
// on the cluster's subscriber goroutine.
//
// Nothing serves a slot while its drop is pending: routing answers MOVED
// for it, and its replica mark is off, so the replication applier ignores
// it. A table that gives such a slot back to this node (as primary, replica
// or incoming member) drops what is left of it first, on the subscriber
// goroutine, before anything serves or loads it (claimView). Until then its
// keys still count in DBSIZE, KEYS, SCAN and used_memory, and may be
// evicted or expire like any key of the node (their effects are not
// streamed: the slot is not owned).

// slotDropper drops slots queued by drop on a goroutine of its own, which
// runs while the queue is not empty; close stops it. st and dropped must
// be set before use (clusterState.initDrops); the rest of the zero value
// is ready. Safe for concurrent use.
type slotDropper struct {
	st      *store.Store
	pacer   func() *repl.Pacer // nil result: no pacing, a yield after each slot
	dropped func(keys int)     // counts the keys dropped (lost-slot counter)
	logf    func(slots, keys int, took time.Duration)

	mu      sync.Mutex
	changed *sync.Cond // on mu, made by waitLocked: cur changed, or the goroutine ended
	pending [store.Slots]bool
	npend   int
	queue   []int // slots in the order queued; entries no longer pending are skipped
	cur     int   // slot being dropped now, -1 none (set when running)
	running bool
	closed  bool
	// Totals of the current run, for its log line.
	runSlots, runKeys int
	runStart          time.Time
}

// drop queues slots for dropping and starts the goroutine if it is not
// running. A slot already pending stays queued once.
func (d *slotDropper) drop(slots []int) {
	if len(slots) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	for _, s := range slots {
		if !d.pending[s] {
			d.pending[s] = true
			d.npend++
			d.queue = append(d.queue, s)
		}
	}
	if !d.running && d.npend > 0 {
		d.running, d.cur = true, -1
		d.runSlots, d.runKeys, d.runStart = 0, 0, time.Now()
		go d.run()
	}
}

// pendingSlots returns how many slots wait for their drop.
func (d *slotDropper) pendingSlots() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.npend
}

// claim makes sure slot holds no key left from before: if its drop is
// pending or under way, it is done here (after the one under way ends)
// and the slot leaves the queue. Called before the slot is served or
// loaded again.
func (d *slotDropper) claim(slot int) {
	d.mu.Lock()
	for d.running && d.cur == slot {
		d.waitLocked()
	}
	was := d.pending[slot]
	if was {
		d.pending[slot] = false
		d.npend--
	}
	d.mu.Unlock()
	if was {
		d.dropped(d.st.FlushSlot(slot))
	}
}

// claimView claims every pending slot that v gives this node, as primary
// or as a holder of a copy.
func (d *slotDropper) claimView(v *clusterView) {
	if v == nil || v.self < 0 {
		return
	}
	d.mu.Lock()
	var back []int
	if d.running && d.cur >= 0 && v.t.Holds(d.cur, v.self) {
		back = append(back, d.cur)
	}
	if d.npend > 0 {
		for _, s := range d.queue {
			if d.pending[s] && v.t.Holds(s, v.self) {
				back = append(back, s)
			}
		}
	}
	d.mu.Unlock()
	for _, s := range back {
		d.claim(s)
	}
}

// close stops the goroutine after the slot under way; the slots still
// queued are not dropped.
func (d *slotDropper) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	for d.running {
		d.waitLocked()
	}
}

// waitLocked waits until the goroutine changes cur or ends. d.mu must be
// held.
func (d *slotDropper) waitLocked() {
	if d.changed == nil {
		d.changed = sync.NewCond(&d.mu)
	}
	d.changed.Wait()
}

// broadcastLocked wakes waitLocked's callers. d.mu must be held.
func (d *slotDropper) broadcastLocked() {
	if d.changed != nil {
		d.changed.Broadcast()
	}
}

// run drops the queued slots one by one until none is left.
func (d *slotDropper) run() {
	var p *repl.Pacer
	if d.pacer != nil {
		p = d.pacer()
	}
	for {
		d.mu.Lock() // cur is -1 here: set so by drop, then after each slot
		s := -1
		for len(d.queue) > 0 && s < 0 && !d.closed {
			if d.pending[d.queue[0]] {
				s = d.queue[0]
			}
			d.queue = d.queue[1:]
		}
		if s < 0 {
			if d.closed { // what is left is not dropped
				d.pending, d.npend = [store.Slots]bool{}, 0
			}
			d.queue = nil
			d.running = false
			d.broadcastLocked()
			slots, keys, took := d.runSlots, d.runKeys, time.Since(d.runStart)
			d.mu.Unlock()
			if d.logf != nil && slots > 0 {
				d.logf(slots, keys, took)
			}
			return
		}
		d.pending[s] = false
		d.npend--
		d.cur = s
		d.mu.Unlock()

		start := p.Start()
		n := d.st.FlushSlot(s) // under the slot's shard lock, released here
		d.dropped(n)
		d.mu.Lock()
		d.runSlots++
		d.runKeys += n
		d.cur = -1
		d.broadcastLocked()
		d.mu.Unlock()
		if n == 0 {
			continue
		}
		if p != nil {
			p.Done(start) // rests here when the pace says so
		} else {
			runtime.Gosched() // requests run between slots
		}
	}
}
