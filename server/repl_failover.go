package server

// Failover on the replica side: when an applied table makes this node
// primary for slots it followed as a replica (its primary died, or the
// slot was handed over), the Replicas carrying them are closed so that
// their positions are final, and each such slot continues its old
// primary's stream: repl.Primary.Adopt with the position and the store's
// sequence set to it, before routing serves the slot. Sibling replicas
// that stood at the same position continue from this node's backlog
// without a snapshot (their new Replica presents the position through
// ReplicaConfig.Resume); the others get snapshots.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/cached/cached/cluster"
	"github.com/cached/cached/store"
)

// slotPosition is where a closed Replica's copy of a slot stood.
type slotPosition struct {
	hist, seq uint64
	primary   string // the primary it followed
}

// takeover is what promote did for the slots of one old primary.
type takeover struct {
	slots          []int
	live           int
	minSeq, maxSeq uint64
}

// promote takes over the slots owned now, not before, that this node
// followed as a replica. Every Replica that carries such a slot or whose
// primary moved to another address is closed first (its positions are
// kept in rs.pos for the Replicas that follow); one whose primary this node
// no longer follows is left to setReplicas, which may keep it for a while
// (resumeOrHoldLocked). rs.cfgMu must be held.
func (rs *replState) promote(owned, prev *[store.Slots]bool, follow map[string][]int, members map[string]cluster.Member) {
	var promoted []int
	for s := range store.Slots {
		if owned[s] && !prev[s] && rs.s.store.ReplicaSlot(s) {
			promoted = append(promoted, s)
		}
	}
	rs.mu.Lock()
	for id, l := range rs.replicas {
		_, followed := follow[id]
		if (!followed || members[id].Addr() == l.addr) && !slices.ContainsFunc(l.slots, func(s int) bool { return owned[s] && !prev[s] }) {
			continue
		}
		rs.closeLinkLocked(l)
	}
	rs.publishFollowsLocked()
	rs.mu.Unlock()
	if len(promoted) == 0 {
		return
	}
	done := map[string]*takeover{}
	flushed := 0
	for _, s := range promoted {
		p, ok := rs.pos[s]
		rs.s.store.SetReplicaSlot(s, false) // no Replica applies it any more; expiry runs here now
		if !ok {
			// Not in sync (a snapshot was under way, or never started).
			// (Its pending background drop, if any, was claimed before
			// the view was applied: slotDropper.claimView.)
			flushed += rs.adoptEmpty(s)
			p = slotPosition{primary: "unknown"}
		} else {
			rs.p.Adopt(s, p.hist, p.seq)
			rs.s.store.ContinueSlot(s, p.seq)
		}
		tk := done[p.primary]
		if tk == nil {
			tk = &takeover{minSeq: p.seq, maxSeq: p.seq}
			done[p.primary] = tk
		}
		tk.slots = append(tk.slots, s)
		if ok {
			tk.live++
			tk.minSeq, tk.maxSeq = min(tk.minSeq, p.seq), max(tk.maxSeq, p.seq)
		}
		delete(rs.pos, s)
	}
	for from, tk := range done {
		rs.log.Warn("took over slots as primary", "from", from, "slots", len(tk.slots), "in_sync", tk.live,
			"ranges", slotRangesText(tk.slots), "min_seq", tk.minSeq, "max_seq", tk.maxSeq)
		rs.takeovers.Add(uint64(len(tk.slots)))
	}
	if flushed > 0 {
		rs.log.Warn("dropped the keys of slots taken over out of sync", "keys", flushed)
	}
}

// adoptEmpty makes slot, taken over with no position, a new history that
// starts empty, and returns the keys dropped: what the store holds of a
// slot not in sync is no copy of its stream, but part of a snapshot or a
// leftover of an earlier role (in a TestBinaryClusterSoak run with 2
// replicas, one holding the preload values, served as hits after writes
// WAIT had acknowledged). A miss, never a stale hit. rs.cfgMu must be
// held.
func (rs *replState) adoptEmpty(slot int) int {
	n := rs.s.store.FlushSlot(slot)
	rs.p.Adopt(slot, 0, rs.s.store.SlotSeq(slot))
	return n
}

// Where a copy that a replicaLink carries stands (copyAt).
const (
	copyNone      = iota // neither live nor presented at a seal
	copyLive             // live: at its position
	copyPresented        // presented at its previous primary's seal: at that position
)

// copyAt returns where l's copy of slot stands: at its live position, or
// at the one it presented at its previous primary's seal with no answer
// yet (Replica.Presented: the primary froze or died first, and the copy
// still stands there); how says which.
func (l *replicaLink) copyAt(slot int) (hist, seq uint64, how int) {
	if hist, seq, live := l.r.Position(slot); live {
		return hist, seq, copyLive
	}
	if hist, seq, ok := l.r.Presented(slot); ok {
		return hist, seq, copyPresented
	}
	return 0, 0, copyNone
}

// closeLinkLocked closes Replica l and keeps the positions of its live
// slots, and of those it presented at their previous primary's seal
// without an answer yet. rs.mu and rs.cfgMu must be held; the caller publishes the links
// (publishFollowsLocked) before it unlocks.
func (rs *replState) closeLinkLocked(l *replicaLink) {
	_ = l.r.Close()
	for _, s := range l.slots {
		if hist, seq, how := l.copyAt(s); how != copyNone {
			rs.pos[s] = slotPosition{hist: hist, seq: seq, primary: l.primaryID}
		}
	}
	delete(rs.replicas, l.primaryID)
	rs.log.Info("replica stopped", "primary", l.primaryID)
}

// resume is ReplicaConfig.Resume: the position a closed Replica left for
// slot. Called by NewReplica with rs.cfgMu held.
func (rs *replState) resume(slot int) (hist, seq uint64, ok bool) {
	p, ok := rs.pos[slot]
	return p.hist, p.seq, ok
}

// slotRangesText renders ascending slots as "a-b,c,d-e" (at most 20
// ranges, then "…").
func slotRangesText(slots []int) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(slots); {
		j := i
		for j+1 < len(slots) && slots[j+1] == slots[j]+1 {
			j++
		}
		if n == 20 {
			b.WriteString(",…")
			break
		}
		if n > 0 {
			b.WriteByte(',')
		}
		if i == j {
			fmt.Fprintf(&b, "%d", slots[i])
		} else {
			fmt.Fprintf(&b, "%d-%d", slots[i], slots[j])
		}
		n++
		i = j + 1
	}
	return b.String()
}
