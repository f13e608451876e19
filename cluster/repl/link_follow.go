package repl

// A running link's slot set changes (FOLLOW, UNFOLLOW; docs/replication.md
// "Changing a link's slots"): the reader goroutine queues the requests, the
// sender applies them between units.

import (
	"fmt"
	"slices"
	"time"
)

// follow is a replica's request to add a slot to its running link at a
// position (FOLLOW), or to drop one (UNFOLLOW, drop set).
type follow struct {
	slot          int
	seq, hist, id uint64
	drop          bool
	until         time.Time // deferred: when to stop waiting for the node to own the slot
}

// followPoll is how often a link looks again at FOLLOWs waiting for the
// node to own their slot.
const followPoll = 2 * time.Millisecond

// queueChange takes FOLLOW slot seq hist id or UNFOLLOW slot from the
// reader goroutine and queues it for the sender.
func (l *link) queueChange(args [][]byte) error {
	s, ok := parseSlot(args[1])
	c := follow{slot: s, drop: len(args) == 2}
	if !c.drop {
		n, ok2 := uints(args[2:])
		ok = ok && ok2
		if ok {
			c.seq, c.hist, c.id = n[0], n[1], n[2]
		}
	}
	if !ok {
		return fmt.Errorf("%w: bad %s", ErrFrame, args[0])
	}
	l.mu.Lock()
	l.changes = append(l.changes, c)
	n := len(l.changes)
	l.mu.Unlock()
	if n > 4*NumSlots {
		return fmt.Errorf("%w: too many FOLLOW and UNFOLLOW requests", ErrFrame)
	}
	l.poke()
	return nil
}

// applyChanges applies the replica's FOLLOW and UNFOLLOW requests in
// order, after the deferred FOLLOWs. A FOLLOW resumes the slot in place
// when the backlog continues the replica's position and no record of the
// slot past it has gone by the cursor (seen): the records after it are
// all still ahead, and those before it the replica holds. Otherwise the
// slot gets a snapshot, except that a position the backlog cannot
// continue yet waits, up to OwnWait, for the node to own the slot (a
// replica that stays in a handed-over slot's row asks from the old
// primary's seal, which this node adopts once it owns the slot). Each
// FOLLOW is answered FOLLOWED slot full id before any frame of the slot;
// it reports whether it answered any.
func (l *link) applyChanges(changes []follow) bool {
	now := l.p.now()
	var resumed, full int
	pending := append(l.deferred, changes...)
	l.deferred = nil
	for _, c := range pending {
		if c.drop {
			l.unfollow(c.slot)
			continue
		}
		if c.until.IsZero() { // a new request
			l.unfollow(c.slot) // a FOLLOW of a followed slot starts it over
			c.until = now.Add(OwnWait)
		}
		l.p.mu.Lock()
		resume := l.p.canResumeLocked(c.slot, c.hist, c.seq) && l.seen[c.slot] <= c.seq
		l.p.mu.Unlock()
		if !resume && c.hist != 0 && now.Before(c.until) && l.notOwned(c.slot) {
			l.deferred = append(l.deferred, c)
			continue
		}
		l.mu.Lock()
		l.slots[c.slot] = true
		l.nslots++
		if resume {
			// Acknowledgements count for the slot from here (an earlier
			// UNFOLLOW of it left notLive): the replica holds every record
			// of it before the cursor, and gets the others in order.
			l.liveSnap[c.slot] = 0
		}
		l.mu.Unlock()
		fullSync := uint64(1)
		if resume {
			l.sent[c.slot] = c.seq
			fullSync = 0
			resumed++
		}
		l.w.buf = appendFrame(l.w.buf, fFollowed, uint64(c.slot), fullSync, c.id)
		if !resume {
			l.markPending(c.slot) // after FOLLOWED: its SNAP comes later
			full++
		}
		l.sealGen = 0 // look at the seals again: the slot may be sealed
		l.mk.stale = true
	}
	l.p.partialSlots.Add(uint64(resumed))
	if resumed+full > 0 {
		l.p.cfg.Logger.Info("replica slots added", "replica", l.replicaID(), "addr", l.conn.RemoteAddr().String(),
			"slots_resumed", resumed, "slots_full", full, "slots_waiting", len(l.deferred))
	}
	return resumed+full > 0
}

// notOwned reports whether the Snapshotter is an Owner that does not own
// slot now.
func (l *link) notOwned(slot int) bool {
	o, ok := l.p.snap.(Owner)
	return ok && !o.Owns(slot)
}

// unfollow stops sending slot s: its records are filtered out from here,
// a snapshot queued for it is not sent, and acknowledgements no longer
// count for it. A FOLLOW of s still deferred is dropped.
func (l *link) unfollow(s int) {
	l.deferred = slices.DeleteFunc(l.deferred, func(c follow) bool { return c.slot == s })
	l.unowned = slices.DeleteFunc(l.unowned, func(w ownWaiter) bool { return w.slot == s })
	if !l.slots[s] {
		return
	}
	l.mu.Lock()
	l.slots[s] = false
	l.nslots--
	l.liveSnap[s] = notLive
	if l.pending[s] {
		l.snapLeft--
	}
	l.mu.Unlock()
	l.pending[s] = false // its queue entry is skipped (snapshotNext)
	l.sent[s] = 0
	delete(l.sealWait, s)
	delete(l.mk.sent, s)
	delete(l.sealSent, s)
}
